"""`Status` failure objects worded like kube-apiserver's (k8s.io/apimachinery/pkg/api/errors)."""

from __future__ import annotations

from typing import Any

from .discovery import Resource

REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    406: "NotAcceptable", 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}
DEFAULT_MESSAGES = {
    401: "Unauthorized",
    404: "the server could not find the requested resource",
    405: "the server does not allow this method on the requested resource",
    406: "only the following media types are accepted: application/json, application/yaml",
    410: ("The provided continue parameter is too old to display a consistent list result. You can start a new "
          "list without the continue parameter, or use the continue token in this response to retrieve the "
          "remainder of the results. Continuing with the provided token results in an inconsistent list - "
          "objects that were created, modified, or deleted between the time the first chunk was returned and "
          "now may show up in the list."),
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: injected fault",
    503: "the server is currently unable to handle the request",
    504: "the server was unable to return a response in the time allotted, but may still be processing the request",
}


def status(code: int, message: str | None = None, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Failure Status; `message` defaults to the API server's generic one for `code`."""
    out: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message or DEFAULT_MESSAGES.get(code, REASONS.get(code, "unknown")),
        "reason": REASONS.get(code, "Unknown"),
    }
    if details:
        out["details"] = details
    out["code"] = code
    return out


def _details(res: Resource, name: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name} if name else {}
    if res.group:
        details["group"] = res.group
    details["kind"] = res.name
    return details


def not_found(res: Resource, name: str) -> dict[str, Any]:
    return status(404, f'{res.qualified} "{name}" not found', _details(res, name))


def forbidden(res: Resource, user: str, verb: str, namespace: str | None, name: str | None,
              subresource: str = "", message: str | None = None) -> dict[str, Any]:
    """`pods "x" is forbidden: User "u" cannot get resource "pods/exec" in API group "" in the namespace "ns"`."""
    resource = f"{res.name}/{subresource}" if subresource else res.name
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    subject = f'{res.qualified} "{name}"' if name else res.qualified
    text = (f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
            f'in API group "{res.group}" {scope}')
    return status(403, message or text, _details(res, name))
