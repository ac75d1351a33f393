# A real nats-server (-js, file store under $tmp/js) on a free loopback port for the cluster
# suites; source after lib/common.sh. Sets NPORT and NATS (the URL); start_nats [SECONDS] starts
# it (bounded by timeout, killed with the suite's other processes) and waits until it accepts
# connections, setting NATS_PID. NATS_CONF, when set, is a nats-server configuration file it
# reads too (a smaller max_payload, say).
command -v nats-server >/dev/null || fail "nats-server is not installed (make deps)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NPORT=$(free_port)
NATS=nats://127.0.0.1:$NPORT
start_nats() {
	timeout --foreground "${1:-300}" nats-server ${NATS_CONF:+-c "$NATS_CONF"} -js -sd "$tmp/js" -a 127.0.0.1 -p "$NPORT" >>"$tmp/nats.log" 2>&1 &
	NATS_PID=$!
	sy_pids+=("$NATS_PID")
	for _ in $(seq 1 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $NPORT), 1)" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "nats-server did not start"
}
