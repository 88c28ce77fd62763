"""Injected misbehaviour (`Fault`) and the record of every request (`RecordedRequest`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Fault:
    """How to misbehave for the requests a `srv.faults` key matches.

    status       answer with this code and a real Status body: 403 (Forbidden, worded like RBAC),
                 404, 429 (with Retry-After), 5xx, and 410 Expired (only requests carrying `continue`).
    latency      seconds to wait before answering (applies with or without `status`).
    retry_after  Retry-After header and details.retryAfterSeconds (429 defaults to 1).
    reset        send the headers and half of the body, then reset the TCP connection (pods/exec:
                 the upgrade, half of the first output message, then the reset).
    message      the Status message instead of the API server's wording.
    times        apply to this many matching requests, then stop; None: always.
    """

    status: int | None = None
    latency: float = 0.0
    retry_after: int | None = None
    reset: bool = False
    message: str | None = None
    times: int | None = None


HEADERS_KEPT = ("Accept", "Authorization", "User-Agent", "Content-Type", "Upgrade", "Sec-WebSocket-Protocol",
                "Impersonate-User", "Impersonate-Uid")


@dataclass
class RecordedRequest:
    """One request as the server saw it; `status` is the HTTP status answered (101 for exec)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    is_exec: bool = False
    websocket: bool = False
    status: int | None = None
    exit_code: int | None = None  # exec: the command's exit code, None if it could not start
    faulted: bool = False  # answered (or delayed) by a Fault
    lines: list[tuple[str, str]] = field(default_factory=list)  # every header line, repeated names kept

    def values(self, name: str) -> list[str]:
        """Every line of a header, in order (the API server reads one Impersonate-Group per line)."""
        return [v for k, v in self.lines if k.lower() == name.lower()]

    @property
    def command(self) -> list[str]:
        """The exec argv (`command` query parameters, in order)."""
        return list(self.query.get("command", []))

    def param(self, name: str) -> str | None:
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None
