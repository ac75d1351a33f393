"""A minimal msgpack encoder for the test bodies that need one (SIE's image items carry the
image's raw bytes as a bin): maps and arrays of up to 15 entries, strings of up to 255 bytes,
bytes. The suites do not depend on a msgpack package being installed."""


def mp(o):
    if isinstance(o, dict):
        return bytes([0x80 | len(o)]) + b"".join(mp(k) + mp(v) for k, v in o.items())
    if isinstance(o, list):
        return bytes([0x90 | len(o)]) + b"".join(mp(v) for v in o)
    if isinstance(o, str):
        b = o.encode()
        return bytes([0xd9, len(b)]) + b
    if isinstance(o, bytes):
        return b"\xc6" + len(o).to_bytes(4, "big") + o
    raise TypeError(o)
