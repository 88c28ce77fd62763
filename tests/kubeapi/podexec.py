"""pods/exec: the API server's refusals, and the channel stream of one command over a WebSocket."""

from __future__ import annotations

import json
import socket
import time
from io import BufferedIOBase
from typing import Any

from . import websocket as ws
from .container import Result


def refusal(pod: dict[str, Any], container: str | None) -> str | None:
    """Why exec into `container` of `pod` fails before any command runs (400 BadRequest), or None."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    name = (pod.get("metadata") or {}).get("name", "")
    names = [c.get("name") for key in ("containers", "initContainers", "ephemeralContainers")
             for c in spec.get(key) or () if isinstance(c, dict)]
    if container is None:
        main = [c.get("name") for c in spec.get("containers") or ()]
        if len(main) != 1:
            return f"a container name must be specified for pod {name}, choose one of: [{' '.join(map(str, main))}]"
        container = str(main[0])
    if container not in names:
        return f"container {container} is not valid for pod {name}"
    phase = status.get("phase")
    if phase in ("Succeeded", "Failed"):
        return f"cannot exec into a container in a completed pod; current phase is {phase}"
    if not spec.get("nodeName"):
        return f"pod {name} does not have a host assigned"
    if phase in (None, "Unknown"):
        return "unable to upgrade connection: pod does not exist"
    running = phase == "Running"
    for state in status.get("containerStatuses") or ():
        if isinstance(state, dict) and state.get("name") == container:
            running = running and "running" in (state.get("state") or {})
    if not running:
        return f'unable to upgrade connection: container not found ("{container}")'
    return None


def stream(rfile: BufferedIOBase, wfile: BufferedIOBase, sock: socket.socket, argv: list[str], result: Result) -> None:
    """Send stdout, stderr and the status message, close, and wait for the client's close frame."""
    # wsstream first sends an empty message on the lowest writable channel to say it is connected.
    out = ws.frame(ws.OP_BINARY, bytes([ws.STDOUT]))
    out += ws.channel_frames(ws.STDOUT, result.stdout) + ws.channel_frames(ws.STDERR, result.stderr)
    status = json.dumps(result.status(argv), separators=(",", ":")).encode()
    out += ws.frame(ws.OP_BINARY, bytes([ws.STATUS]) + status) + ws.close_frame()
    wfile.write(out)
    wfile.flush()
    # Closing while the client's frames sit unread would reset the connection and could lose
    # the tail of our output on the client side: drain until its close frame (or a timeout).
    deadline = time.monotonic() + 5
    sock.settimeout(1)
    while time.monotonic() < deadline:
        try:
            got = ws.read_frame(rfile)
        except (OSError, ValueError):
            break
        if got is None or got[0] == ws.OP_CLOSE:
            break
        if got[0] == ws.OP_PING:
            wfile.write(ws.frame(ws.OP_PONG, got[1]))
