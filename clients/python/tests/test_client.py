"""Tests for the Python SDK.

Against a real server (SY_URL, with SY_TOKEN as its API key and the fixture models bert,
roberta; started by tests/integration/sdk.sh) and against a scripted stub server on loopback for
retries, Retry-After, error mapping and server-sent events. SY_EXPECT is a JSON file with the
vectors `switchyard encode` printed for the same texts.
"""
import http.server
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import switchyard  # noqa: E402
from switchyard import Client  # noqa: E402

URL = os.environ.get("SY_URL")
TOKEN = os.environ.get("SY_TOKEN")
EXPECT = os.environ.get("SY_EXPECT")


@unittest.skipUnless(URL, "SY_URL not set (run tests/integration/sdk.sh)")
class RealServer(unittest.TestCase):
    def setUp(self):
        self.c = Client(URL, api_key=TOKEN, retry_budget_s=20)

    def test_encode_matches_cli(self):
        with open(EXPECT) as f:
            exp = json.load(f)
        r = self.c.encode("bert", exp["texts"])
        self.assertEqual(r.model, "bert")
        self.assertEqual([it.id for it in r.items], [f"item-{i}" for i in range(len(exp["texts"]))])
        for got, want in zip(r.dense, exp["dense"]):
            self.assertEqual(len(got), len(want))
            self.assertLess(max(abs(a - b) for a, b in zip(got, want)), 1e-6)
        self.assertGreaterEqual(r.timing.total_ms, 0.0)

    def test_encode_items_ids_and_params(self):
        r = self.c.encode("bert", [{"id": "a", "text": "hello"}, "world"], normalize=False)
        self.assertEqual([it.id for it in r.items], ["a", "item-1"])
        norm = sum(x * x for x in r.items[0].dense) ** 0.5
        self.assertGreater(abs(norm - 1.0), 1e-3)  # not normalised on request

    def test_embeddings_openai_shape(self):
        v = self.c.embeddings("bert", ["hello", "world"])
        self.assertEqual(len(v), 2)
        self.assertEqual(len(v[0]), 64)

    def test_models(self):
        ids = [m.id for m in self.c.models()]
        self.assertIn("bert", ids)
        self.assertIn("encode", self.c.model("bert").tasks)

    def test_errors_map_to_exceptions(self):
        with self.assertRaises(switchyard.ModelNotFoundError) as cm:
            self.c.encode("no-such-model", ["x"])
        self.assertEqual(cm.exception.status, 404)
        self.assertTrue(cm.exception.request_id)
        with self.assertRaises(switchyard.InvalidInputError) as cm:
            self.c.encode("bert", [{"text": "x"}], output_types=["nonsense"])
        self.assertEqual(cm.exception.code, "INVALID_INPUT")
        with self.assertRaises(switchyard.InvalidInputError):
            self.c.encode("bert", [])
        with self.assertRaises(TypeError):
            self.c.encode("bert", [7])

    def test_unsupported_task_is_clear(self):
        # bert-tiny is an embedding model: scoring with it is refused with a message.
        with self.assertRaises(switchyard.InvalidInputError) as cm:
            self.c.score("bert", "query", ["doc"])
        self.assertIn("bert", cm.exception.message)

    def test_score_and_rerank(self):
        docs = ["Bananas are rich in potassium.",
                "A switchyard is where railway cars are sorted onto tracks.", "x"]
        r = self.c.score("ce", "what is a switchyard?", [{"id": f"d{i}", "text": d}
                                                          for i, d in enumerate(docs)])
        self.assertEqual(sorted(s.item_id for s in r.scores), ["d0", "d1", "d2"])
        self.assertEqual([s.rank for s in r.scores], [0, 1, 2])
        self.assertTrue(all(a.score >= b.score for a, b in zip(r.scores, r.scores[1:])))
        rr = self.c.rerank("ce", "what is a switchyard?", docs, top_n=2, return_documents=True)
        self.assertEqual(len(rr), 2)
        self.assertEqual(rr[0].index, int(r.scores[0].item_id[1:]))
        self.assertEqual(rr[0].document, docs[rr[0].index])
        self.assertAlmostEqual(rr[0].relevance_score, r.scores[0].score, places=6)
        with self.assertRaises(switchyard.InvalidInputError):
            self.c.encode("ce", ["x"])  # a cross-encoder does not embed

    def test_images(self):
        # CLIP: image items (bytes, a path, or image_item) and texts in one space; zero-shot.
        root = os.path.join(os.path.dirname(__file__), "..", "..", "..")
        path = os.path.join(root, "tests", "fixtures", "images", "wide.jpg")
        gold = json.load(open(os.path.join(root, "tests", "golden", "clip-tiny.json")))
        want = {i["image"]: i["embed"] for i in gold["images"]}
        data = open(path, "rb").read()
        r = self.c.encode("clip", [data, switchyard.image_item(path, "jpeg", id="w"), "a cat"])
        self.assertEqual([it.id for it in r.items], ["item-0", "w", "item-2"])
        for v in r.dense[:2]:
            dot = sum(a * b for a, b in zip(v, want["wide.jpg"]))
            norm = sum(b * b for b in want["wide.jpg"]) ** 0.5
            self.assertGreater(dot / norm, 0.9999)
        s = self.c.score("clip", "a photo of a cat",
                         [switchyard.image_item(path, id="a"), switchyard.image_item(
                             os.path.join(root, "tests", "fixtures", "images", "small.png"), id="b")])
        self.assertAlmostEqual(sum(x.score for x in s.scores), 1.0, places=4)
        with self.assertRaises(switchyard.InvalidInputError):
            self.c.encode("clip", [data[: len(data) // 2]])  # truncated

    @unittest.skipUnless(TOKEN, "server without auth")
    def test_auth(self):
        with self.assertRaises(switchyard.UnauthorizedError) as cm:
            Client(URL).encode("bert", ["x"])
        self.assertEqual(cm.exception.status, 401)
        self.assertTrue(Client(URL).health())  # /healthz needs no token


class Stub(http.server.BaseHTTPRequestHandler):
    """Scripted answers: the class attribute `script` is a list of (status, headers, body)
    consumed one per request; the last one repeats."""
    protocol_version = "HTTP/1.1"
    script = []
    seen = []

    def log_message(self, *a):
        pass

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        Stub.seen.append((self.command, self.path, dict(self.headers), body))
        status, headers, payload = Stub.script[0] if len(Stub.script) == 1 else Stub.script.pop(0)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer


class StubServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
        cls.url = f"http://127.0.0.1:{cls.srv.server_address[1]}"
        threading.Thread(target=cls.srv.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()

    def setUp(self):
        Stub.seen = []

    OK = (200, {}, {"model": "m", "items": [{"id": "item-0", "dense": {"dims": 2, "values": [1, 0]}}],
                    "timing": {"queue_ms": 1, "tokenize_ms": 0, "inference_ms": 2, "total_ms": 3}})
    LOADING = (503, {"Retry-After": "0.1"},
               {"error": {"code": "MODEL_LOADING", "message": "model m is loading"}})

    def test_retries_503_with_retry_after(self):
        Stub.script = [self.LOADING, self.LOADING, self.OK]
        t0 = time.monotonic()
        r = Client(self.url, api_key="k").encode("m", "hi")
        self.assertEqual(r.dense, [[1, 0]])
        self.assertEqual(len(Stub.seen), 3)
        self.assertGreaterEqual(time.monotonic() - t0, 0.2)  # waited what Retry-After said
        self.assertEqual(Stub.seen[0][2].get("Authorization"), "Bearer k")
        self.assertEqual(json.loads(Stub.seen[0][3]), {"items": [{"text": "hi"}]})
        self.assertEqual(Stub.seen[0][1], "/v1/encode/m")

    def test_gives_up_after_budget(self):
        Stub.script = [(503, {"Retry-After": "1"},
                        {"error": {"code": "QUEUE_FULL", "message": "queue full"}})]
        t0 = time.monotonic()
        with self.assertRaises(switchyard.UnavailableError) as cm:
            Client(self.url, retry_budget_s=2.5).encode("m", "hi")
        self.assertEqual(cm.exception.code, "QUEUE_FULL")
        self.assertEqual(cm.exception.retry_after, 1.0)
        self.assertLess(time.monotonic() - t0, 4)
        self.assertEqual(len(Stub.seen), 3)  # t=0, 1, 2; a wait to t=3 would pass the budget

    def test_no_retry_on_4xx(self):
        Stub.script = [(422, {}, {"error": {"code": "INVALID_INPUT", "message": "too long"}})]
        with self.assertRaises(switchyard.InvalidInputError):
            Client(self.url).encode("m", "hi")
        self.assertEqual(len(Stub.seen), 1)

    def test_non_json_error_body(self):
        Stub.script = [(502, {}, b"<html>bad gateway</html>")]
        with self.assertRaises(switchyard.UpstreamError) as cm:
            Client(self.url).encode("m", "hi")
        self.assertIn("bad gateway", cm.exception.message)

    def test_budget_exhausted(self):
        Stub.script = [(429, {}, {"error": {"code": "BUDGET_EXHAUSTED", "message": "spent"}})]
        with self.assertRaises(switchyard.BudgetExhaustedError):
            Client(self.url).chat("r", [{"role": "user", "content": "hi"}])

    def test_connection_refused(self):
        with self.assertRaises(switchyard.ConnectionError):
            Client("http://127.0.0.1:9", max_retries=2, retry_budget_s=2).encode("m", "x")

    def test_model_id_with_slash(self):
        Stub.script = [self.OK]
        Client(self.url).encode("BAAI/bge-small-en-v1.5", "x")
        self.assertEqual(Stub.seen[0][1], "/v1/encode/BAAI/bge-small-en-v1.5")

    def test_score_extract_rerank_shapes(self):
        Stub.script = [(200, {}, {"model": "ce", "scores": [{"item_id": "item-1", "score": 0.9, "rank": 0},
                                                           {"item_id": "item-0", "score": 0.1, "rank": 1}]})]
        s = Client(self.url).score("ce", "q", ["a", "b"])
        self.assertEqual([x.item_id for x in s.scores], ["item-1", "item-0"])
        self.assertEqual(json.loads(Stub.seen[-1][3]),
                         {"query": {"text": "q"}, "items": [{"text": "a"}, {"text": "b"}]})
        Stub.script = [(200, {}, {"model": "g", "items": [{"id": "item-0", "entities": [
            {"text": "Tim Cook", "label": "person", "score": 0.9, "start": 0, "end": 8}]}]})]
        e = Client(self.url).extract("g", "Tim Cook is the CEO of Apple.", labels=["person"])
        self.assertEqual(e.items[0].entities[0].label, "person")
        self.assertEqual(json.loads(Stub.seen[-1][3])["params"], {"labels": ["person"]})
        Stub.script = [(200, {}, {"results": [{"index": 1, "relevance_score": 0.8,
                                               "document": {"text": "b"}}]})]
        rr = Client(self.url).rerank("ce", "q", ["a", "b"], top_n=1, return_documents=True)
        self.assertEqual((rr[0].index, rr[0].document), (1, "b"))

    def test_chat_stream(self):
        events = b"".join(b"data: " + json.dumps(
            {"choices": [{"delta": {"content": w}}]}).encode() + b"\n\n" for w in ["Hel", "lo"])
        Stub.script = [(200, {"Content-Type": "text/event-stream"}, events + b"data: [DONE]\n\n")]
        chunks = list(Client(self.url).chat("r", [{"role": "user", "content": "hi"}], stream=True))
        self.assertEqual("".join(c["choices"][0]["delta"]["content"] for c in chunks), "Hello")
        self.assertTrue(json.loads(Stub.seen[-1][3])["stream"])


if __name__ == "__main__":
    unittest.main(verbosity=1)
