#!/usr/bin/env python3
"""A stand-in for the Hugging Face Hub on loopback, for tests/integration/hub.sh.

Speaks the part of the Hub protocol that `switchyard models pull` uses:
  GET  /api/models/<org>/<name>/revision/<rev>   {"id", "sha", "siblings":[{"rfilename"}]}
  HEAD /<org>/<name>/resolve/<rev>/<file>        regular files: 200 with ETag (git blob sha1),
                                                 X-Repo-Commit, Content-Length; LFS files
                                                 (*.safetensors, *.bin): 302 to /lfs/<sha256>
                                                 with X-Linked-Etag and X-Linked-Size
  GET  the same, following the redirect; /lfs/<sha256> honours Range (206)

Repositories (all served from tests/fixtures/bert-tiny):
  sy-test/bert-tiny   the fixture, plus files a pull must skip (onnx/, README.md, a
                      pytorch_model.bin next to model.safetensors)
  sy-test/flaky       the same, but the first LFS download stops after 64 KiB
  sy-test/private     answers 401 unless "Authorization: Bearer sy-secret"
  sy-test/corrupt     announces a wrong sha256 for model.safetensors
  anything else       404

Usage: fake_hub.py FIXTURE_DIR LOG_FILE   (prints "port N" once listening; logs one line per
request: method, path, Range header)
"""
import hashlib
import http.server
import json
import os
import sys
import threading

COMMIT = "0123456789abcdef0123456789abcdef01234567"
FIXTURE = sys.argv[1]
LOG = open(sys.argv[2], "a", buffering=1)
LOCK = threading.Lock()
FLAKY_CUT = {"done": False}


def repo_files():
    files = {}
    for root, _, names in os.walk(FIXTURE):
        for n in names:
            p = os.path.join(root, n)
            rel = os.path.relpath(p, FIXTURE)
            with open(p, "rb") as f:
                files[rel] = f.read()
    files["README.md"] = b"# a model card\n"
    files["onnx/model.onnx"] = b"not for switchyard"
    files["pytorch_model.bin"] = b"must not be downloaded: model.safetensors exists"
    return files


FILES = repo_files()
LFS = {}  # sha256 -> contents of the LFS files


def is_lfs(name):
    return name.endswith(".safetensors") or name.endswith(".bin") or name.endswith(".onnx")


for k, v in FILES.items():
    if is_lfs(k):
        LFS[hashlib.sha256(v).hexdigest()] = v


def git_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet; requests go to LOG
        pass

    def send(self, code, body=b"", headers=None, head=False):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def err(self, code, msg, head=False):
        self.send(code, json.dumps({"error": msg}).encode(),
                  {"Content-Type": "application/json"}, head)

    def repo_of(self, parts):
        """(repo id, rest) or None after answering an error."""
        repo = "/".join(parts[:2])
        if repo not in ("sy-test/bert-tiny", "sy-test/flaky", "sy-test/private",
                        "sy-test/corrupt"):
            return None, "404"
        if repo == "sy-test/private" and \
                self.headers.get("Authorization") != "Bearer sy-secret":
            return None, "401"
        return repo, None

    def handle_any(self, head):
        LOG.write(f"{self.command} {self.path} range={self.headers.get('Range')}\n")
        path = self.path.split("?")[0]
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] == "revision":
            repo, e = self.repo_of(parts[2:4])
            if e:
                return self.err(int(e), "Repository not found" if e == "404" else
                                "Access to this repository is restricted", head)
            body = json.dumps({"id": repo, "sha": COMMIT,
                               "siblings": [{"rfilename": k} for k in sorted(FILES)]})
            return self.send(200, body.encode(), {"Content-Type": "application/json"}, head)
        if len(parts) >= 5 and parts[2] == "resolve":
            repo, e = self.repo_of(parts[:2])
            if e:
                return self.err(int(e), "not found" if e == "404" else "restricted", head)
            name = "/".join(parts[4:])
            if name not in FILES:
                return self.err(404, "Entry not found", head)
            data = FILES[name]
            hdr = {"X-Repo-Commit": COMMIT}
            if is_lfs(name):
                sha = hashlib.sha256(data).hexdigest()
                announced = ("f" * 64) if repo == "sy-test/corrupt" and \
                    name == "model.safetensors" else sha
                hdr.update({"X-Linked-Etag": f'"{announced}"', "X-Linked-Size": str(len(data)),
                            "ETag": f'"{git_sha1(data)}"',
                            "Location": f"/lfs/{sha}?repo={repo}"})
                return self.send(302, b"", hdr, head)
            hdr["ETag"] = f'"{git_sha1(data)}"'
            return self.send(200, data, hdr, head)
        if len(parts) == 2 and parts[0] == "lfs" and parts[1] in LFS:
            data = LFS[parts[1]]
            start = 0
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes=") and rng.endswith("-"):
                start = int(rng[6:-1])
            flaky = "repo=sy-test/flaky" in self.path
            if flaky:
                with LOCK:
                    cut = not FLAKY_CUT["done"]
                    FLAKY_CUT["done"] = True
                if cut:
                    # Announce everything, send 64 KiB, then drop the connection.
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[:65536])
                    self.wfile.flush()
                    self.close_connection = True
                    return
            code = 206 if start else 200
            hdr = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"} if start else {}
            return self.send(code, data[start:], hdr, head)
        return self.err(404, "no such route", head)

    def do_GET(self):
        self.handle_any(False)

    def do_HEAD(self):
        self.handle_any(True)


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"port {srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
