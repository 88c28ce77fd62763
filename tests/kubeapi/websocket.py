"""Server side of RFC 6455 WebSocket: handshake key, frames, and the k8s channel subprotocols."""

from __future__ import annotations

import base64
import hashlib
import struct
from io import BufferedIOBase

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# What kube-apiserver accepts for exec, newest first; v5 adds a close signal (channel 255) from the client.
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
STDOUT, STDERR, STATUS = 1, 2, 3
CHUNK = 32 * 1024


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1((key.strip() + GUID).encode()).digest()).decode()


def choose_protocol(offered: str) -> str | None:
    """The first protocol of ours the client offers (the header may be repeated or comma-joined)."""
    names = [p.strip() for p in offered.split(",") if p.strip()]
    return next((p for p in names if p in PROTOCOLS), None)


def frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, final frame (servers never mask)."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


def channel_frames(channel: int, data: bytes) -> bytes:
    """`data` as binary messages on `channel`, cut where no UTF-8 sequence is split.

    The python client decodes every message on its own, so a split sequence would be mangled.
    """
    out = b""
    while data:
        cut = min(CHUNK, len(data))
        while cut < len(data) and cut > 1 and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        out += frame(OP_BINARY, bytes([channel]) + data[:cut])
        data = data[cut:]
    return out


def close_frame(code: int = 1000) -> bytes:
    return frame(OP_CLOSE, struct.pack("!H", code))


def read_frame(stream: BufferedIOBase) -> tuple[int, bytes] | None:
    """Read one client frame and unmask it; None at end of stream."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    opcode, n = head[0] & 0x0F, head[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", stream.read(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", stream.read(8))[0]
    mask = stream.read(4) if head[1] & 0x80 else b"\0\0\0\0"
    payload = stream.read(n)
    if len(payload) < n:
        return None
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
