#!/usr/bin/env python3
"""Bad input against a running server (tests/integration/bad_input.sh starts it).

Every case must answer a 4xx/5xx with a JSON error {"error":{"code","message"}} naming the
problem, within a time bound, and the server must keep serving: after each case /healthz answers
and a normal encode still works. Standard library only.

Usage: bad_input.py URL    (prints "ok: N cases"; the first failure exits 1)
"""
import http.client
import json
import socket
import sys
import threading
import time
import urllib.parse

URL = urllib.parse.urlparse(sys.argv[1])
HOST, PORT = URL.hostname, URL.port
BOUND_S = 10.0  # every answer within this, even for 14 MB bodies on a slow sanitizer build
CASES = 0


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def raw_request(method, path, body=b"", headers=None, timeout=BOUND_S):
    c = http.client.HTTPConnection(HOST, PORT, timeout=timeout)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    t0 = time.monotonic()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    dt = time.monotonic() - t0
    c.close()
    return r.status, data, dt


def raw_bytes(request):
    """Sends bytes as they are (for framing http.client will not write) and reads the status and
    whatever comes back before the server closes or a second passes."""
    s = socket.create_connection((HOST, PORT), timeout=BOUND_S)
    s.sendall(request)
    s.settimeout(1)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    s.close()
    line = data.split(b"\r\n", 1)[0].split()
    return (int(line[1]) if len(line) > 1 and line[1].isdigit() else 0), data


def still_serving():
    st, _, _ = raw_request("GET", "/healthz")
    if st != 200:
        fail(f"/healthz answered {st}")
    st, data, _ = raw_request("POST", "/v1/encode/bert", json.dumps({"items": [{"text": "ok"}]}))
    if st != 200 or json.loads(data)["items"][0]["dense"]["dims"] != 64:
        fail(f"a normal encode after the case: {st} {data[:200]}")


def case(name, method, path, body, statuses, code=None, frag=None, headers=None):
    global CASES
    if isinstance(body, str):
        body = body.encode()
    try:
        st, data, dt = raw_request(method, path, body, headers)
    except Exception as e:  # noqa: BLE001
        fail(f"{name}: no answer ({e})")
    if st not in statuses:
        fail(f"{name}: status {st}, expected one of {statuses}: {data[:300]}")
    if dt > BOUND_S:
        fail(f"{name}: answered in {dt:.1f} s (bound {BOUND_S} s)")
    if st < 300:  # a case where success is also a right answer
        still_serving()
        CASES += 1
        return
    try:
        err = json.loads(data)["error"]
    except Exception:  # noqa: BLE001
        fail(f"{name}: the body is not a JSON error: {data[:300]}")
    if code and err.get("code") != code:
        fail(f"{name}: code {err.get('code')}, expected {code}")
    if not err.get("message"):
        fail(f"{name}: empty message")
    if frag and frag not in err["message"]:
        fail(f"{name}: message lacks '{frag}': {err['message']}")
    still_serving()
    CASES += 1


def main():
    enc = "/v1/encode/bert"
    # Encoding and syntax.
    case("invalid UTF-8 in a text", "POST", enc, b'{"items":[{"text":"a\xff\xfeb"}]}', {400},
         "INVALID_INPUT", "invalid UTF-8")
    case("invalid UTF-8 in a key", "POST", enc, b'{"it\xc3ems":[{"text":"a"}]}', {400},
         "INVALID_INPUT")
    case("lone surrogate escape", "POST", enc, '{"items":[{"text":"\\udc00"}]}', {400},
         "INVALID_INPUT")
    case("NUL inside a text", "POST", enc, '{"items":[{"text":"a\\u0000b"}]}', {200, 400})
    case("deeply nested arrays", "POST", enc, "[" * 100000 + "]" * 100000, {400},
         "INVALID_INPUT")
    case("deeply nested objects", "POST", enc, '{"a":' * 50000 + "1" + "}" * 50000, {400},
         "INVALID_INPUT")
    case("truncated JSON", "POST", enc, '{"items":[{"text":"abc"', {400}, "INVALID_INPUT")
    for lit in ("NaN", "Infinity", "-Infinity", "1e999", "nan"):
        case(f"{lit} literal", "POST", enc,
             '{"items":[{"text":"a"}],"params":{"normalize":%s}}' % lit, {400},
             "INVALID_INPUT")
    # msgpack bodies (SIE's wire format), answered in JSON as Accept asks.
    mp = {"Content-Type": "application/msgpack", "Accept": "application/json"}
    for name, body, frag in [
            ("empty msgpack", b"", "empty"),
            ("reserved byte", b"\xc1", "malformed msgpack"),
            ("truncated map", b"\x82\xa5items", "malformed msgpack"),
            ("array of 2^32-1 declared", b"\x81\xa5items\xdd\xff\xff\xff\xff",
             "container longer than the body"),
            ("map of 2^32-1 declared", b"\xdf\xff\xff\xff\xff", "container longer"),
            ("str of 4 GB declared", b"\xdb\xff\xff\xff\xff", "truncated"),
            ("nested 40 deep", b"\x91" * 40 + b"\x01", "nested"),
            ("trailing bytes", b"\x80\x80", "after the msgpack value"),
            ("binary text", b"\x81\xa5items\x91\x81\xa4text\xc4\x01a", "binary"),
            ("ext type", b"\x81\xa5items\xd4\x01\x02", "extension"),
            ("integer key", b"\x81\x01\x02", "map keys"),
            ("NUL in a string", b"\x81\xa5items\x91\x81\xa4text\xa3a\x00b", "NUL"),
            ("numpy shape lies", b"\x81\xa1v\x84\xa2nd\xc3\xa4type\xa3<f4\xa5shape\x91\xce"
             b"\x10\x00\x00\x00\xa4data\xc4\x04\x00\x00\x00\x00", "shape"),
            ("a list, not a map", b"\x91\x01", "expected a JSON object"),
            ("wrong type in msgpack", b"\x81\xa5items\x91\x81\xa4text\x07", "items[0].text")]:
        case(f"msgpack: {name}", "POST", enc, body, {400}, "INVALID_INPUT", frag, mp)
    case("msgpack: a good body", "POST", enc, b"\x81\xa5items\x91\x81\xa4text\xa2ok", {200},
         headers=mp)
    case("msgpack: unknown SIE option", "POST", enc,
         b"\x82\xa5items\x91\x81\xa4text\xa1a\xa6params\x81\xa7options\x81\xa6muvera\xc3",
         {400}, "INVALID_INPUT", "params.options.muvera", mp)
    # Wrong types and empty values.
    for body, frag in [('{"items":{"text":"a"}}', "items"),
                       ('{"items":[{"text":null}]}', "items[0].text"),
                       ('{"items":[{"text":["a"]}]}', "items[0].text"),
                       ('{"items":[{"text":"a"}],"params":{"truncate":"no"}}', "truncate"),
                       ('{"items":[{"text":"a"}],"params":{"output_types":"dense"}}',
                        "output_types"),
                       ('{"items":[{"text":"a"}],"params":{"instruction":5}}', "instruction"),
                       ('{"items":[]}', "items"), ("{}", "items"), ("", None), ("null", None),
                       ("7", None), ('"text"', None)]:
        case(f"wrong type: {body[:40]}", "POST", enc, body, {400}, "INVALID_INPUT", frag)
    # Sizes.
    case("10 MB string", "POST", enc, json.dumps({"items": [{"text": "x" * (10 << 20)}]}),
         {413, 422}, "INVALID_INPUT", "characters")
    case("1e6 items", "POST", enc, '{"items":[' + ",".join(['{"text":"a"}'] * 1000000) + "]}",
         {413}, "INVALID_INPUT", "items")
    case("1e6 numbers", "POST", enc, '{"items":[' + ",".join(["1"] * 1000000) + "]}",
         {400, 413}, "INVALID_INPUT")
    case("1e6 OpenAI inputs", "POST", "/v1/embeddings",
         json.dumps({"model": "bert", "input": ["a"] * 1000000}), {413}, "INVALID_INPUT")
    st, data, _ = raw_request("POST", enc, b"{}", headers={"Content-Length": "1000000000000"})
    if st != 413:
        fail(f"a declared 1 TB body: {st} {data[:200]}")
    still_serving()
    # Unknown models and path traversal: never a file read, never a 200 or 5xx.
    case("unknown model", "POST", "/v1/encode/nope", '{"items":[{"text":"a"}]}', {404},
         "MODEL_NOT_FOUND")
    for path in ["/v1/encode/../../etc/passwd", "/v1/encode/..%2F..%2Fetc%2Fpasswd",
                 "/v1/encode/%2e%2e/%2e%2e/etc/passwd", "/v1/encode//etc/passwd",
                 "/v1/encode/bert/../../../../etc/passwd", "/v1/models/..%2F..%2Fetc",
                 "/v1/encode/%00", "/v1/encode/" + "a" * 5000]:
        method = "GET" if path.startswith("/v1/models") else "POST"
        case(f"traversal {path[:50]}", method, path, '{"items":[{"text":"a"}]}',
             {400, 404, 414, 431})
    case("unknown route", "GET", "/etc/passwd", b"", {404}, "NOT_FOUND")
    # An instruction or a score query goes with every item: bounded on its own (issue 23.4).
    case("100k-character instruction", "POST", enc,
         json.dumps({"items": [{"text": "a"}] * 64, "params": {"instruction": "x " * 50000}}),
         {422}, "INVALID_INPUT", "params.instruction")
    case("100k-character score query", "POST", "/v1/score/bert",
         json.dumps({"query": "x " * 50000, "items": [{"text": "a"}]}), {422}, "INVALID_INPUT",
         "query")
    # A NUL in a path segment must not cut the model name short (issue 23.15).
    case("NUL in the model name", "POST", "/v1/encode/bert%00x", '{"items":[{"text":"a"}]}',
         {400}, "INVALID_INPUT", "path")
    # Request smuggling behind a proxy: ambiguous framing is refused (issue 23.14).
    body = b'{"items":[{"text":"a"}]}'
    for name, head in [
            ("two different Content-Length headers",
             b"Content-Length: %d\r\nContent-Length: 5\r\n" % len(body)),
            ("Content-Length with Transfer-Encoding",
             b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(body))]:
        st, data = raw_bytes(b"POST /v1/encode/bert HTTP/1.1\r\nHost: x\r\n" + head +
                             b"Content-Type: application/json\r\n\r\n" + body)
        if st != 400:
            fail(f"{name}: status {st}: {data[:200]}")
        still_serving()
    case("wrong method", "GET", enc, b"", {405})
    # Broken model files: a clear 502 naming the problem, again on retry, others unaffected.
    for m, frag in [("corrupt", "safetensors"), ("truncated", "safetensors"),
                    ("badconfig", "config.json"), ("empty", ""),
                    ("fifo", "not a regular file")]:
        for attempt in range(2):
            case(f"model {m} (attempt {attempt + 1})", "POST", f"/v1/encode/{m}",
                 '{"items":[{"text":"a"}]}', {502}, "MODEL_LOAD_FAILED", frag)
    print(f"ok: {CASES} request cases")
    slow_clients()


def slow_clients():
    """Slow-loris: connections that trickle their headers, or stop halfway, hold a thread
    each but do not stop other clients; idle ones are closed after --idle-timeout (2 s)."""
    trickling, stop = [], threading.Event()

    def trickle(s):
        s.sendall(b"POST /v1/encode/bert HTTP/1.1\r\nHost: x\r\n")
        i = 0
        while not stop.is_set():
            try:
                s.sendall(b"X-Slow-%d: 1\r\n" % i)
            except OSError:
                return
            i += 1
            time.sleep(0.5)

    for _ in range(16):
        s = socket.create_connection((HOST, PORT), timeout=10)
        trickling.append(s)
        threading.Thread(target=trickle, args=(s,), daemon=True).start()
    # Meanwhile, normal requests are answered promptly.
    t0 = time.monotonic()
    for _ in range(10):
        still_serving()
    dt = time.monotonic() - t0
    if dt > BOUND_S:
        fail(f"20 requests beside 16 slow clients took {dt:.1f} s")
    # A client that stops sending is cut off after the idle timeout.
    stalled = socket.create_connection((HOST, PORT), timeout=15)
    stalled.sendall(b"POST /v1/encode/bert HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"it")
    t0 = time.monotonic()
    try:
        got = stalled.recv(4096)
    except socket.timeout:
        fail("a stalled upload was never closed")
    dt = time.monotonic() - t0
    if dt > 8:
        fail(f"a stalled upload was closed only after {dt:.1f} s")
    print(f"ok: slow clients (16 trickling, others served; a stalled upload closed after "
          f"{dt:.1f} s{' with ' + repr(got[:12]) if got else ''})")
    stop.set()
    for s in trickling:
        s.close()
    still_serving()


if __name__ == "__main__":
    main()
