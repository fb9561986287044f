#!/bin/sh
# scripts/bench-api.sh [BUILD_DIR] - the whole gateway under load (make
# bench).
#
# Runs BUILD_DIR/tests/bench/bench_api (default build/release), which
# starts BUILD_DIR/modemsim (send latency 0) and BUILD_DIR/gatewayd in a
# temporary folder, POSTs messages to 127.0.0.1 from concurrent clients
# and prints "api: key=value" lines: accepted per second, POST latency
# percentiles, time until the last message is sent, end-to-end rate,
# gatewayd's peak RSS.  Knobs (environment):
#   BENCH_MESSAGES    messages to post (default 2000, at most 100000)
#   BENCH_CLIENTS     concurrent clients (default 8, at most 64)
#   BENCH_TIME_LIMIT  seconds before the run gives up (default 300)
#   BENCH_REPORT_DELAY_MS  modemsim's status report delay (its default is
#                     1000; 3600000 keeps reports out of the run)
#   BENCH_KEEP=1      keep the temporary folder (database and logs)
set -eu
O=${1:-build/release}
BIN=$O/tests/bench/bench_api

for f in "$BIN" "$O/gatewayd" "$O/modemsim"; do
	if [ ! -x "$f" ]; then
		echo "bench-api: $f is missing (make bench builds it)" >&2
		exit 1
	fi
done

exec "$BIN" "$O"
