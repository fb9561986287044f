#!/bin/sh
# scripts/fuzz.sh SECONDS - build and run the PDU decoder fuzz target.
#
#   SECONDS = 0   replay the committed corpus once (what `make test` runs):
#                 takes seconds, exits non-zero on any finding.
#   SECONDS > 0   fuzz for that long; new inputs go to build/fuzz/corpus,
#                 never into the committed corpus; crashes to build/fuzz/.
set -eu
cd "$(dirname "$0")/.."

secs=${1:-60}
out=build/fuzz
corpus=tests/fuzz/corpus/pdu
mkdir -p "$out"

srcs="tests/fuzz/fuzz_pdu.c drivers/pdu.c"
[ -f drivers/gsm7.c ] && srcs="$srcs drivers/gsm7.c"
# Link to a private name, then rename: a replay from `make test` must not
# overwrite the binary of a long run going on at the same time.
# shellcheck disable=SC2086
clang -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -std=c11 -D_GNU_SOURCE -Iinclude \
	$srcs -o "$out/fuzz_pdu.$$"
mv -f "$out/fuzz_pdu.$$" "$out/fuzz_pdu"

if [ "$secs" -eq 0 ]; then
	exec "$out/fuzz_pdu" -runs=0 "$corpus"
fi

mkdir -p "$out/corpus"
exec "$out/fuzz_pdu" -max_total_time="$secs" -print_final_stats=1 \
	-artifact_prefix="$out/" "$out/corpus" "$corpus"
