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
  grader      grades a route judge's prompt: "score: N" when the text after ANSWER TO GRADE:
              names a model echo-qN (so echo-q2 answers score 2, echo-q8 answers 8), else
              "score: 0"
  mute-grader answers "I would rather not say" (a reply without a score)
POST /anthropic/v1/messages speaks Anthropic's Messages API and
POST /gemini/v1beta/models/MODEL:generateContent (and :streamGenerateContent?alt=sse) Google's
Gemini API, each checking its key header (x-api-key with anthropic-version, x-goog-api-key: the
key must be "k-anthropic" / "k-gemini", else a 401 in the provider's error shape) and behaving by
the model as above for echo-*, fail (Anthropic: 529 overloaded_error; Gemini: 503 UNAVAILABLE),
badreq (400 in the provider's error shape), streamcut and:
  tool        answers a call of the request's first tool with {"city": "Paris"}
  streamerr   (Anthropic) a stream that sends an error event after its first text
Whatever the model: an Anthropic request forcing one tool (tool_choice {"type": "tool"}, as
response_format becomes) is answered by a call of that tool with {"city": "Paris"}; a Gemini
request with generationConfig.responseMimeType application/json is answered {"city": "Paris"}
as text, and one with candidateCount N gets N candidates (the echo, then "#i" appended), in
streams too (index 0 without its field, as proto3 JSON leaves it out).
The translated request is kept in last_body under "anthropic:MODEL" / "gemini:MODEL".
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


def thirds(text):
    """text in three consecutive pieces (the provider streams' deltas)"""
    n = len(text) // 3 + 1
    return [text[:n], text[n:2 * n], text[2 * n:]]


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

    def sse(self, events):
        """Sends events (bytes each, already framed) as a stream, then closes."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for ev in events:
            if ev is None:  # cut the stream here
                self.connection.shutdown(2)
                return
            self.wfile.write(ev)
            self.wfile.flush()
            time.sleep(0.03)
        self.close_connection = True

    def anthropic(self, body):
        model = body.get("model", "")
        with lock:
            last_body["anthropic:" + model] = body
        count(calls, "anthropic:" + model)
        if self.headers.get("x-api-key") != "k-anthropic" or not self.headers.get("anthropic-version"):
            return self.send(401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
        if model == "fail":
            return self.send(529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
        if model == "badreq" or not isinstance(body.get("max_tokens"), int):
            return self.send(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: field required" if model != "badreq" else "messages: roles must alternate"}})
        msgs = body.get("messages", [])
        last = msgs[-1]["content"] if msgs else ""
        if isinstance(last, list):
            last = " ".join(b.get("text", "") or str(b.get("content", "")) for b in last)
        text = f"[{model}] {last}"
        intoks = len(json.dumps(msgs)) // 4 + len(body.get("system", "")) // 4
        blocks = [{"type": "text", "text": text}]
        stop = "end_turn"
        forced = (body.get("tool_choice") or {}).get("type") == "tool"
        if (model == "tool" and body.get("tools")) or forced:
            name = body["tool_choice"]["name"] if forced else body["tools"][0]["name"]
            blocks = [{"type": "tool_use", "id": "toolu_1", "name": name, "input": {"city": "Paris"}}]
            stop = "tool_use"
        outtoks = len(text) // 4 + 1
        if not body.get("stream"):
            return self.send(200, {"id": "msg_mock", "type": "message", "role": "assistant", "model": model,
                                   "content": blocks, "stop_reason": stop, "stop_sequence": None,
                                   "usage": {"input_tokens": intoks, "output_tokens": outtoks}})
        def ev(name, obj):
            return f"event: {name}\ndata: {json.dumps(obj)}\n\n".encode()
        evs = [ev("message_start", {"type": "message_start", "message": {"id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": [], "stop_reason": None, "usage": {"input_tokens": intoks, "output_tokens": 1}}}),
               ev("ping", {"type": "ping"})]
        if stop == "tool_use":
            evs += [ev("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_1", "name": blocks[0]["name"], "input": {}}}),
                    ev("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"city": '}}),
                    ev("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'}})]
        else:
            evs.append(ev("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))
            for i, p in enumerate(thirds(text)):
                evs.append(ev("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}))
                if model == "streamcut" and i == 1:
                    evs.append(None)
                if model == "streamerr" and i == 0:
                    evs.append(ev("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
        evs += [ev("content_block_stop", {"type": "content_block_stop", "index": 0}),
                ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": outtoks}}),
                ev("message_stop", {"type": "message_stop"})]
        self.sse(evs)

    def gemini(self, body):
        m = re.match(r"/gemini/v1beta/models/([^:/]+):(generateContent|streamGenerateContent)(\?alt=sse)?$", self.path)
        if not m:
            return self.send(404, {"error": {"code": 404, "message": "no such method", "status": "NOT_FOUND"}})
        model, method = m.group(1), m.group(2)
        with lock:
            last_body["gemini:" + model] = body
        count(calls, "gemini:" + model)
        if self.headers.get("x-goog-api-key") != "k-gemini":
            return self.send(403, {"error": {"code": 403, "message": "API key not valid", "status": "PERMISSION_DENIED"}})
        if model == "fail":
            return self.send(503, {"error": {"code": 503, "message": "The model is overloaded", "status": "UNAVAILABLE"}})
        if model == "badreq":
            return self.send(400, {"error": {"code": 400, "message": "Invalid JSON payload", "status": "INVALID_ARGUMENT"}})
        contents = body.get("contents", [])
        last = " ".join(p.get("text", "") for p in contents[-1]["parts"]) if contents else ""
        text = f"[{model}] {last}"
        intoks = len(json.dumps(contents)) // 4
        outtoks = len(text) // 4 + 1
        gc = body.get("generationConfig", {})
        if gc.get("responseMimeType") == "application/json":
            text = json.dumps({"city": "Paris"})
        n = gc.get("candidateCount", 1)
        texts = [text] + [f"{text} #{i}" for i in range(1, n)]
        parts = [{"text": text}]
        tools = body.get("tools", [{}])[0].get("functionDeclarations") if body.get("tools") else None
        if model == "tool" and tools:
            parts = [{"functionCall": {"name": tools[0]["name"], "args": {"city": "Paris"}}}]
        usage = {"promptTokenCount": intoks, "candidatesTokenCount": outtoks * n, "totalTokenCount": intoks + outtoks * n}
        def cand(ps, finish, i):
            c = {"content": {"role": "model", "parts": ps}}
            if i:
                c["index"] = i
            if finish:
                c["finishReason"] = finish
            return c
        def resp(cands, u):
            r = {"candidates": cands, "modelVersion": model, "responseId": "gem-mock"}
            if u:
                r["usageMetadata"] = u
            return r
        if method == "generateContent":
            if "functionCall" in parts[0]:
                return self.send(200, resp([cand(parts, "STOP", 0)], usage))
            return self.send(200, resp([cand([{"text": t}], "STOP", i) for i, t in enumerate(texts)], usage))
        if not m.group(3):
            return self.send(400, {"error": {"code": 400, "message": "want alt=sse", "status": "INVALID_ARGUMENT"}})
        evs = []
        if "functionCall" in parts[0]:
            evs.append(resp([cand(parts, "STOP", 0)], usage))
        else:
            pieces = [thirds(t) for t in texts]
            for k in range(3):
                last_one = k == 2
                evs.append(resp([cand([{"text": p[k]}], "STOP" if last_one else None, i) for i, p in enumerate(pieces)],
                                usage if last_one else {"promptTokenCount": intoks}))
        out = [b"data: " + json.dumps(e).encode() + b"\r\n\r\n" for e in evs]
        if model == "streamcut":
            out = out[:2] + [None]
        self.sse(out)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(n) or b"{}")
        try:
            if self.path.startswith("/anthropic/"):
                return self.anthropic(body)
            if self.path.startswith("/gemini/"):
                return self.gemini(body)
        except (BrokenPipeError, ConnectionResetError):
            return
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
            if model == "grader":
                m = re.search(r"ANSWER TO GRADE:\n.*?echo-q(\d+)", text, re.S)
                return self.send(200, answer(model, f"score: {m.group(1) if m else 0}", body))
            content = {"json": '{"answer": 42, "confidence": 0.9}',
                       "lowconf": "maybe 41; confidence: 0.2",
                       "mute-grader": "I would rather not say",
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
