#!/usr/bin/env bash
# Images through a real server (issue 18), against the PyTorch reference
# (tools/reference/make_clip.py, tests/golden/{clip,siglip}-tiny.json): /v1/encode with image
# items (base64, SIE's items[].images) and text items in one shared space, /v1/score as
# zero-shot classification both ways (a text against images, an image against text labels;
# CLIP softmax, SigLIP sigmoid), inputs ["text","image"] in
# /v1/models, and a clear 400 naming the item for truncated, corrupt, unsupported, mislabelled
# and non-base64 images and for images sent to a text model, the server still serving after
# each; images as raw bytes in SIE's msgpack bodies; then `switchyard encode --image`.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sy_start images --no-builtin-models --model clip=tests/fixtures/clip-tiny \
	--model siglip=tests/fixtures/siglip-tiny --model bert=tests/fixtures/bert-tiny \
	--model ce=tests/fixtures/bert-ce-tiny
python3 - "$URL" <<'PY' || fail "image checks"
import base64, http.client, json, math, sys, urllib.parse
sys.path.insert(0, "tests/integration/lib")
from msgpack_min import mp
u = urllib.parse.urlparse(sys.argv[1])

def req(method, path, body=None):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request(method, path, body=None if body is None else json.dumps(body),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    out = json.loads(r.read())
    c.close()
    return r.status, out

def img(name, fmt=None):
    d = {"data": base64.b64encode(open("tests/fixtures/images/" + name, "rb").read()).decode()}
    if fmt:
        d["format"] = fmt
    return d

def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))

for kind in ["clip", "siglip"]:
    g = json.load(open(f"tests/golden/{kind}-tiny.json"))
    items = [{"id": i["image"], "images": [img(i["image"], i["format"])]} for i in g["images"]]
    items.append({"id": "t0", "text": g["texts"][0]["text"]})
    st, r = req("POST", f"/v1/encode/{kind}", {"items": items})
    assert st == 200, (st, r)
    for it, want in zip(r["items"], g["images"]):
        assert it["id"] == want["image"]
        c = cos(it["dense"]["values"], want["embed"])
        assert c >= 0.9999, (kind, want["image"], c)
        assert abs(sum(v * v for v in it["dense"]["values"]) - 1) < 1e-4  # normalised
    assert cos(r["items"][-1]["dense"]["values"], g["texts"][0]["embed"]) >= 0.99999
    # Zero-shot: a text query against image items, sorted best first.
    st, r = req("POST", f"/v1/score/{kind}", {"query": {"text": g["query"]},
                                              "items": [{"id": i["image"], "images": [img(i["image"])]} for i in g["images"]]})
    assert st == 200, (st, r)
    want = {i["image"]: s for i, s in zip(g["images"], g["scores"])}
    assert len(r["scores"]) == len(want)
    for s in r["scores"]:
        assert abs(s["score"] - want[s["item_id"]]) < 2e-4, (kind, s, want[s["item_id"]])
    assert [s["rank"] for s in r["scores"]] == list(range(len(want)))
    assert r["scores"][0]["item_id"] == max(want, key=want.get)
    if kind == "clip":
        assert abs(sum(s["score"] for s in r["scores"]) - 1) < 1e-4  # softmax
    # Zero-shot classification: an image query against text labels.
    st, r = req("POST", f"/v1/score/{kind}", {"query": {"id": "q", "images": [img(g["image_query"])]},
                                              "items": [{"id": f"l{k}", "text": t["text"]} for k, t in enumerate(g["texts"])]})
    assert st == 200 and r.get("query_id") == "q", (st, r)
    for s in r["scores"]:
        assert abs(s["score"] - g["label_scores"][int(s["item_id"][1:])]) < 2e-4, (kind, s)
    st, r = req("POST", f"/v1/score/{kind}", {"query": {"images": [img("truncated.jpg")]},
                                              "items": [{"text": "a cat"}]})
    assert st == 400 and "query" in r["error"]["message"], (st, r)
    # Bad images: 400 naming the item, and the server keeps serving.
    bad = [({"images": [img("truncated.jpg")]}, "truncated"),
           ({"images": [img("corrupt.png")]}, "png"),
           ({"images": [img("unsupported.gif")]}, "jpeg, png or webp"),
           ({"images": [img("wide.jpg", "png")]}, "format"),
           ({"images": [{"data": "not base64!!", "format": "jpeg"}]}, "base64"),
           ({"images": [{"data": "AAAA", "format": "gif"}]}, "format"),
           ({"images": [img("wide.jpg"), img("small.png")]}, "one image per item"),
           ({"text": "x", "images": [img("wide.jpg")]}, "not both")]
    for body, word in bad:
        st, r = req("POST", f"/v1/encode/{kind}", {"items": [{"text": "a cat"}, body]})
        assert st == 400 and r["error"]["code"] == "INVALID_INPUT", (body.keys(), st, r)
        assert "1" in r["error"]["message"] and word in r["error"]["message"], (word, r)
        st, r = req("POST", f"/v1/encode/{kind}", {"items": [{"images": [img("small.png")]}]})
        assert st == 200, (st, r)

# SIE's msgpack: the image's raw bytes as a bin (lib/msgpack_min.py).
raw = open("tests/fixtures/images/photo.webp", "rb").read()
body = mp({"items": [{"id": "m", "images": [{"data": raw, "format": "webp"}]}]})
c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
c.request("POST", "/v1/encode/clip", body=body,
          headers={"Content-Type": "application/msgpack", "Accept": "application/json"})
resp = c.getresponse()
r = json.loads(resp.read())
c.close()
assert resp.status == 200, (resp.status, r)
gc = {i["image"]: i["embed"] for i in json.load(open("tests/golden/clip-tiny.json"))["images"]}
assert cos(r["items"][0]["dense"]["values"], gc["photo.webp"]) >= 0.9999

# At most 256 image items per request (each is held decoded until it runs).
tiny = img("small.png")
st, r = req("POST", "/v1/encode/clip", {"items": [{"images": [tiny]}] * 257})
assert st == 413 and "256" in r["error"]["message"], (st, r)

st, r = req("GET", "/v1/models")
assert st == 200
sie = {m["name"]: m["inputs"] for m in r["models"]}
assert sie["clip"] == ["text", "image"] and sie["siglip"] == ["text", "image"], sie
assert sie["bert"] == ["text"], sie
# A text model refuses image items with a 400 that says why.
st, r = req("POST", "/v1/encode/bert", {"items": [{"images": [img("small.png")]}]})
assert st == 400 and "image" in r["error"]["message"], (st, r)
st, r = req("POST", "/v1/score/ce", {"query": {"images": [img("small.png")]}, "items": [{"text": "x"}]})
assert st == 400 and "image" in r["error"]["message"], (st, r)
st, r = req("POST", "/v1/encode/bert", {"items": [{"text": "still serving"}]})
assert st == 200
print("ok: images over HTTP")
PY

# The CLI: one JSON line per image, equal to the reference through decode + preprocess.
out=$("$SY" encode --model tests/fixtures/clip-tiny --image tests/fixtures/images/wide.jpg \
	--image tests/fixtures/images/photo.webp) || fail "switchyard encode --image"
python3 - "$out" <<'PY' || fail "CLI image embeddings"
import json, math, sys
lines = [json.loads(l) for l in sys.argv[1].splitlines()]
g = {i["image"]: i["embed"] for i in json.load(open("tests/golden/clip-tiny.json"))["images"]}
def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
assert [l["index"] for l in lines] == [0, 1], lines
assert cos(lines[0]["dense"], g["wide.jpg"]) >= 0.9999
assert cos(lines[1]["dense"], g["photo.webp"]) >= 0.9999
print("ok: switchyard encode --image")
PY
"$SY" encode --model tests/fixtures/clip-tiny --image tests/fixtures/images/truncated.jpg \
	>/dev/null 2>"$tmp/cli.err" && fail "a truncated image should fail"
grep -q "truncated" "$tmp/cli.err" || fail "the CLI error names the problem: $(cat "$tmp/cli.err")"
echo "ok: images"
