#!/usr/bin/env bash
# Images through the cluster (issue 18): `switchyard gateway` + `switchyard worker` over a real
# nats-server (-js, on loopback, max_payload set to 256 KiB) answer image items exactly as
# `serve` does: /v1/encode with image items (base64 in JSON, raw bytes in SIE's msgpack) and
# text items, /v1/score as zero-shot classification both ways (CLIP and SigLIP, the random-weight
# fixtures of images.sh); a corrupt image is the same 400 naming the item, the worker still
# serving; a unit over max_payload is a 413 naming the limit, never cut.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
printf 'max_payload: 262144\n' >"$tmp/nats.conf"
NATS_CONF=$tmp/nats.conf
. "$(dirname "$0")/lib/nats.sh"
start_nats 200
MODELS=(--no-builtin-models --model clip=tests/fixtures/clip-tiny
	--model siglip=tests/fixtures/siglip-tiny --model bert=tests/fixtures/bert-tiny)
timeout --foreground 200 "$SY" worker --nats "$NATS" --pool p1 --threads 1 "${MODELS[@]}" \
	>"$tmp/w1.out" 2>"$tmp/w1.err" &
sy_pids+=("$!")
sy_start serve "${MODELS[@]}"
SERVE_URL=$URL
SY_SERVER_TIMEOUT=200 SY_LISTEN_S=10 sy_gateway gw --nats "$NATS" --pool p1 --request-timeout-ms 30000 "${MODELS[@]}"
GW_URL=$URL

python3 - "$SERVE_URL" "$GW_URL" <<'PY' || { tail -n 5 "$tmp"/w1.err "$tmp"/gw.err; fail "images through the cluster"; }
import base64, http.client, json, os, sys, time, urllib.parse
sys.path.insert(0, "tests/integration/lib")
from msgpack_min import mp
serve, gw = sys.argv[1], sys.argv[2]

def req(url, path, body, ctype="application/json"):
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    data = body if isinstance(body, bytes) else json.dumps(body)
    c.request("POST", path, data, {"Content-Type": ctype, "Accept": "application/json"})
    r = c.getresponse()
    out = json.loads(r.read())
    c.close()
    return r.status, out

def img(name, fmt=None):
    d = {"data": base64.b64encode(open("tests/fixtures/images/" + name, "rb").read()).decode()}
    if fmt:
        d["format"] = fmt
    return d

def strip(d):
    d = dict(d)
    d.pop("timing", None)
    return d

for _ in range(200):  # the worker's heartbeat
    st, _ = req(gw, "/v1/encode/bert", {"items": [{"text": "warm up"}]})
    if st == 200:
        break
    time.sleep(0.1)
assert st == 200, st

def same(path, body, ctype="application/json"):
    a = req(serve, path, body, ctype)
    b = req(gw, path, body, ctype)
    assert a[0] == 200 and b[0] == 200, (path, a, b)
    assert strip(a[1]) == strip(b[1]), (path, a[1], b[1])
    return b[1]

for kind in ["clip", "siglip"]:
    g = json.load(open(f"tests/golden/{kind}-tiny.json"))
    items = [{"id": i["image"], "images": [img(i["image"], i["format"])]} for i in g["images"]]
    items.insert(2, {"id": "t0", "text": g["texts"][0]["text"]})
    r = same(f"/v1/encode/{kind}", {"items": items})
    assert len(r["items"]) == len(items) and r["items"][0]["id"] == g["images"][0]["image"]
    same(f"/v1/score/{kind}", {"query": {"text": g["query"]},
                               "items": [{"id": i["image"], "images": [img(i["image"])]} for i in g["images"]]})
    same(f"/v1/score/{kind}", {"query": {"id": "q", "images": [img(g["image_query"])]},
                               "items": [{"id": f"l{k}", "text": t["text"]} for k, t in enumerate(g["texts"])]})
    # Two requests with the same labels and different query images: never mixed up.
    a = same(f"/v1/score/{kind}", {"query": {"images": [img("small.png")]},
                                   "items": [{"text": t["text"]} for t in g["texts"]]})
    b = same(f"/v1/score/{kind}", {"query": {"images": [img("grey.png")]},
                                   "items": [{"text": t["text"]} for t in g["texts"]]})
    assert a["scores"] != b["scores"]
    # A corrupt image: the same 400 as serve, naming the item; the worker keeps serving.
    for bad in ["truncated.jpg", "corrupt.png", "unsupported.gif"]:
        body = {"items": [{"text": "a cat"}, {"images": [img(bad)]}]}
        a, b = req(serve, f"/v1/encode/{kind}", body), req(gw, f"/v1/encode/{kind}", body)
        assert a[0] == 400 and b[0] == 400, (bad, a, b)
        assert b[1]["error"]["code"] == "INVALID_INPUT" and "item 1" in b[1]["error"]["message"], b
        assert a[1]["error"]["message"] == b[1]["error"]["message"], (a, b)
    body = {"query": {"images": [img("truncated.jpg")]}, "items": [{"text": "a cat"}]}
    a, b = req(serve, f"/v1/score/{kind}", body), req(gw, f"/v1/score/{kind}", body)
    assert a[0] == b[0] == 400 and "query" in b[1]["error"]["message"], (a, b)
    same(f"/v1/encode/{kind}", {"items": [{"images": [img("small.png")]}]})

# SIE's msgpack body: the image's raw bytes as a bin.
raw = open("tests/fixtures/images/photo.webp", "rb").read()
r = same("/v1/encode/clip", mp({"items": [{"id": "m", "images": [{"data": raw, "format": "webp"}]},
                                          {"id": "t", "text": "a photo"}]}), "application/msgpack")
assert r["items"][0]["id"] == "m"

# A text model refuses an image item through the cluster too.
st, r = req(gw, "/v1/encode/bert", {"items": [{"text": "x"}, {"images": [img("small.png")]}]})
assert st == 400 and "item 1" in r["error"]["message"] and "image" in r["error"]["message"], (st, r)

# Over max_payload (256 KiB here): 413 naming the limit, nothing cut or sent.
big = {"data": base64.b64encode(os.urandom(300 * 1024)).decode(), "format": "png"}
st, r = req(gw, "/v1/encode/clip", {"items": [{"images": [big]}]})
assert st == 413 and "max_payload" in r["error"]["message"] and "262144" in r["error"]["message"], (st, r)
st, r = req(gw, "/v1/score/clip", {"query": {"text": "a cat"}, "items": [{"images": [img("wide.jpg")]}] * 8})
assert st == 413 and "max_payload" in r["error"]["message"], (st, r)
same("/v1/encode/clip", {"items": [{"images": [img("wide.jpg")]}]})
print("ok: images through the cluster")
PY
echo "ok: cluster images"
