# Shared by the shell suites in tests/integration (sourced, not run: run.sh only runs the *.sh
# files one level up). Sets SY (the binary under test), a temporary folder $tmp removed on exit
# together with every process started through sy_start / sy_bg, and `fail`.
#
#   sy_start NAME ARGS...   starts `switchyard serve --host 127.0.0.1 --port 0 ARGS...` under
#                           `timeout --foreground` (so a signal sent to $PID reaches the server
#                           once), waits for its "listening" line and sets URL and PID; output in
#                           $tmp/NAME.out and $tmp/NAME.err. SY_SERVER_TIMEOUT=S before it
#                           bounds the server's life (default 120 s), SY_LISTEN_S=S the wait
#                           for its address (default 20 s).
#   sy_gateway NAME ARGS... the same for `switchyard gateway`.
#   sy_bg CMD...            starts any other helper process in the background, stopped on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
SY=${BUILD:-build}/switchyard
SY_SERVER_TIMEOUT=${SY_SERVER_TIMEOUT:-120}
fail() {
	echo "FAIL: $*"
	exit 1
}
[ -x "$SY" ] || fail "$SY is not built"

tmp=$(mktemp -d)
sy_pids=()
# Every process started here ends with the suite: SIGTERM to each (and to the child of its
# `timeout` wrapper), then after 3 s SIGKILL to whatever is left, so a process that ignores or
# cannot act on SIGTERM (a worker stuck reconnecting to a NATS that is gone) does not outlive it.
sy_cleanup() {
	local p left
	for p in "${sy_pids[@]}"; do
		pkill -TERM -P "$p" 2>/dev/null || true
		kill "$p" 2>/dev/null || true
	done
	for _ in $(seq 1 30); do
		left=0
		for p in "${sy_pids[@]}"; do
			if kill -0 "$p" 2>/dev/null || pgrep -P "$p" >/dev/null 2>&1; then left=1; fi
		done
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	for p in "${sy_pids[@]}"; do
		pkill -KILL -P "$p" 2>/dev/null || true
		kill -9 "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap sy_cleanup EXIT

# hdr NAME: the value of response header NAME in $tmp/h (what `curl -D "$tmp/h"` wrote).
hdr() { tr -d '\r' <"$tmp/h" | sed -n "s/^$1: //Ip"; }

sy_bg() {
	"$@" &
	sy_pids+=($!)
}

# sy_listen CMD NAME ARGS...: starts `switchyard CMD` (serve, gateway) on a free loopback port
# and waits (SY_LISTEN_S seconds at most, default 20) for the "listening" line its stdout starts
# with.
sy_listen() {
	local cmd=$1 name=$2 tries=$((${SY_LISTEN_S:-20} * 20))
	shift 2
	timeout --foreground "$SY_SERVER_TIMEOUT" "$SY" "$cmd" --host 127.0.0.1 --port 0 "$@" \
		>"$tmp/$name.out" 2>"$tmp/$name.err" &
	PID=$!
	sy_pids+=("$PID")
	URL=
	for _ in $(seq 1 "$tries"); do
		URL=$(sed -n '1s/^switchyard listening on \(http:.*\)$/\1/p' "$tmp/$name.out" 2>/dev/null || true)
		[ -n "$URL" ] && return 0
		kill -0 "$PID" 2>/dev/null || { cat "$tmp/$name.err"; fail "$name ($cmd) exited"; }
		sleep 0.05
	done
	cat "$tmp/$name.err"
	fail "$name ($cmd) did not print its address"
}
sy_start() { sy_listen serve "$@"; }
sy_gateway() { sy_listen gateway "$@"; }
