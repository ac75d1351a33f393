#!/usr/bin/env python3
"""A soak mix for bench/soak/run.sh: CLIENTS threads send a rotating mix of every route for
SECONDS, checking each answer's status against what that request must get. Prints per-route
counts and a last line "RESULT total bad" (bad: unexpected statuses or failed connections).

Usage: mix.py URL SECONDS CLIENTS
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse

URL = urllib.parse.urlparse(sys.argv[1])
SECONDS, CLIENTS = float(sys.argv[2]), int(sys.argv[3])

ENC = {"items": [{"text": "where do trains change tracks"}, {"text": "a switchyard at dusk"}]}
REQUESTS = [
    # name, method, path, body, acceptable statuses
    ("encode use-lite", "POST", "/v1/encode/use-lite", ENC, {200}),
    ("encode bert", "POST", "/v1/encode/bert", ENC, {200}),
    ("encode params", "POST", "/v1/encode/bert",
     dict(ENC, params={"normalize": False, "is_query": True, "truncate": True}), {200}),
    ("embeddings", "POST", "/v1/embeddings", {"model": "bert", "input": ["a", "b", "c"]}, {200}),
    ("embeddings b64", "POST", "/v1/embeddings",
     {"model": "use-lite", "input": "hello", "encoding_format": "base64"}, {200}),
    ("models", "GET", "/v1/models", None, {200}),
    ("model", "GET", "/v1/models/bert", None, {200}),
    ("healthz", "GET", "/healthz", None, {200}),
    ("metrics", "GET", "/metrics", None, {200}),
    ("status page", "GET", "/", None, {200}),
    ("bad json", "POST", "/v1/encode/bert", b"{not json", {400}),
    ("unknown model", "POST", "/v1/encode/nope", ENC, {404}),
    ("too many items", "POST", "/v1/encode/bert", {"items": [{"text": "x"}] * 5000}, {413}),
    ("score unsupported", "POST", "/v1/score/bert",
     {"query": {"text": "q"}, "items": [{"text": "d"}]}, {400}),
    # Unloading while others encode: they wait for the reload (200) or see 503 while it loads.
    ("unload", "POST", "/v1/models/bert/unload", b"", {200}),
]

lock = threading.Lock()
counts = {r[0]: [0, 0] for r in REQUESTS}
deadline = time.monotonic() + SECONDS


def client(k):
    conn = None
    i = k
    while time.monotonic() < deadline:
        name, method, path, body, ok = REQUESTS[i % len(REQUESTS)]
        i += 1
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        good = False
        try:
            if conn is None:
                conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=60)
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            good = r.status in ok or (r.status == 503 and r.getheader("Retry-After"))
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            if conn:
                conn.close()
            conn = None
        with lock:
            counts[name][0] += 1
            counts[name][1] += 0 if good else 1


threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
total = sum(c[0] for c in counts.values())
bad = sum(c[1] for c in counts.values())
for name, (n, b) in counts.items():
    print(f"{name:18s} {n:8d} requests  {b:4d} unexpected")
print(f"RESULT {total} {bad}")
