#!/usr/bin/env python3
"""Client side of tests/integration/server.sh: talks to a running `switchyard serve` and checks
every route and every error code. Standard library only.

usage: server_client.py MODE URL [ARGS...]
  basic URL CLI_JSONL TEXTS_FILE   routes, errors, limits, OpenAI shape, CLI agreement, concurrency
  sizes URL                        loads bert, roberta, distil; prints their bytes (for the budget)
  evict URL                        LRU eviction order under a budget that fits two of three models
  toobig URL                       a model larger than the budget fails clearly
  auth URL USER_TOKEN ADMIN_TOKEN  401s, user vs admin routes
  busy URL PID                     SIGTERM during long requests: they complete, /readyz turns 503
  pressure URL                     503 QUEUE_FULL and 503 MODEL_LOADING, both with Retry-After

Each check prints nothing when it passes; the first failure raises with a message and the exit
status is 1. The last line is "ok: N checks" on success.
"""
import base64
import http.client
import json
import math
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse

CHECKS = 0


def check(cond, msg):
    global CHECKS
    CHECKS += 1
    if not cond:
        raise AssertionError(msg)


class Client:
    def __init__(self, url, token=None):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.token = token
        self.conn = None

    def _conn(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        return self.conn

    def request(self, method, path, body=None, headers=None, token=None, raw=False):
        """Returns (status, headers dict (lower-case names), body bytes or parsed JSON)."""
        h = dict(headers or {})
        tok = token if token is not None else self.token
        if tok:
            h["Authorization"] = "Bearer " + tok
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        for attempt in range(2):
            c = self._conn()
            try:
                c.request(method, path, body=body, headers=h)
                r = c.getresponse()
                data = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closes connections after answering early (413 before the body).
                self.close()
                if attempt:
                    raise
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        if raw or not hdrs.get("content-type", "").startswith("application/json"):
            return r.status, hdrs, data
        return r.status, hdrs, json.loads(data) if data else None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def expect_error(c, method, path, body, status, code, fragment, headers=None):
    st, h, b = c.request(method, path, body, headers=headers)
    where = f"{method} {path}"
    check(st == status, f"{where}: expected {status}, got {st}: {b}")
    check(isinstance(b, dict) and "error" in b, f"{where}: no error object: {b}")
    check(b["error"].get("code") == code, f"{where}: code {b['error'].get('code')} != {code}")
    msg = b["error"].get("message", "")
    check(fragment in msg, f"{where}: message {msg!r} lacks {fragment!r}")
    check(h.get("x-request-id"), f"{where}: no X-Request-ID")
    return h, b


def healthy(c):
    st, _, b = c.request("GET", "/healthz")
    check(st == 200 and b.get("status") == "ok", f"/healthz after an error: {st} {b}")


def encode(c, model, texts, params=None, ids=None):
    items = [{"text": t} for t in texts]
    if ids:
        for it, i in zip(items, ids):
            it["id"] = i
    body = {"items": items}
    if params:
        body["params"] = params
    st, h, b = c.request("POST", "/v1/encode/" + model, body)
    check(st == 200, f"encode {model}: {st} {b}")
    return h, b


def vectors(resp):
    return [it["dense"]["values"] for it in resp["items"]]


def max_abs(a, b):
    return max(abs(x - y) for x, y in zip(a, b))


def norm(v):
    return math.sqrt(sum(x * x for x in v))


# ---------------------------------------------------------------------------------------------

def mode_basic(url, cli_jsonl, texts_file):
    c = Client(url)
    texts = [l.rstrip("\n") for l in open(texts_file, encoding="utf-8")]
    cli = [json.loads(l)["dense"] for l in open(cli_jsonl)]
    check(len(cli) == len(texts), "CLI output and texts differ in length")

    # Health, readiness, request ids.
    st, h, b = c.request("GET", "/healthz")
    # isa: the kernel path the server runs (src/tensor/isa.c)
    check(st == 200 and b == {"status": "ok", "isa": b.get("isa")}
          and b["isa"] in ("avx512", "avx2", "portable"), f"/healthz: {st} {b}")
    check(h.get("x-request-id", "").startswith("sy-"), f"generated X-Request-ID: {h}")
    st, h, b = c.request("GET", "/readyz")
    check(st == 200 and b.get("status") == "ready", f"/readyz: {st} {b}")
    st, h, _ = c.request("GET", "/healthz", headers={"X-Request-ID": "client-id.42"})
    check(h.get("x-request-id") == "client-id.42", f"X-Request-ID not echoed: {h}")
    st, h, _ = c.request("GET", "/healthz", headers={"X-Request-ID": "bad id <script>"})
    check(h.get("x-request-id", "").startswith("sy-"), f"insane X-Request-ID echoed: {h}")
    st, h, b = c.request("HEAD", "/healthz", raw=True)
    check(st == 200 and b == b"", f"HEAD /healthz: {st} {b!r}")

    # Encode: shape, ids, timing, headers, and the same vectors as `switchyard encode`.
    h, r = encode(c, "bert", texts)
    check(r["model"] == "bert", f"model echo: {r.get('model')}")
    check([it["id"] for it in r["items"]] == [f"item-{i}" for i in range(len(texts))],
          "default ids")
    for it in r["items"]:
        check(it["dense"]["dims"] == 64 and len(it["dense"]["values"]) == 64, "dims")
    t = r["timing"]
    for k in ("queue_ms", "tokenize_ms", "inference_ms", "total_ms"):
        check(isinstance(t.get(k), (int, float)) and t[k] >= 0, f"timing.{k}: {t}")
    for k in ("x-queue-time", "x-inference-time", "x-total-time", "x-request-id"):
        check(k in h, f"encode header {k} missing: {h}")
    worst = max(max_abs(a, b) for a, b in zip(vectors(r), cli))
    exact = sum(a == b for a, b in zip(vectors(r), cli))
    print(f"encode vs CLI: {exact}/{len(cli)} identical, max abs diff {worst:.3g}")
    check(worst <= 1e-6, f"server and CLI vectors differ by {worst}")
    for v in vectors(r):
        check(abs(norm(v) - 1) < 1e-5, "bert-tiny output is normalised by default")
    h, r = encode(c, "bert", texts[:3], ids=["a", "b/é", "c\"q"])
    check([it["id"] for it in r["items"]] == ["a", "b/é", "c\"q"], "ids echoed")

    # A model id with '/' in the path, and URL-escaped.
    _, r2 = encode(c, "nested/bert", texts[:3])
    check(max(max_abs(a, b) for a, b in zip(vectors(r2), cli[:3])) <= 1e-6, "nested/bert")
    _, r2 = encode(c, "nested%2Fbert", texts[:1])
    check(r2["model"] == "nested/bert", f"escaped slash: {r2['model']}")

    # Params.
    _, r = encode(c, "bert", texts[:2], {"output_types": ["dense"], "normalize": False,
                                         "truncate": True, "is_query": False,
                                         "output_dtype": "float32"})
    check(any(abs(norm(v) - 1) > 1e-3 for v in vectors(r)), "normalize:false had no effect")
    _, r = encode(c, "bert", texts[:2], {"instruction": "query: "})
    check(max_abs(vectors(r)[0], cli[0]) > 1e-4, "instruction had no effect")
    long_text = " ".join(["word"] * 300)
    expect_error(c, "POST", "/v1/encode/bert",
                 {"items": [{"text": long_text}], "params": {"truncate": False}}, 422,
                 "INVALID_INPUT", "")
    healthy(c)
    expect_error(c, "POST", "/v1/encode/bert",
                 {"items": [{"text": "x"}], "params": {"output_types": ["sparse"]}}, 400,
                 "INVALID_INPUT", "does not support sparse")
    expect_error(c, "POST", "/v1/encode/bert",
                 {"items": [{"text": "x"}], "params": {"output_types": ["dense", "multivector"]}},
                 400, "INVALID_INPUT", "does not support multivector")
    expect_error(c, "POST", "/v1/encode/nope",
                 {"items": [{"text": "x"}], "params": {"output_types": ["sparse"]}}, 404,
                 "MODEL_NOT_FOUND", "nope")
    expect_error(c, "POST", "/v1/encode/bert",
                 {"items": [{"text": "x"}], "params": {"output_types": ["colour"]}}, 400,
                 "INVALID_INPUT", "params.output_types[0]")
    expect_error(c, "POST", "/v1/encode/bert",
                 {"items": [{"text": "x"}], "params": {"output_dtype": "int4"}}, 400,
                 "INVALID_INPUT", "params.output_dtype")
    expect_error(c, "POST", "/v1/encode/bert",
                 {"items": [{"text": "x"}], "params": {"options": {"max_seq_length": -8}}}, 400,
                 "INVALID_INPUT", "params.options.max_seq_length")
    expect_error(c, "POST", "/v1/encode/bert",
                 {"items": [{"text": "x"}], "params": {"options": {"pooling": "median"}}}, 400,
                 "INVALID_INPUT", "params.options.pooling")
    expect_error(c, "POST", "/v1/encode/bert",
                 {"items": [{"text": "x"}], "params": {"normalize": "yes"}}, 400,
                 "INVALID_INPUT", "params.normalize: expected boolean")

    # Score needs a cross-encoder (tests/integration/score.sh); extract has no model yet.
    expect_error(c, "POST", "/v1/score/bert", {"query": {"text": "q"}, "items": [{"text": "x"}]},
                 400, "INVALID_INPUT", "model bert does not support score")
    expect_error(c, "POST", "/v1/extract/bert",
                 {"items": [{"text": "x"}], "params": {"labels": ["person"]}}, 400,
                 "INVALID_INPUT", "model bert does not support extract")
    expect_error(c, "POST", "/v1/score/nope", {"query": {"text": "q"}, "items": [{"text": "d"}]}, 404,
                 "MODEL_NOT_FOUND", "nope")

    # Unknown models, routes and methods.
    expect_error(c, "POST", "/v1/encode/nope", {"items": [{"text": "x"}]}, 404,
                 "MODEL_NOT_FOUND", "nope")
    expect_error(c, "POST", "/v1/encode/", {"items": [{"text": "x"}]}, 404,
                 "MODEL_NOT_FOUND", "")
    expect_error(c, "GET", "/v2/nothing", None, 404, "NOT_FOUND", "/v2/nothing")
    h, _ = expect_error(c, "GET", "/v1/encode/bert", None, 405, "METHOD_NOT_ALLOWED", "POST")
    check("POST" in h.get("allow", ""), f"405 without Allow: {h}")
    expect_error(c, "POST", "/healthz", {}, 405, "METHOD_NOT_ALLOWED", "GET")
    expect_error(c, "DELETE", "/v1/models/bert", None, 405, "METHOD_NOT_ALLOWED", "")
    healthy(c)

    # A model that cannot load: 502, remembered in /v1/models.
    expect_error(c, "POST", "/v1/encode/broken", {"items": [{"text": "x"}]}, 502,
                 "MODEL_LOAD_FAILED", "")
    expect_error(c, "POST", "/v1/encode/broken", {"items": [{"text": "x"}]}, 502,
                 "MODEL_LOAD_FAILED", "")
    healthy(c)

    # Bad input: each answers 4xx naming the problem, and the server keeps serving.
    bad = [
        (b"{not json", 400, "malformed JSON"),
        (b"", 400, "body"),
        (b"[1,2]", 400, "expected a JSON object"),
        (b'{"items":[{"text":"a"}]} trailing', 400, "unexpected data"),
        (b"{}", 400, "items: required"),
        (b'{"items":"abc"}', 400, "items: expected array"),
        (b'{"items":[]}', 400, "items: must not be empty"),
        (b'{"items":[{"text":"a"},{"text":"b"},{"text":7}]}', 400,
         "items[2].text: expected string"),
        (b'{"items":[{"txt":"a"}]}', 400, "items[0].text: required"),
        (b'{"items":[42]}', 400, "items[0]: expected object"),
        (b'{"items":[{"text":"a","id":5}]}', 400, "items[0].id: expected string"),
        (b'{"items":[{"text":"ok"},{"text":"caf\xe9 \xff"}]}', 400,
         "items[1].text: invalid UTF-8"),
        (b'{"items":[{"text":"\\ud800"}]}', 400, "malformed JSON"),
        (b'{"items":[{"text":"a"}],"params":[1]}', 400, "params: expected object"),
        (b"[" * 5000 + b"]" * 5000, 400, "malformed JSON"),
    ]
    for body, status, frag in bad:
        expect_error(c, "POST", "/v1/encode/bert", body, status, "INVALID_INPUT", frag)
        healthy(c)
    # Limits (this server: --max-items 64 --max-chars 2000 --max-body-bytes 1M).
    expect_error(c, "POST", "/v1/encode/bert", {"items": [{"text": "x"}] * 65}, 413,
                 "INVALID_INPUT", "65 items exceed the limit of 64")
    healthy(c)
    expect_error(c, "POST", "/v1/encode/bert", {"items": [{"text": "é" * 2001}]}, 422,
                 "INVALID_INPUT", "items[0].text: 2001 characters exceed the limit of 2000")
    healthy(c)
    big = json.dumps({"items": [{"text": "x" * 100}] * 100000}).encode()
    st, b = expect_continue_post(c, "/v1/encode/bert", big)
    check(st == 413 and b"exceed the limit of 1048576" in b, f"oversized body: {st} {b}")
    healthy(c)
    huge = json.dumps({"items": [{"text": "y" * 1000}] * 1500}).encode()
    check(chunked_post(c, "/v1/encode/bert", huge) == 413, "chunked oversized body: not 413")
    healthy(c)
    _, r = encode(c, "bert", ["x"] * 64)
    check(len(r["items"]) == 64, "64 items (at the limit) accepted")

    # OpenAI embeddings.
    st, h, r = c.request("POST", "/v1/embeddings", {"model": "bert", "input": texts[0]})
    check(st == 200, f"embeddings: {st} {r}")
    check(r["object"] == "list" and r["model"] == "bert", f"embeddings shape: {r}")
    check(len(r["data"]) == 1 and r["data"][0]["object"] == "embedding" and
          r["data"][0]["index"] == 0, "embeddings data[0]")
    check(max_abs(r["data"][0]["embedding"], cli[0]) <= 1e-6, "embeddings vs CLI")
    u = r["usage"]
    check(u["prompt_tokens"] > 2 and u["total_tokens"] == u["prompt_tokens"], f"usage {u}")
    check("x-total-time" in h, "embeddings timing headers")
    st, _, r = c.request("POST", "/v1/embeddings", {"model": "bert", "input": texts[:4],
                                                     "encoding_format": "float"})
    check(st == 200 and [d["index"] for d in r["data"]] == [0, 1, 2, 3], "array input")
    floats = [d["embedding"] for d in r["data"]]
    tokens4 = r["usage"]["prompt_tokens"]
    st, _, r = c.request("POST", "/v1/embeddings", {"model": "bert", "input": texts[:4],
                                                     "encoding_format": "base64",
                                                     "dimensions": 64})
    check(st == 200, f"base64: {st} {r}")
    for d, f in zip(r["data"], floats):
        raw = base64.b64decode(d["embedding"])
        v = struct.unpack("<%df" % (len(raw) // 4), raw)
        check(len(v) == 64 and max_abs(v, f) <= 1e-6, "base64 decodes to the float vector")
    check(r["usage"]["prompt_tokens"] == tokens4, "usage is the same for both formats")
    st, _, r1 = c.request("POST", "/v1/embeddings", {"model": "bert", "input": "hello"})
    st, _, r2 = c.request("POST", "/v1/embeddings", {"model": "bert", "input": "hello " * 20})
    check(r2["usage"]["prompt_tokens"] > r1["usage"]["prompt_tokens"], "usage counts tokens")
    expect_error(c, "POST", "/v1/embeddings", {"model": "bert", "input": "x", "dimensions": 32},
                 400, "INVALID_INPUT", "dimensions")
    expect_error(c, "POST", "/v1/embeddings", {"model": "bert", "input": [[1, 2, 3]]}, 400,
                 "INVALID_INPUT", "token-id arrays")
    expect_error(c, "POST", "/v1/embeddings", {"model": "bert", "input": [1, 2]}, 400,
                 "INVALID_INPUT", "token-id arrays")
    expect_error(c, "POST", "/v1/embeddings", {"input": "x"}, 400, "INVALID_INPUT",
                 "model: required")
    expect_error(c, "POST", "/v1/embeddings", {"model": "bert"}, 400, "INVALID_INPUT",
                 "input: required")
    expect_error(c, "POST", "/v1/embeddings", {"model": "bert", "input": "x",
                                               "encoding_format": "hex"}, 400,
                 "INVALID_INPUT", "encoding_format")
    expect_error(c, "POST", "/v1/embeddings", {"model": "nope", "input": "x"}, 404,
                 "MODEL_NOT_FOUND", "nope")
    healthy(c)

    # Models: list shape (DESIGN.md section 10), one model, admin load/unload (no auth here).
    st, _, r = c.request("GET", "/v1/models")
    check(st == 200 and r["object"] == "list", f"/v1/models: {r}")
    by_id = {m["id"]: m for m in r["data"]}
    for mid in ("bert", "roberta", "distil", "nested/bert", "broken"):
        check(mid in by_id, f"{mid} missing from /v1/models")
    for m in r["data"]:
        check(m["state"] in ("available", "loading", "loaded", "failed"), f"state {m}")
        check(m["tasks"] == ["encode"] and isinstance(m["bytes"], int), f"fields {m}")
    check(by_id["bert"]["state"] == "loaded" and by_id["bert"]["bytes"] > 0, "bert loaded")
    check(by_id["broken"]["state"] == "failed" and by_id["broken"].get("error"),
          f"broken model: {by_id['broken']}")
    st, _, m = c.request("GET", "/v1/models/nested/bert")
    check(st == 200 and m["id"] == "nested/bert", f"/v1/models/nested/bert: {m}")
    expect_error(c, "GET", "/v1/models/nope", None, 404, "MODEL_NOT_FOUND", "nope")
    st, _, m = c.request("POST", "/v1/models/roberta/load", b"")
    check(st == 200 and m["state"] == "loaded" and m["dims"] > 0, f"admin load: {st} {m}")
    st, _, m = c.request("POST", "/v1/models/roberta/unload", b"")
    check(st == 200 and m["state"] == "available", f"admin unload: {st} {m}")
    expect_error(c, "POST", "/v1/models/nope/load", b"", 404, "MODEL_NOT_FOUND", "nope")

    # Metrics and the status page.
    st, h, text = c.request("GET", "/metrics")
    text = text.decode()
    check(st == 200 and h["content-type"].startswith("text/plain"), "metrics content type")
    for name in ("switchyard_http_requests_total{route=\"encode\",status=\"200\"}",
                 "switchyard_http_requests_total{route=\"encode\",status=\"413\"}",
                 "switchyard_http_request_duration_seconds_bucket{route=\"encode\",le=\"+Inf\"}",
                 "switchyard_queue_items", "switchyard_batch_size_bucket",
                 "switchyard_model_tokens_total{model=\"bert\"}", "switchyard_models_loaded",
                 "switchyard_model_bytes{model=\"bert\"}", "switchyard_evictions_total",
                 "switchyard_load_failures_total", "switchyard_memory_used_bytes"):
        check(name in text, f"/metrics lacks {name}")
    failures = [l for l in text.splitlines() if l.startswith("switchyard_load_failures_total ")]
    check(failures and int(failures[0].split()[1]) >= 1, f"load failures counted: {failures}")
    st, h, page = c.request("GET", "/")
    page = page.decode()
    check(st == 200 and h["content-type"].startswith("text/html"), "status page type")
    # the page carries its first snapshot and polls /v1/status instead of reloading itself
    check("Switchyard" in page and "nested/bert" in page and 'http-equiv="refresh"' not in page
          and 'fetch("/v1/status"' in page, "status page content")
    st, h, body = c.request("GET", "/v1/status")
    status = body if isinstance(body, dict) else json.loads(body)
    check(st == 200 and any(m["id"] == "nested/bert" for m in status["models"])
          and "client_errors_4xx" in status["requests"], f"/v1/status: {status}")
    check("http://" not in page.replace('href="/', ""), "status page has no external assets")

    # Concurrency: 16 threads, mixed requests; every answer equals the CLI's vector.
    errors = []
    ids = set()
    lock = threading.Lock()

    def worker(k):
        cc = Client(url)
        try:
            for j in range(6):
                sel = [(k * 7 + j * 3 + i) % len(texts) for i in range(1 + (k + j) % 5)]
                st, h, r = cc.request("POST", "/v1/encode/bert",
                                      {"items": [{"text": texts[i]} for i in sel]})
                if st != 200:
                    errors.append(f"thread {k}: {st} {r}")
                    return
                for i, v in zip(sel, vectors(r)):
                    if max_abs(v, cli[i]) > 1e-6:
                        errors.append(f"thread {k}: text {i} differs")
                with lock:
                    ids.add(h["x-request-id"])
        finally:
            cc.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    check(not errors, f"concurrent clients: {errors[:3]}")
    check(len(ids) == 16 * 6, f"request ids not unique: {len(ids)}")
    healthy(c)
    c.close()


def expect_continue_post(c, path, body):
    """POSTs with Content-Length and "Expect: 100-continue", as curl does for large bodies, and
    sends the body only if the server asks for it. Returns (status, body bytes)."""
    s = socket.create_connection((c.host, c.port), timeout=30)
    try:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                  "Expect: 100-continue\r\nContent-Type: application/json\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            got = s.recv(4096)
            if not got:
                break
            data += got
        if data.startswith(b"HTTP/1.1 100"):
            s.sendall(body)
            data = data.split(b"\r\n\r\n", 1)[1]
            while b"\r\n\r\n" not in data:
                got = s.recv(4096)
                if not got:
                    break
                data += got
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(rest) < length:
            got = s.recv(4096)
            if not got:
                break
            rest += got
        return int(head.split(b" ")[1]), rest
    finally:
        s.close()


def chunked_post(c, path, body):
    """POSTs body with Transfer-Encoding: chunked (no Content-Length); returns the status."""
    s = socket.create_connection((c.host, c.port), timeout=30)
    try:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Type: application/json\r\n\r\n".encode())
        for i in range(0, len(body), 65536):
            part = body[i:i + 65536]
            try:
                s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
        try:
            s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        while b"\r\n" not in data:
            got = s.recv(4096)
            if not got:
                break
            data += got
        return int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1") else -1
    finally:
        s.close()


def mode_sizes(url):
    c = Client(url)
    out = []
    for m in ("bert", "roberta", "distil"):
        st, _, r = c.request("POST", f"/v1/models/{m}/load", b"")
        check(st == 200 and r["bytes"] > 0, f"load {m}: {st} {r}")
        out.append(r["bytes"])
    print(" ".join(map(str, out)))


def states(c):
    st, _, r = c.request("GET", "/v1/models")
    check(st == 200, "/v1/models")
    return {m["id"]: m for m in r["data"]}


def mode_evict(url):
    c = Client(url)
    encode(c, "bert", ["one"])
    time.sleep(0.02)
    encode(c, "roberta", ["two"])
    s = states(c)
    check(s["bert"]["state"] == "loaded" and s["roberta"]["state"] == "loaded",
          f"two models fit: {[(k, v['state']) for k, v in s.items()]}")
    time.sleep(0.02)
    encode(c, "distil", ["three"])  # evicts the least recently used: bert
    s = states(c)
    order = [(k, v["state"]) for k, v in s.items()]
    check(s["bert"]["state"] == "available" and s["bert"]["evictions"] == 1,
          f"bert (LRU) evicted first: {order}")
    check(s["roberta"]["state"] == "loaded" and s["distil"]["state"] == "loaded",
          f"roberta and distil loaded: {order}")
    time.sleep(0.02)
    encode(c, "roberta", ["touch"])  # roberta is now the most recent
    time.sleep(0.02)
    encode(c, "bert", ["four"])  # evicts distil, now the least recently used
    s = states(c)
    order = [(k, v["state"]) for k, v in s.items()]
    check(s["distil"]["state"] == "available" and s["distil"]["evictions"] == 1,
          f"distil evicted second: {order}")
    check(s["bert"]["state"] == "loaded" and s["roberta"]["state"] == "loaded",
          f"bert reloaded, roberta kept: {order}")
    check(s["bert"]["loads"] == 2, f"bert loaded twice: {s['bert']}")
    st, _, text = c.request("GET", "/metrics")
    ev = [l for l in text.decode().splitlines() if l.startswith("switchyard_evictions_total ")]
    check(ev and int(ev[0].split()[1]) == 2, f"evictions metric: {ev}")
    print("eviction order:", order)


def mode_toobig(url):
    c = Client(url)
    expect_error(c, "POST", "/v1/encode/bert", {"items": [{"text": "x"}]}, 502,
                 "MODEL_LOAD_FAILED", "budget")
    healthy(c)


def mode_auth(url, user, admin):
    c = Client(url)
    for p in ("/healthz", "/readyz"):
        st, _, _ = c.request("GET", p)
        check(st == 200, f"{p} must not need a token: {st}")
    h, _ = expect_error(c, "GET", "/v1/models", None, 401, "UNAUTHORIZED", "Bearer")
    check(h.get("www-authenticate", "").startswith("Bearer"), "WWW-Authenticate")
    expect_error(c, "GET", "/v1/models", None, 401, "UNAUTHORIZED", "invalid",
                 headers={"Authorization": "Bearer wrong"})
    expect_error(c, "POST", "/v1/encode/bert", {"items": [{"text": "x"}]}, 401,
                 "UNAUTHORIZED", "")
    expect_error(c, "GET", "/metrics", None, 401, "UNAUTHORIZED", "")
    expect_error(c, "GET", "/", None, 401, "UNAUTHORIZED", "")
    expect_error(c, "POST", "/v1/embeddings", {"model": "bert", "input": "x"}, 401,
                 "UNAUTHORIZED", "")
    st, _, _ = c.request("GET", "/v1/models", token=user)
    check(st == 200, f"user token on /v1/models: {st}")
    st, _, r = c.request("POST", "/v1/encode/bert", {"items": [{"text": "x"}]}, token=user)
    check(st == 200, f"user token on encode: {st} {r}")
    st, _, _ = c.request("GET", "/metrics", token=user)
    check(st == 200, "user token on /metrics")
    expect_error(Client(url, user), "POST", "/v1/models/bert/unload", b"", 401, "UNAUTHORIZED",
                 "admin token")
    st, _, r = c.request("POST", "/v1/models/bert/unload", b"", token=admin)
    check(st == 200 and r["state"] == "available", f"admin unload: {st} {r}")
    st, _, r = c.request("POST", "/v1/models/bert/load", b"", token=admin)
    check(st == 200 and r["state"] == "loaded", f"admin load: {st} {r}")
    st, _, r = c.request("POST", "/v1/encode/bert", {"items": [{"text": "x"}]}, token=admin)
    check(st == 200, "admin token works on ordinary routes")
    # Server paths in load errors are for the admin token only (issue 23.16).
    st, _, r = c.request("POST", "/v1/encode/broken", {"items": [{"text": "x"}]}, token=user)
    msg = r["error"]["message"]
    check(st == 502 and "<path>" in msg and "/broken-model" not in msg, f"user sees a path: {msg}")
    st, _, r = c.request("GET", "/v1/models/broken", token=user)
    check("/broken-model" not in r.get("error", "") and "<path>" in r.get("error", ""), f"{r}")
    st, _, r = c.request("GET", "/v1/models", token=user)
    check(not any("/broken-model" in m.get("error", "") for m in r["data"]), "paths in the list")
    st, _, raw = c.request("GET", "/", token=user, raw=True)
    check(st == 200 and b"/broken-model" not in raw, "paths on the status page")
    st, _, r = c.request("POST", "/v1/encode/broken", {"items": [{"text": "x"}]}, token=admin)
    check(st == 502 and "/broken-model/config.json" in r["error"]["message"], f"admin: {r}")


def long_texts(n, seed):
    import random
    rnd = random.Random(seed)
    words = "alpha beta gamma delta river mountain quick brown fox jumps over lazy dog".split()
    return [" ".join(rnd.choice(words) for _ in range(80)) for _ in range(n)]


def mode_pressure(url):
    """This server: --max-queue-items 100 --load-wait-ms 1 --threads 1."""
    body = {"items": [{"text": t} for t in long_texts(64, 3)]}
    st, _, b = Client(url).request("POST", "/v1/models/bert/load", b"")
    check(st == 200, f"preload bert: {st} {b}")
    # QUEUE_FULL: 16 clients at once put 16 x 64 items in front of a queue bounded at 100.
    seen = None
    for _ in range(5):
        answers = []
        barrier = threading.Barrier(16)

        def one():
            cc = Client(url)
            barrier.wait()
            answers.append(cc.request("POST", "/v1/encode/bert", body))
            cc.close()

        threads = [threading.Thread(target=one) for _ in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        for st, h, b in answers:
            check(st in (200, 503), f"under pressure: {st} {b}")
            if st == 503:
                seen = (h, b)
        if seen:
            break
    check(seen is not None, "16 x 64 items never filled a queue of 100")
    h, b = seen
    check(b["error"]["code"] == "QUEUE_FULL" and "queue full" in b["error"]["message"],
          f"QUEUE_FULL body: {b}")
    check(h.get("retry-after", "").isdigit(), f"QUEUE_FULL without Retry-After: {h}")
    c = Client(url)
    healthy(c)
    # A request over the whole queue bound can never be admitted: 422, not 503.
    st, _, b = c.request("POST", "/v1/encode/bert", {"items": [{"text": "x"}] * 101})
    check(st == 422 and b["error"]["code"] == "INVALID_INPUT", f"101 items: {st} {b}")
    # MODEL_LOADING: requests that arrive while a load runs wait 1 ms, then get 503.
    seen = None
    for _ in range(10):
        c.request("POST", "/v1/models/roberta/unload", b"")
        loader = threading.Thread(
            target=lambda: Client(url).request("POST", "/v1/models/roberta/load", b""))
        loader.start()
        # Send the encode only once the admin load is under way, so it finds the model loading.
        deadline = time.time() + 2
        while time.time() < deadline:
            state = states(c)["roberta"]["state"]
            if state != "available":
                break
        if state == "loading":
            st, h, b = c.request("POST", "/v1/encode/roberta", {"items": [{"text": "x"}]})
            check(st in (200, 503), f"encode during a load: {st} {b}")
            if st == 503:
                seen = (h, b)
        loader.join()
        if seen:
            break
    check(seen is not None, "no request ever saw the model loading")
    h, b = seen
    check(b["error"]["code"] == "MODEL_LOADING" and "loading" in b["error"]["message"],
          f"MODEL_LOADING body: {b}")
    check(h.get("retry-after", "").isdigit(), f"MODEL_LOADING without Retry-After: {h}")
    healthy(c)


def mode_busy(url, pid):
    n = 2000
    body = {"items": [{"text": t} for t in long_texts(n, 7)]}
    results = [None] * 4

    sent = [threading.Event() for _ in range(4)]
    payload = json.dumps(body).encode()
    u = urllib.parse.urlparse(url)

    def long_request(k):
        # http.client directly, so the thread can say when its whole request has been sent:
        # the signal must come only after every request reached the server.
        try:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
            c.request("POST", "/v1/encode/bert", body=payload,
                      headers={"Content-Type": "application/json"})
            sent[k].set()
            r = c.getresponse()
            data = r.read()
            results[k] = (r.status, {}, json.loads(data))
            c.close()
        except Exception as e:  # noqa: BLE001 (reported below)
            sent[k].set()
            results[k] = e

    keep = Client(url)  # a connection opened before the signal
    st, _, _ = keep.request("GET", "/readyz")
    check(st == 200, "/readyz before the signal")
    threads = [threading.Thread(target=long_request, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for ev in sent:
        ev.wait(30)
    # Wait until the engine has admitted all four requests (the model's request counter counts
    # at admission), so that none is still unread in its socket when the signal comes: the
    # server only answers requests it has read.
    deadline = time.time() + 30
    admitted = 0
    while time.time() < deadline and admitted < 4:
        st, _, b = keep.request("GET", "/v1/models/bert")
        admitted = b.get("requests", 0) if st == 200 and isinstance(b, dict) else 0
        if admitted < 4:
            time.sleep(0.02)
    check(admitted >= 4, f"long requests never all admitted ({admitted})")
    os.kill(pid, signal.SIGTERM)
    time.sleep(0.1)
    st, _, b = keep.request("GET", "/readyz")
    check(st == 503 and b.get("status") == "draining", f"/readyz while draining: {st} {b}")
    for th in threads:
        th.join(30)
    for k, r in enumerate(results):
        check(not isinstance(r, Exception) and r is not None, f"long request {k}: {r}")
        st, _, b = r
        check(st == 200 and len(b["items"]) == n, f"long request {k} finished: {st}")
    refused = False
    try:
        Client(url).request("GET", "/healthz")
    except OSError:
        refused = True
    check(refused, "new connections are refused after SIGTERM")


def main():
    mode, url, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    fn = {"basic": mode_basic, "sizes": mode_sizes, "evict": mode_evict, "toobig": mode_toobig,
          "auth": mode_auth, "pressure": mode_pressure, "busy": lambda u, p: mode_busy(u, int(p))}[mode]
    try:
        fn(url, *args)
    except AssertionError as e:
        print(f"FAIL ({mode}): {e}")
        sys.exit(1)
    if mode != "sizes":
        print(f"ok: {mode}: {CHECKS} checks")


if __name__ == "__main__":
    main()
