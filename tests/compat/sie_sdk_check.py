"""SIE's own Python SDK (sie-sdk, unmodified) against a running Switchyard server.

Not part of `make test`: the SDK is not packaged for Debian and nothing is downloaded at test
time. To run it, put the SDK's source tree somewhere (packages/sie_sdk/src of
github.com/superlinked/sie) and install its dependencies from Debian
(python3-httpx python3-aiohttp python3-msgpack python3-msgpack-numpy python3-websockets
python3-yaml python3-pil python3-numpy), then:

  switchyard serve --port 8080 --no-builtin-models --model bert=tests/fixtures/bert-tiny \
      --model ce=tests/fixtures/bert-ce-tiny --model colbert=tests/fixtures/colbert-tiny \
      --model m3=tests/fixtures/bge-m3-tiny --model gliner=tests/fixtures/gliner-tiny &
  python3 tests/compat/sie_sdk_check.py --sdk PATH/TO/sie_sdk/src http://127.0.0.1:8080

It checks encode in every output_dtype against float32 (quantised here with numpy as SIE's
postprocessor does), is_query, multivector and BGE-M3's three outputs, score, extract,
list_models and get_model, and prints one line per check.
"""
import argparse
import sys

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--sdk", required=True, help="the sie_sdk package's parent folder")
ap.add_argument("url")
a = ap.parse_args()
sys.path.insert(0, a.sdk)
from sie_sdk import SIEClient  # noqa: E402

c = SIEClient(a.url)
texts = [{"text": "hello world"}, {"text": "Café déjà vu"}, {"text": "The quick brown fox."}]


def ok(what):
    print("ok:", what)


names = [m["name"] for m in c.list_models()]
assert {"bert", "ce", "colbert", "m3", "gliner"} <= set(names), names
ok("list_models: %s" % ", ".join(names))

f32 = np.stack([r["dense"] for r in c.encode("bert", texts)])
assert f32.dtype == np.float32 and f32.shape == (3, 64), (f32.dtype, f32.shape)
want = {
    "float16": f32.astype(np.float16),
    "int8": np.round(f32 / np.abs(f32).max(axis=1, keepdims=True) * 127).astype(np.int8),
    "binary": np.packbits(f32 > 0, axis=1),
    "ubinary": np.packbits(f32 > 0, axis=1),
}
lo, hi = f32.min(axis=1, keepdims=True), f32.max(axis=1, keepdims=True)
want["uint8"] = np.round((f32 - lo) / (hi - lo) * 255).astype(np.uint8)
for dtype, w in want.items():
    got = np.stack([r["dense"] for r in c.encode("bert", texts, output_dtype=dtype)])
    assert got.dtype == w.dtype and got.shape == w.shape, (dtype, got.dtype, got.shape)
    diff = np.abs(got.astype(np.int64 if dtype != "float16" else np.float64) -
                  w.astype(np.int64 if dtype != "float16" else np.float64)).max()
    assert diff <= (1 if dtype in ("int8", "uint8") else 0), (dtype, diff)
    ok("encode output_dtype %s (%s %s, max difference %s)" % (dtype, got.dtype, got.shape, diff))

one = c.encode("bert", {"text": "hello"}, is_query=True)
assert set(one) >= {"id", "dense", "timing"} and one["dense"].shape == (64,), one.keys()
ok("encode one item (is_query)")

mv = c.encode("colbert", {"text": "hello world again"}, output_types=["multivector"])["multivector"]
assert mv.ndim == 2 and mv.shape[1] == 32, mv.shape
ok("multivector %s" % (mv.shape,))
m3 = c.encode("m3", {"text": "hello world again"}, output_types=["dense", "sparse", "multivector"])
assert m3["dense"].shape == (64,) and m3["multivector"].shape[1] == 64, m3.keys()
sp = m3["sparse"]
assert sp["indices"].dtype == np.int32 and list(sp["indices"]) == sorted(sp["indices"]), sp
ok("BGE-M3 dense + sparse + multivector")

s = c.score("ce", {"text": "what is a fox"}, [{"text": "a fox is an animal"}, {"text": "paris"}])
assert [x["rank"] for x in s["scores"]] == [0, 1] and {x["item_id"] for x in s["scores"]} == {"item-0", "item-1"}, s
assert s["scores"][0]["score"] >= s["scores"][1]["score"], s
ok("score")

e = c.extract("gliner", {"text": "Barack Obama was born in Hawaii."}, labels=["person", "location"])
assert isinstance(e["entities"], list) and all({"text", "label", "score", "start", "end"} <= set(x) for x in e["entities"]), e
ok("extract (%d entities)" % len(e["entities"]))

g = c.get_model("m3")
assert g["dims"] == {"dense": 64, "sparse": 30522, "multivector": 64} and g["loaded"], g
ok("get_model dims %s" % g["dims"])
cls = c.encode("bert", texts[:1], options={"pooling": "cls"})[0]["dense"]
assert not np.allclose(cls, f32[0]), "options.pooling reaches the server"
cut = c.encode("bert", texts[2:], options={"max_seq_length": 4})[0]["dense"]
assert np.allclose(cut, c.encode("bert", {"text": "the quick"})["dense"], atol=1e-5)
ok("options pooling and max_seq_length")
try:
    c.encode("no-such-model", {"text": "x"})
    raise AssertionError("an unknown model was accepted")
except Exception as ex:  # the SDK's RequestError, with the server's code and message
    assert "no-such-model" in str(ex), ex
    ok("an unknown model raises %s: %s" % (type(ex).__name__, str(ex)[:80]))
print("sie-sdk: all checks passed")
