"""A minimal NATS client over the text protocol (standard library only), for the cluster
tests: publish raw bytes to a subject, subscribe and read messages (a rogue worker), and make
JetStream API requests ($JS.API.STREAM.INFO.<name>) to read a stream's state and config."""
import json
import socket
import time


class Nats:
    def __init__(self, port, timeout=5):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.sid = 0
        self._line()  # INFO
        self.s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":false}\r\nPING\r\n')
        while self._line() != b"PONG":
            pass

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("nats closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.s.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def publish(self, subject, data):
        self.s.sendall(b"PUB %s %d\r\n%s\r\nPING\r\n" % (subject.encode(), len(data), data))
        while self._line() != b"PONG":
            pass

    def request(self, subject, data=b"", timeout=5):
        self.sid += 1
        inbox = "_INBOX.t%d.%d" % (int(time.time() * 1e6), self.sid)
        self.s.sendall(b"SUB %s %d\r\nUNSUB %d 1\r\nPUB %s %s %d\r\n%s\r\n" % (
            inbox.encode(), self.sid, self.sid, subject.encode(), inbox.encode(), len(data), data))
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self._line()
            if line.startswith(b"MSG "):
                n = int(line.split()[-1])
                return json.loads(self._read(n))
            if line == b"PING":
                self.s.sendall(b"PONG\r\n")
        raise TimeoutError(subject)

    def subscribe(self, subject):
        self.sid += 1
        self.s.sendall(b"SUB %s %d\r\nPING\r\n" % (subject.encode(), self.sid))
        while self._line() != b"PONG":
            pass

    def next_msg(self, timeout=5):
        """(subject, reply or None, data) of the next message on a subscription."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self._line()
            if line.startswith(b"MSG "):
                parts = line.split()
                n = int(parts[-1])
                reply = parts[3].decode() if len(parts) == 5 else None
                return parts[1].decode(), reply, self._read(n)
            if line == b"PING":
                self.s.sendall(b"PONG\r\n")
        raise TimeoutError("no message")

    def stream_info(self, name):
        return self.request("$JS.API.STREAM.INFO." + name)

    def stream_messages(self, name):
        info = self.request("$JS.API.STREAM.INFO." + name)
        return info.get("state", {}).get("messages", 0)
