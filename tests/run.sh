#!/usr/bin/env bash
# Runs every test binary given as arguments, then the shell-level tests (tests/cli/*.sh for the
# command line, tests/integration/*.sh for the running server),
# and prints the grand total as the last line: "N passed, N failed". --no-scripts (first
# argument) runs only the binaries.
set -u
cd "$(dirname "$0")/.."
export SY_SHARED="${SY_SHARED:-$(cd .. && pwd)/shared}"
export BUILD="${BUILD:-build}"
total_pass=0
total_fail=0
scripts=1
if [ "${1:-}" = "--no-scripts" ]; then
	scripts=0
	shift
fi
for t in "$@"; do
	echo "== $t"
	args=()
	case $t in
	*/fuzz/fuzz_*) # a fuzz target's replay build: its seeds and crash regressions
		name=${t##*/fuzz_}
		args=("fuzz/corpus/$name" "fuzz/regressions/$name")
		;;
	esac
	out=$(timeout 900 "$t" "${args[@]}" 2>&1)
	rc=$?
	echo "$out" | grep -vE '^[0-9]+ passed, [0-9]+ failed$' | sed 's/^/   /' | tail -40
	line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
	if [ -z "$line" ]; then
		echo "   (no summary line; exit $rc): counted as 1 failure"
		total_fail=$((total_fail + 1))
		continue
	fi
	echo "   $line"
	p=${line%% passed*}
	f=${line#*, }
	f=${f%% failed*}
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "   exit status $rc with no failed test: counted as 1 failure"
		total_fail=$((total_fail + 1))
	fi
done
for s in tests/cli/*.sh tests/integration/*.sh; do
	[ "$scripts" = 1 ] && [ -e "$s" ] || continue
	echo "== $s"
	if timeout 600 bash "$s" >"/tmp/sy-cli-test.$$" 2>&1; then
		total_pass=$((total_pass + 1))
		echo "   ok"
	else
		total_fail=$((total_fail + 1))
		sed 's/^/   /' "/tmp/sy-cli-test.$$" | tail -30
		echo "   not ok"
	fi
	rm -f "/tmp/sy-cli-test.$$"
done
# No process the suites started may outlive them: a switchyard or nats-server running from this
# checkout (its working directory here) after every suite has ended is a failure. Processes of
# other checkouts on the same machine are not ours and are left alone.
here=$(pwd -P)
sleep 0.5
left=
for pid in $(pgrep -x switchyard 2>/dev/null; pgrep -x nats-server 2>/dev/null); do
	[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$here" ] || continue
	left="$left $pid($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80))"
done
if [ -n "$left" ]; then
	echo "== processes left running by the suites:$left"
	total_fail=$((total_fail + 1))
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
