#!/bin/sh
# Run every unit and end-to-end test binary under build dir $1 and end
# with one summary line.  Any failing binary (a failed assertion, a
# sanitizer report, a crash) makes the whole run fail.
set -u
O=${1:-build/asan}

# Sanitizer reports must fail the run, and the daemons started by the
# end-to-end tests inherit these settings.
export ASAN_OPTIONS="abort_on_error=0:detect_leaks=1:exitcode=86:strict_string_checks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87"
export SMSGW_BUILD="$O"

passed=0
failed=0
failures=""

for t in "$O"/tests/unit/test_* "$O"/tests/e2e/test_*; do
	case "$t" in *.o|*.d) continue ;; esac
	[ -x "$t" ] || continue
	echo "=== $t"
	if "$t"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures="$failures $t"
	fi
done

if [ -x scripts/fuzz.sh ] || [ -f scripts/fuzz.sh ]; then
	echo "=== fuzz (corpus replay)"
	if sh scripts/fuzz.sh 0; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures="$failures fuzz"
	fi
fi

[ -n "$failures" ] && echo "failed:$failures"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
