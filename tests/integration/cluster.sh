#!/usr/bin/env bash
# The cluster end to end with a real nats-server (-js, on loopback): one gateway and two workers
# answer exactly what `serve` answers (encode dense/sparse/multivector, extract, score, rerank,
# OpenAI embeddings); a worker killed with -9 while it
# holds work loses nothing (redelivery) and no item is answered twice; a poison unit (NAKed on
# every delivery) and an unparseable message land in the dead-letter stream, the client getting
# 502 DEAD_LETTER; NATS restarted while idle and the system recovers; workers drain on SIGTERM.
# Starting without NATS, losing it, shutdown in every state and scale from zero: cluster_ops.sh.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/nats.sh"
start_nats
MODELS=(--no-builtin-models --model bert=tests/fixtures/bert-tiny --model ner=tests/fixtures/ner-tiny
	--model sp=tests/fixtures/splade-tiny --model cb=tests/fixtures/colbert-tiny
	--model ce=tests/fixtures/bert-ce-tiny --model nomic=tests/fixtures/nomic-tiny)
start_worker() { # NAME [env...]
	local name=$1
	shift
	env "$@" timeout --foreground 300 "$SY" worker --nats "$NATS" --pool p1 --ack-wait 2 --max-deliver 3 \
		--threads 1 "${MODELS[@]}" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	LAST=$!
	sy_pids+=("$LAST")
}
start_worker w1
W1=$LAST
start_worker w2
W2=$LAST
sy_start serve "${MODELS[@]}"
SERVE_URL=$URL
SY_SERVER_TIMEOUT=300 SY_LISTEN_S=10 sy_gateway gw --nats "$NATS" --pool p1 --pool p2 --model-pool lonely=p2 \
	--request-timeout-ms 20000 --no-builtin-models --model bert --model ner --model sp --model cb \
	--model ce --model nomic --model lonely
GW_URL=$URL

python3 - "$SERVE_URL" "$GW_URL" "$NPORT" <<'PY' || { tail -n 5 "$tmp"/w1.err "$tmp"/gw.err; fail "cluster equivalence"; }
import http.client, json, sys, time, urllib.parse
sys.path.insert(0, "tests/integration/lib")
from nats_client import Nats
serve, gw, nport = sys.argv[1], sys.argv[2], int(sys.argv[3])

def req(url, method, path, body=None):
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request(method, path, None if body is None else json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    data = json.loads(r.read())
    hdr = dict(r.getheaders())
    c.close()
    return r.status, data, hdr

def strip(d):
    if not isinstance(d, dict):  # TEI's bare arrays
        return d
    d = dict(d)
    d.pop("timing", None)
    return d

# Wait for the workers' heartbeats.
for _ in range(100):
    st, _, _ = req(gw, "POST", "/v1/encode/bert", {"items": [{"text": "warm up"}]})
    if st == 200:
        break
    time.sleep(0.1)
assert st == 200, st
texts = ["Tim Cook is the CEO of Apple.", "A switchyard sorts railway cars.", "Café déjà vu!", "x"]
cases = [
    ("/v1/encode/bert", {"items": [{"id": f"i{k}", "text": t} for k, t in enumerate(texts)]}),
    ("/v1/encode/bert", {"items": [{"text": t} for t in texts], "params": {"normalize": False, "is_query": True}}),
    ("/v1/encode/sp", {"items": [{"text": t} for t in texts], "params": {"output_types": ["sparse"], "return_tokens": True, "sparse_top_k": 20}}),
    ("/v1/encode/cb", {"items": [{"text": t} for t in texts], "params": {"output_types": ["multivector"]}}),
    ("/v1/encode/cb", {"items": [{"text": t} for t in texts], "params": {"output_types": ["multivector"], "is_query": True}}),
    ("/v1/extract/ner", {"items": [{"text": t} for t in texts], "params": {"aggregation": "average"}}),
    ("/v1/score/ce", {"query": "who runs Apple?", "items": [{"text": t} for t in texts]}),
    ("/v1/score/cb", {"query": "who runs Apple?", "items": [{"text": t} for t in texts]}),
    ("/v1/rerank", {"model": "ce", "query": "railway", "documents": texts, "top_n": 2, "return_documents": True}),
    ("/v1/embeddings", {"model": "bert", "input": texts}),
    ("/v1/encode/nomic", {"items": [{"text": t} for t in texts], "params": {"dimensions": 16}}),  # Matryoshka
    ("/v1/embeddings", {"model": "nomic", "input": texts, "dimensions": 8}),
    ("/v1/encode/bert", {"items": [{"text": "x"}], "params": {"dimensions": 8}}),  # refused alike
    # per-request pooling, token limit and left truncation travel with the unit
    ("/v1/encode/bert", {"items": [{"text": t} for t in texts], "params": {"options": {"pooling": "cls", "max_seq_length": 6}}}),
    ("/embed", {"model": "bert", "inputs": ["word " * 200 + "end"], "truncate": True, "truncation_direction": "Left"}),
    ("/v1/encode/cb", {"items": [{"text": "x"}], "params": {"output_types": ["multivector"], "options": {"pooling": "mean"}}}),
    # errors come back the same way
    ("/v1/encode/ner", {"items": [{"text": "x"}]}),
    ("/v1/extract/ner", {"items": [{"text": "x"}], "params": {"labels": ["person"]}}),
    ("/v1/encode/bert", {"items": [{"text": "word " * 200}], "params": {"truncate": False}}),
    ("/v1/encode/nope", {"items": [{"text": "x"}]}),
]
for path, body in cases:
    a = req(serve, "POST", path, body)
    b = req(gw, "POST", path, body)
    assert a[0] == b[0], (path, a[0], b[0], b[1])
    assert strip(a[1]) == strip(b[1]), (path, json.dumps(a[1])[:300], json.dumps(b[1])[:300])
print("ok: gateway answers equal serve on", len(cases), "requests")

# An unparseable message published straight to the work subject goes to the dead letters.
n = Nats(nport)
before = n.stream_messages("SY_DEAD")
n.publish("sy.work.bert.p1", b"\x00 not json")
for _ in range(100):
    if n.stream_messages("SY_DEAD") == before + 1:
        break
    time.sleep(0.1)
assert n.stream_messages("SY_DEAD") == before + 1
print("ok: garbage -> dead letters")
PY

# A worker's reply is not trusted (issue 23.1): a rogue "worker" (this script: fake heartbeats,
# a core subscription on the work subject) answers a dense request with a multivector and an
# extract request with an entity past its text. The gateway answers an error, sends no memory
# back, and keeps serving.
SY_SERVER_TIMEOUT=300 SY_LISTEN_S=10 sy_gateway gw3 --nats "$NATS" --pool rogue --request-timeout-ms 5000 \
	--no-builtin-models --model bert --model ner
GW3=$PID
GW3_URL=$URL
python3 - "$GW3_URL" "$NPORT" <<'PY' || { tail -n 5 "$tmp"/gw3.err; fail "untrusted worker replies"; }
import http.client, json, sys, threading, time, urllib.parse
sys.path.insert(0, "tests/integration/lib")
from nats_client import Nats
u = urllib.parse.urlparse(sys.argv[1])
def post(path, body):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, r.read()
n = Nats(int(sys.argv[2]))
n.subscribe("sy.work.*.rogue")
stop = False
def beat():
    hb = Nats(int(sys.argv[2]))
    while not stop:
        hb.publish("sy.workers.rogue", b"rogue")
        time.sleep(0.3)
threading.Thread(target=beat, daemon=True).start()
time.sleep(0.8)
forged = [
    ("/v1/encode/bert", {"items": [{"text": "hello"}]},
     {"ok": True, "dims": 2, "n_tokens": [3], "queue_ms": 0, "inference_ms": 0,
      "multivector": [{"d": 2, "n": 1, "v": [1, 2]}]}),
    ("/v1/extract/ner", {"items": [{"text": "hello"}]},
     {"ok": True, "dims": 0, "n_tokens": [3], "queue_ms": 0, "inference_ms": 0,
      "entities": [[{"l": "PER", "s": 0, "e": 30000, "x": 0.9}]]}),
    ("/v1/extract/ner", {"items": [{"text": "hello"}]},
     {"ok": True, "dims": 0, "n_tokens": [3], "queue_ms": 0, "inference_ms": 0,
      "entities": [[{"l": "PER", "s": 0, "e": 1000000, "x": 0.9}]]}),
]
for path, body, reply in forged:
    res = {}
    t = threading.Thread(target=lambda: res.update(r=post(path, body)))
    t.start()
    subj, _, data = n.next_msg(timeout=10)
    unit = json.loads(data)
    reply.update({"req": unit["req"], "first": unit["first"]})
    n.publish(unit["reply"], json.dumps(reply).encode())
    t.join()
    st, raw = res["r"]
    assert st >= 500 and len(raw) < 2000, (path, st, raw[:300])
    assert b"worker answered" in raw, raw[:300]
# A client that goes away stops the gateway's wait (issue 23.4): with no reply coming, the
# request would hold its connection thread for the 5 s request timeout.
import socket
cancels = Nats(int(sys.argv[2]))
cancels.subscribe("sy.cancel.rogue")
raw = socket.create_connection((u.hostname, u.port), timeout=10)
body = json.dumps({"items": [{"text": "never answered"}]}).encode()
raw.sendall(b"POST /v1/encode/bert HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body)
_, _, data = n.next_msg(timeout=10)  # the unit is out; nobody answers it
unit = json.loads(data)
raw.close()
t0 = time.time()
def inflight():
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("GET", "/metrics")
    m = c.getresponse().read().decode()
    return int([l for l in m.splitlines() if l.startswith("switchyard_http_inflight_requests ")][0].split()[1])
while inflight() > 1 and time.time() - t0 < 3:
    time.sleep(0.05)
assert inflight() == 1 and time.time() - t0 < 3, ("the gateway still waits for a gone client", time.time() - t0)
# ... and tells the pool's workers to drop the unit it had published.
subj, _, data = cancels.next_msg(timeout=5)
assert data.decode() == unit["reply"] + " " + unit["req"], data
stop = True
print("ok: forged worker replies (wrong kind, offsets past the text) answered as errors; a gone client stops the wait and cancels its units")
PY
kill "$GW3" 2>/dev/null || true

# NATS protocol injection through a unit's reply subject (issue 23.2): the worker refuses the
# unit (dead letter) instead of writing the text as protocol; the dead-letter stream survives.
python3 - "$NPORT" <<'PY' || fail "reply-subject injection"
import json, sys, time
sys.path.insert(0, "tests/integration/lib")
from nats_client import Nats
n = Nats(int(sys.argv[1]))
watch = Nats(int(sys.argv[1]))
watch.subscribe("sy.y")
before = n.stream_messages("SY_DEAD")
evil = "sy.x 0\r\n\r\nPUB $JS.API.STREAM.DELETE.SY_DEAD _INBOX.evil 0\r\n\r\nPUB sy.y"
unit = {"v": 1, "reply": evil, "req": "r1", "first": 0, "model": "bert",
        "p": {"task": 1, "outputs": 1, "normalize": -1, "truncate": True, "is_query": False,
              "instruction": None, "query": None, "labels": None, "threshold": -1,
              "aggregation": 0, "tokens": False}, "texts": ["x"]}
n.publish("sy.work.bert.p1", json.dumps(unit).encode())
for _ in range(100):
    if n.stream_messages("SY_DEAD") == before + 1:
        break
    time.sleep(0.1)
info = n.stream_info("SY_DEAD")
assert "error" not in info, info  # still there
assert info["state"]["messages"] == before + 1, info["state"]
try:
    watch.next_msg(timeout=1)
    raise AssertionError("a message reached sy.y")
except TimeoutError:
    pass
# Both streams have a byte bound (issue 23.3).
assert info["config"]["max_bytes"] > 0, info["config"]
assert n.stream_info("SY_WORK_p1")["config"]["max_bytes"] > 0
print("ok: a reply subject with protocol text is refused; streams are byte-bounded")
PY

# Poison: workers that NAK a text on every delivery; after --max-deliver 3 it is set aside.
kill "$W1" "$W2"
wait "$W1" "$W2" 2>/dev/null || true
start_worker w3 SY_WORKER_NAK_TEXT=poison
W3=$LAST
start_worker w4 SY_WORKER_NAK_TEXT=poison
W4=$LAST
python3 - "$GW_URL" "$NPORT" <<'PY' || { tail -n 5 "$tmp"/w3.err; fail "poison message"; }
import http.client, json, sys, time, urllib.parse
sys.path.insert(0, "tests/integration/lib")
from nats_client import Nats
u = urllib.parse.urlparse(sys.argv[1])
def post(path, body):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, json.loads(r.read())
n = Nats(int(sys.argv[2]))
before = n.stream_messages("SY_DEAD")
for _ in range(100):
    st, r = post("/v1/encode/bert", {"items": [{"text": "fine"}]})
    if st == 200:
        break
    time.sleep(0.1)
st, r = post("/v1/encode/bert", {"items": [{"text": "fine"}, {"text": "poison"}]})
assert st == 502 and r["error"]["code"] == "DEAD_LETTER", (st, r)
assert n.stream_messages("SY_DEAD") == before + 1
print("ok: poison -> 502 DEAD_LETTER after max-deliver")
PY

# kill -9 a worker holding work: every request still completes, each item once, right answers.
# The victim is the pool's only worker when the requests arrive, so the units it holds when it is
# killed are known to be its own (with a second worker racing it, how many it held at a fixed
# moment depended on the machine's load); the second worker starts after the kill and takes the
# redelivered units.
# Both workers must still be running here: one that exited on its own is a bug, said loudly
# (with set -e a failing kill would end the suite without a word).
for w in W3 W4; do
	kill -0 "${!w}" 2>/dev/null || {
		tail -n 20 "$tmp/${w,,}.err"
		fail "worker ${w,,} exited before it was stopped"
	}
done
kill "$W3" "$W4"
wait "$W3" "$W4" 2>/dev/null || true
start_worker w5 SY_WORKER_DELAY_MS=1500
W5=$LAST
# The victim is the worker itself, not its `timeout` wrapper (killing the wrapper with -9 left
# the worker running on, orphaned, past the end of the suite); the wrapper forks it a moment
# after it starts.
W5_WORKER=
for _ in $(seq 100); do
	W5_WORKER=$(pgrep -P "$W5" | head -1) && [ -n "$W5_WORKER" ] && break
	sleep 0.05
done
[ -n "$W5_WORKER" ] || fail "worker w5 not found under its wrapper"
python3 - "$SERVE_URL" "$GW_URL" "$W5_WORKER" "$NPORT" "$tmp/killed" <<'PY' &
import http.client, json, os, signal, sys, threading, time, urllib.parse
sys.path.insert(0, "tests/integration/lib")
from nats_client import Nats
serve, gw, victim, killed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[5]
consumer = "$JS.API.CONSUMER.INFO.SY_WORK_p1.sy-p1"
nats = Nats(int(sys.argv[4]))
def post(url, path, body):
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, json.loads(r.read())
for _ in range(100):
    if post(gw, "/v1/encode/bert", {"items": [{"text": "w"}]})[0] == 200:
        break
    time.sleep(0.1)
bodies = [{"items": [{"id": f"r{k}-{i}", "text": f"request {k} item {i}"} for i in range(4)]} for k in range(12)]
res = {}
def one(k):
    res[k] = post(gw, "/v1/encode/bert", bodies[k])
ths = [threading.Thread(target=one, args=(k,)) for k in range(12)]
[t.start() for t in ths]
deadline = time.time() + 15
while nats.request(consumer).get("num_ack_pending", 0) == 0 and time.time() < deadline:
    time.sleep(0.05)
os.kill(victim, signal.SIGKILL)
time.sleep(0.2)
# The victim died holding work: messages delivered and never acked (redelivered after 2 s).
held = nats.request(consumer).get("num_ack_pending", 0)
open(killed, "w").close()
assert held > 0, held
[t.join() for t in ths]
for k in range(12):
    st, r = res[k]
    assert st == 200, (k, st, r)
    want = post(serve, "/v1/encode/bert", bodies[k])[1]
    assert [i["id"] for i in r["items"]] == [i["id"] for i in want["items"]]
    assert [i["dense"] for i in r["items"]] == [i["dense"] for i in want["items"]], k
print("ok: 12 requests survived kill -9 of a worker holding", held, "unacked units")
PY
KILLER=$!
for _ in $(seq 300); do
	[ -e "$tmp/killed" ] || ! kill -0 "$KILLER" 2>/dev/null && break
	sleep 0.1
done
start_worker w6
W6=$LAST
wait "$KILLER" || { tail -n 5 "$tmp"/w5.err "$tmp"/w6.err; fail "kill -9 redelivery"; }
grep -q . "$tmp/w5.err" || true

# NATS restarts while idle: the gateway and the worker reconnect.
kill "$NATS_PID"
wait "$NATS_PID" 2>/dev/null || true
start_nats
python3 - "$GW_URL" <<'PY' || { tail -n 5 "$tmp"/w6.err "$tmp"/gw.err; fail "NATS restart"; }
import http.client, json, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
st = None
for _ in range(150):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("POST", "/v1/encode/bert", json.dumps({"items": [{"text": "after restart"}]}), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    st = r.status
    if st == 200:
        break
    time.sleep(0.1)
assert st == 200, st
print("ok: recovered after a NATS restart")
PY

# A pool whose stream holds at most 2 units and whose worker is slow: a burst gets 503
# QUEUE_FULL for what does not fit, and a request waiting past --request-timeout-ms gets 504.
SY_SERVER_TIMEOUT=300 SY_LISTEN_S=10 sy_gateway gw2 --nats "$NATS" --pool tiny --max-pending 2 \
	--request-timeout-ms 1000 --no-builtin-models --model bert
GW2_URL=$URL
SWITCHYARD_LOG=info SY_WORKER_DELAY_MS=2500 timeout --foreground 300 "$SY" worker --nats "$NATS" --pool tiny --fetch-batch 1 \
	--threads 1 "${MODELS[@]}" >"$tmp/w7.out" 2>"$tmp/w7.err" &
sy_pids+=($!)
python3 - "$GW2_URL" <<'PY' || { tail -n 5 "$tmp"/w7.err "$tmp"/gw2.err; fail "queue full / timeout"; }
import http.client, json, sys, threading, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
def post(body):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("POST", "/v1/encode/bert", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, json.loads(r.read()), r.getheader("Retry-After")
for _ in range(100):  # the worker's heartbeat
    st, r, _ = post({"items": [{"text": "w"}]})
    if r.get("error", {}).get("code") != "NO_WORKERS":
        break
    time.sleep(0.1)
# one unit, alone: the worker holds it 2.5 s, past the gateway's 1 s
st, r, _ = post({"items": [{"text": "slow one"}]})
assert st == 504 and r["error"]["code"] == "TIMEOUT" and "within 1000 ms" in r["error"]["message"], (st, r)
# a burst while that unit still counts against the bound of 2
res = []
def one(k):
    res.append(post({"items": [{"text": f"burst {k} {i}"} for i in range(3)]}))
ths = [threading.Thread(target=one, args=(k,)) for k in range(4)]
[t.start() for t in ths]; [t.join() for t in ths]
codes = sorted(r[1]["error"]["code"] for r in res if r[0] != 200)
assert "QUEUE_FULL" in codes and all(r[2] for r in res if r[0] == 503), res
print("ok: a slow pool -> 504 TIMEOUT; a burst over the bound ->", codes.count("QUEUE_FULL"), "x 503 QUEUE_FULL")
PY
# The units of requests the gateway gave up on (504 above) are dropped by the worker, not
# computed for no one.
for _ in $(seq 1 100); do
	grep -q "dropped: its gateway gave up on it" "$tmp/w7.err" && break
	sleep 0.1
done
grep -q "dropped: its gateway gave up on it" "$tmp/w7.err" ||
	{ tail -n 5 "$tmp/w7.err"; fail "the worker computed units whose gateway gave up"; }
echo "ok: units of a request given up are dropped by the worker"

# A worker drains and exits 0 on SIGTERM.
kill -TERM "$W6"
rc=0
wait "$W6" || rc=$?
[ "$rc" = 0 ] || fail "worker exit status $rc after SIGTERM"
echo "ok: worker drained on SIGTERM"
