"""A scripted OpenAI-compatible upstream for the routing tests (standard library only).

POST /v1/chat/completions behaves by the request's "model" (the upstream's model id):
  echo-*      answers "[<model>] <last user message>", usage from the text lengths; streams
              three chunks then a usage chunk and [DONE] when stream is true
  fail        HTTP 500
  auth        HTTP 401
  badreq      HTTP 400 (the request itself is refused)
  ratelimit   HTTP 429 with Retry-After: 1 on every odd call, an answer on every even one
  slow        waits 3 s before answering (racing, time-to-first-token timeouts)
  malformed   HTTP 200 with a body that is not JSON
  streamcut   a stream that sends two chunks and then drops the connection
  json        answers {"answer": 42, "confidence": 0.9} as content
  lowconf     answers "maybe 41; confidence: 0.2"
  labeler     answers "big" when the last user message contains "hard", a label with CR/LF and
              quotes when it contains "inject" (a model steered to break the decision log), else
              "small"
  quiz-P-MS   for evaluation suites: the last user message "item N: say WORD" is answered WORD
              when N % 10 < P / 10 (so P% of items 0..9 right), else "wrong", after MS ms
  judge       grades a judge prompt: "score: 9" when the text after EXPECTED ANSWER: appears in
              the text after ANSWER TO GRADE:, else "score: 2"
GET /stats returns {"calls": {model: n}, "disconnects": {model: n}, "last_body": {...}}.
Run: python3 mock_llm.py PORTFILE  (writes the port it listens on to PORTFILE).
"""
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
calls, disconnects, last_body = {}, {}, {}


def count(d, k):
    with lock:
        d[k] = d.get(k, 0) + 1
        return d[k]


def last_user(body):
    for m in reversed(body.get("messages", [])):
        if m.get("role") == "user":
            c = m.get("content")
            return c if isinstance(c, str) else " ".join(p.get("text", "") for p in c or [])
    return ""


def answer(model, content, body):
    prompt = sum(len(json.dumps(m)) for m in body.get("messages", [])) // 4
    return {"id": "chatcmpl-mock", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": len(content) // 4 + 1,
                      "total_tokens": prompt + len(content) // 4 + 1}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, obj=None, raw=None, headers=()):
        data = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/stats":
            with lock:
                self.send(200, {"calls": calls, "disconnects": disconnects, "last_body": last_body})
        else:
            self.send(404, {"error": "no"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(n) or b"{}")
        model = body.get("model", "")
        with lock:
            last_body[model] = body
        k = count(calls, model)
        text = last_user(body)
        stream = body.get("stream", False)
        try:
            if model == "fail":
                return self.send(500, {"error": {"message": "internal"}})
            if model == "auth":
                return self.send(401, {"error": {"message": "bad key"}})
            if model == "badreq":
                return self.send(400, {"error": {"message": "bad request"}})
            if model == "ratelimit" and k % 2 == 1:
                return self.send(429, {"error": {"message": "slow down"}}, headers=[("Retry-After", "1")])
            if model == "malformed":
                return self.send(200, raw=b"<html>oops")
            if model == "slow":
                for _ in range(30):
                    time.sleep(0.1)
                    try:  # notice a cancelled request: the socket reads EOF
                        self.connection.setblocking(False)
                        if self.connection.recv(1) == b"":
                            count(disconnects, model)
                            return
                    except BlockingIOError:
                        pass
                    finally:
                        self.connection.setblocking(True)
            if model.startswith("quiz-"):
                _, pct, ms = model.split("-")
                time.sleep(int(ms) / 1000)
                m = re.search(r"item (\d+): say (\w+)", text)
                right = m and int(m.group(1)) % 10 < int(pct) // 10
                return self.send(200, answer(model, m.group(2) if right else "wrong", body))
            if model == "judge":
                m = re.search(r"EXPECTED ANSWER:\n(.*?)\n\nANSWER TO GRADE:\n(.*?)\n\n", text, re.S)
                ok = m and m.group(1).strip().lower() in m.group(2).lower()
                return self.send(200, answer(model, "score: 9" if ok else "score: 2", body))
            content = {"json": '{"answer": 42, "confidence": 0.9}',
                       "lowconf": "maybe 41; confidence: 0.2",
                       "labeler": "big" if "hard" in text else
                       "sm\r\nall\"}\n{\"forged\":1}" if "inject" in text else "small"}.get(
                           model, f"[{model}] {text}")
            if not stream:
                return self.send(200, answer(model, content, body))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            parts = [content[i::3] for i in range(3)] if model != "streamcut" else ["one ", "two "]
            for i, p in enumerate(parts):
                ev = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0,
                      "model": model, "choices": [{"index": 0, "delta": ({"role": "assistant"} if i == 0 else {}) | {"content": p},
                                                    "finish_reason": None}]}
                self.wfile.write(b"data: " + json.dumps(ev).encode() + b"\n\n")
                self.wfile.flush()
                time.sleep(0.05)
            if model == "streamcut":
                self.connection.shutdown(2)
                return
            a = answer(model, content, body)
            fin = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0, "model": model,
                   "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": a["usage"]}
            self.wfile.write(b"data: " + json.dumps(fin).encode() + b"\n\ndata: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            count(disconnects, model)


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
with open(sys.argv[1], "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
