#!/bin/sh
# scripts/bench-pdu.sh [BUILD_DIR] - PDU codec throughput (make bench).
#
# Runs BUILD_DIR/tests/bench/bench_pdu (default build/release): one line
# "pdu: case=... ops=N seconds=S per_sec=R" per case, each case a fixed
# number of iterations.
#
# Wall-clock figures on a small shared machine move by tens of percent
# from run to run.  BENCH_CALLGRIND=1 also counts the instructions of each
# case's timed loop with valgrind's callgrind, which does not depend on
# the load of the machine:
#   "pdu-callgrind: case=... ops=N instructions=I per_op=P"
# BENCH_CALLGRIND_OPS (default 2000) is the iteration count under
# callgrind (about 50 times slower than native); BENCH_CALLGRIND_KEEP=DIR
# keeps the callgrind.out.* files there, for callgrind_annotate.
# BENCH_PDU_ITERATIONS overrides every case's native iteration count.
set -eu
BIN=${1:-build/release}/tests/bench/bench_pdu

if [ ! -x "$BIN" ]; then
	echo "bench-pdu: $BIN is missing (make bench builds it)" >&2
	exit 1
fi

if [ -n "${BENCH_PDU_ITERATIONS:-}" ]; then
	"$BIN" -n "$BENCH_PDU_ITERATIONS"
else
	"$BIN"
fi

[ "${BENCH_CALLGRIND:-0}" = 1 ] || exit 0

if ! command -v valgrind >/dev/null 2>&1; then
	echo "bench-pdu: BENCH_CALLGRIND=1 needs valgrind" \
	    "(apt-get install valgrind)" >&2
	exit 1
fi

ops=${BENCH_CALLGRIND_OPS:-2000}
out=${BENCH_CALLGRIND_KEEP:-}
tmp=$(mktemp -d /tmp/smsgw-bench-pdu-XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
[ -n "$out" ] && mkdir -p "$out"

# One valgrind run per case, counting only inside bench_pdu_timed(), so
# the set-up and the round-trip check before the loop are left out.
for c in $("$BIN" -l); do
	f="$tmp/callgrind.out.$c"
	valgrind --tool=callgrind --collect-atstart=no \
	    --toggle-collect=bench_pdu_timed --callgrind-out-file="$f" \
	    "$BIN" -c "$c" -n "$ops" >/dev/null 2>"$tmp/valgrind.log" || {
		cat "$tmp/valgrind.log" >&2
		echo "bench-pdu: callgrind run of $c failed" >&2
		exit 1
	}
	ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$f")
	[ -n "$ir" ] || ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$f")
	echo "pdu-callgrind: case=$c ops=$ops instructions=$ir" \
	    "per_op=$((ir / ops))"
	[ -n "$out" ] && cp "$f" "$out/"
done
exit 0
