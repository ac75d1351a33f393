#!/usr/bin/env bash
# The cluster's operations with a real nats-server (-js, on loopback), issue 22 items 1 and 2:
# - NATS unreachable at start: the gateway listens anyway, /healthz 200, /readyz 503 naming NATS,
#   requests 503; the gateway and the worker log their attempts and end within 5 s on SIGTERM;
# - NATS started later: the gateway turns ready by itself and serves;
# - scale from zero: a request for a pool with no worker is published and waits; the pending
#   demand gauge and the pool consumer's pending count show it; a worker started afterwards
#   answers it;
# - SIGTERM while busy: a worker holding a unit past its 3 s grace hands it back (NAK) and exits
#   within 5 s, and another worker answers it; a gateway with a request waiting for a worker
#   answers it 503 and exits within 5 s;
# - NATS lost while running: /readyz 503 and the lost/reconnecting log lines, a worker stopped
#   in that state exits within 5 s, and the gateway recovers when NATS is back;
# - the access log: one line per request, text and JSON.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/nats.sh"
MODELS=(--no-builtin-models --model bert=tests/fixtures/bert-tiny --model ner=tests/fixtures/ner-tiny)
start_worker() { # NAME POOL [env...]
	local name=$1 pool=$2
	shift 2
	env "$@" timeout --foreground 120 "$SY" worker --nats "$NATS" --pool "$pool" --threads 1 \
		"${MODELS[@]}" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	LAST=$!
	sy_pids+=("$LAST")
}
start_gateway() { # NAME [args...]; sets LAST and GURL
	local name=$1
	shift
	timeout --foreground 120 "$SY" gateway --host 127.0.0.1 --port 0 --nats "$NATS" \
		--no-builtin-models --model bert --model ner --model lonely "$@" \
		>"$tmp/$name.out" 2>"$tmp/$name.err" &
	LAST=$!
	sy_pids+=("$LAST")
	GURL=
	for _ in $(seq 1 100); do # listening at once, NATS or not (5 s at most)
		GURL=$(sed -n '1s/^switchyard listening on \(http:.*\)$/\1/p' "$tmp/$name.out" 2>/dev/null || true)
		[ -n "$GURL" ] && return 0
		sleep 0.05
	done
	cat "$tmp/$name.err"
	fail "gateway $name did not listen within 5 s"
}
# SIGTERM to PID (a `timeout --foreground` wrapper passes it on); fails unless it is gone
# within 5 s with exit status 0.
stop_within_5s() { # PID NAME
	local pid=$1 name=$2 t0 rc=0
	t0=$(date +%s%N)
	kill -TERM "$pid"
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$pid" 2>/dev/null && { tail -n 5 "$tmp/$name.err"; fail "$name still running 5 s after SIGTERM"; }
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || { tail -n 5 "$tmp/$name.err"; fail "$name exited $rc after SIGTERM"; }
	echo "ok: $name ended $(((($(date +%s%N) - t0) / 1000000))) ms after SIGTERM"
}
PY_HTTP='
import http.client, json, re, sys, time, urllib.parse
sys.path.insert(0, "tests/integration/lib")
def call(url, method, path, body=None, timeout=30):
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    c.request(method, path, None if body is None else json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    raw = r.read()
    c.close()
    try:
        data = json.loads(raw)
    except ValueError:
        data = raw.decode()
    return r.status, data, dict(r.getheaders())
def gauge(url, name, pool):
    m = call(url, "GET", "/metrics")[1]
    return int(re.search(r"^%s\{pool=\"%s\"\} (\d+)$" % (name, pool), m, re.M).group(1))
def wait_ready(url, want, secs):
    t0 = time.time()
    while time.time() - t0 < secs:
        st, r, _ = call(url, "GET", "/readyz")
        if st == want:
            return r
        time.sleep(0.1)
    raise AssertionError(("readyz never answered", want, st, r))
'

# ---- NATS unreachable at start (nothing listens on NPORT yet) ----
start_worker w0 z
W0=$LAST
start_gateway g0 --pool z
G0=$LAST
G0_URL=$GURL
start_gateway g1 --pool z --pool slow --pool empty --model-pool ner=slow --model-pool lonely=empty \
	--request-timeout-ms 20000
G1=$LAST
G1_URL=$GURL
python3 - "$G0_URL" <<PY || { tail -n 5 "$tmp/g0.err"; fail "gateway without NATS"; }
$PY_HTTP
gw = sys.argv[1]
st, r, _ = call(gw, "GET", "/readyz")
assert st == 503 and r["status"] == "not_ready" and "NATS is not connected" in r["reason"], (st, r)
st, r, _ = call(gw, "GET", "/healthz")
assert st == 200, (st, r)
st, r, h = call(gw, "POST", "/v1/encode/bert", {"items": [{"text": "x"}]})
assert st == 503 and "not connected to NATS" in r["error"]["message"] and "Retry-After" in h, (st, r, h)
print("ok: without NATS the gateway listens; /healthz 200, /readyz 503 (NATS not connected), requests 503")
PY
sleep 0.5 # a few connect attempts
for f in g0 w0; do
	grep -q "connecting to NATS at $NATS" "$tmp/$f.err" && grep -q "unreachable (attempt 2" "$tmp/$f.err" ||
		{ cat "$tmp/$f.err"; fail "$f: no log of its connect attempts"; }
done
stop_within_5s "$W0" w0
stop_within_5s "$G0" g0
grep -q "giving up connecting to NATS at $NATS: shutting down" "$tmp/w0.err" ||
	fail "w0: no 'giving up' line"

# ---- NATS comes up later: g1 turns ready by itself ----
start_nats 120
python3 - "$G1_URL" <<PY || { tail -n 5 "$tmp/g1.err"; fail "gateway after NATS came up"; }
$PY_HTTP
wait_ready(sys.argv[1], 200, 15)
print("ok: NATS started later: /readyz 200")
PY
grep -q "gateway: connected to NATS at $NATS" "$tmp/g1.err" || fail "g1: no 'connected' line"

# ---- scale from zero: the request is published with no worker, and waits for one ----
python3 - "$G1_URL" "$NPORT" "$tmp/w1.started" <<PY &
$PY_HTTP
import os, threading
from nats_client import Nats
gw, nport, flag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
res = {}
t = threading.Thread(target=lambda: res.update(r=call(gw, "POST", "/v1/encode/bert", {"items": [{"text": "from zero"}, {"text": "two"}]})))
t.start()
n = Nats(nport)
for _ in range(100):
    if gauge(gw, "switchyard_gateway_pending_demand", "z") == 1:
        break
    time.sleep(0.05)
assert gauge(gw, "switchyard_gateway_pending_demand", "z") == 1
for _ in range(100):  # the units are published asynchronously
    info = n.request("\$JS.API.CONSUMER.INFO.SY_WORK_z.sy-z")
    if info.get("num_pending", 0) == 2:
        break
    time.sleep(0.05)
assert info.get("num_pending", 0) == 2, info  # what KEDA reads: the consumer exists before any worker
open(flag, "w").close()  # the shell starts the worker now
t.join()
st, r, _ = res["r"]
assert st == 200 and len(r["items"]) == 2 and r["items"][0]["dense"]["dims"] > 0, (st, r)
assert gauge(gw, "switchyard_gateway_pending_demand", "z") == 0
print("ok: scale from zero: published with no worker (demand 1, 2 units pending on sy-z); a worker started later answered")
PY
SFZ=$!
for _ in $(seq 1 200); do
	[ -e "$tmp/w1.started" ] && break
	sleep 0.05
done
[ -e "$tmp/w1.started" ] || { wait "$SFZ" || true; fail "the request never showed as demand"; }
start_worker w1 z
W1=$LAST
wait "$SFZ" || { tail -n 5 "$tmp/g1.err" "$tmp/w1.err"; fail "scale from zero"; }

# ---- SIGTERM while busy: a worker holding a unit (for 6 s) gives it 3 s, then hands it back
# (NAK) and ends within 5 s; another worker answers it ----
start_worker w2 slow SY_WORKER_DELAY_MS=6000
W2=$LAST
python3 - "$G1_URL" "$NPORT" <<PY &
$PY_HTTP
from nats_client import Nats
gw, n = sys.argv[1], Nats(int(sys.argv[2]))
for _ in range(200):
    if gauge(gw, "switchyard_gateway_pool_workers_alive", "slow") == 1:
        break
    time.sleep(0.05)
import threading
res = {}
t = threading.Thread(target=lambda: res.update(r=call(gw, "POST", "/v1/extract/ner", {"items": [{"text": "Tim Cook"}]})))
t.start()
for _ in range(100):
    if n.request("\$JS.API.CONSUMER.INFO.SY_WORK_slow.sy-slow").get("num_ack_pending", 0) > 0:
        break
    time.sleep(0.05)
open("$tmp/w2.holding", "w").close()
t.join()
assert res["r"][0] == 200, res["r"]
print("ok: the unit a stopped worker handed back was answered by another")
PY
BUSY=$!
for _ in $(seq 1 200); do
	[ -e "$tmp/w2.holding" ] && break
	sleep 0.05
done
[ -e "$tmp/w2.holding" ] || fail "worker w2 never held a unit"
stop_within_5s "$W2" w2
grep -q "1 unit(s) handed back for redelivery" "$tmp/w2.err" || { cat "$tmp/w2.err"; fail "w2 did not hand its unit back"; }
start_worker w2b slow
wait "$BUSY" || fail "the unit handed back was not answered"

# ---- NATS lost while running ----
kill "$NATS_PID"
wait "$NATS_PID" 2>/dev/null || true
python3 - "$G1_URL" <<PY || { tail -n 5 "$tmp/g1.err"; fail "gateway with NATS lost"; }
$PY_HTTP
r = wait_ready(sys.argv[1], 503, 10)
assert "reconnecting" in r["reason"], r
print("ok: NATS lost: /readyz 503 (reconnecting)")
PY
for _ in $(seq 1 60); do
	grep -q "reconnecting to NATS at $NATS: attempt" "$tmp/g1.err" && break
	sleep 0.1
done
grep -q "lost the NATS connection to $NATS" "$tmp/g1.err" && grep -q "reconnecting to NATS at $NATS: attempt" "$tmp/g1.err" ||
	{ cat "$tmp/g1.err"; fail "g1: no lost/reconnecting lines"; }
stop_within_5s "$W1" w1
start_nats 120
python3 - "$G1_URL" <<PY || { tail -n 5 "$tmp/g1.err"; fail "gateway after NATS came back"; }
$PY_HTTP
wait_ready(sys.argv[1], 200, 15)
print("ok: NATS back: /readyz 200")
PY
grep -q "reconnected to NATS at $NATS" "$tmp/g1.err" || fail "g1: no 'reconnected' line"

# ---- SIGTERM while a request waits for a worker (pool 'empty' has none) ----
python3 - "$G1_URL" <<PY &
$PY_HTTP
st, r, _ = call(sys.argv[1], "POST", "/v1/encode/lonely", {"items": [{"text": "x"}]})
assert st == 503 and r["error"]["code"] == "SHUTTING_DOWN", (st, r)
print("ok: a request waiting for a worker answers 503 SHUTTING_DOWN when the gateway stops")
PY
WAITING=$!
python3 - "$G1_URL" <<PY || fail "no demand on the empty pool"
$PY_HTTP
for _ in range(100):
    if gauge(sys.argv[1], "switchyard_gateway_pending_demand", "empty") == 1:
        break
    time.sleep(0.05)
assert gauge(sys.argv[1], "switchyard_gateway_pending_demand", "empty") == 1
PY
stop_within_5s "$G1" g1
wait "$WAITING" || fail "the waiting request"

# ---- the access log: a line per request, on by default; JSON fields; --access-log off ----
grep -Eq 'switchyard info: access method=POST path=/v1/encode/bert status=200 ms=[0-9.]+ request_id=[^ ]+ model=bert$' "$tmp/g1.err" ||
	{ grep access "$tmp/g1.err" | head -3; fail "no text access log line"; }
SWITCHYARD_ACCESS_LOG=off start_gateway g2 --pool z --log-format json
G2=$LAST
python3 - "$GURL" "$tmp/g2.err" <<PY || fail "--access-log off"
$PY_HTTP
call(sys.argv[1], "GET", "/healthz")
time.sleep(0.2)
assert '"access"' not in open(sys.argv[2]).read()
PY
stop_within_5s "$G2" g2
# A worker for pool z, so that the POST below is answered at once: without one it waits the
# whole request timeout (scale from zero), as long as the client's own timeout.
start_worker w3 z
W3=$LAST
start_gateway g3 --pool z --log-format json
G3=$LAST
python3 - "$GURL" "$tmp/g3.err" <<PY || { cat "$tmp/g3.err"; fail "JSON access log"; }
$PY_HTTP
call(sys.argv[1], "GET", "/healthz", None)
call(sys.argv[1], "POST", "/v1/encode/bert", {"items": [{"text": "x"}]})
time.sleep(0.2)
lines = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
acc = [l for l in lines if l["msg"] == "access"]
assert len(acc) == 2, lines
a, b = acc
assert a["level"] == "info" and a["method"] == "GET" and a["path"] == "/healthz" and a["status"] == 200, a
assert isinstance(a["ms"], (int, float)) and a["request_id"] and "model" not in a, a
assert b["method"] == "POST" and b["path"] == "/v1/encode/bert" and b["model"] == "bert", b
print("ok: access log: text by default, JSON fields with --log-format json, off with SWITCHYARD_ACCESS_LOG=off")
PY
stop_within_5s "$G3" g3
stop_within_5s "$W3" w3
echo "ok: cluster operations"
