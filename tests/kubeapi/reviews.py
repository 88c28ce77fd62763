"""SelfSubjectAccessReview and SelfSubjectRulesReview (authorization.k8s.io/v1), answered by the RBAC simulation.

`kubectl auth can-i VERB RESOURCE` posts the first, `kubectl auth can-i --list` the second
(k8s.io/kubectl/pkg/cmd/auth/cani.go). Non-resource URLs are allowed, as the Authorizer states.
"""

from __future__ import annotations

from typing import Any

from .rbac import Authorizer

API_VERSION = "authorization.k8s.io/v1"
# system:discovery and system:public-info-viewer (plugin/pkg/auth/authorizer/rbac/bootstrappolicy)
DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
                  "/readyz", "/version", "/version/"]
EVERYTHING = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]


# Field numbers of k8s.io/api/authorization/v1/generated.proto: message -> {field: (name, message)}
_PROTO: dict[str, dict[int, tuple[str, str]]] = {
    "SelfSubjectAccessReview": {2: ("spec", "SelfSubjectAccessReviewSpec")},
    "SelfSubjectRulesReview": {2: ("spec", "SelfSubjectRulesReviewSpec")},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes"),
                                    2: ("nonResourceAttributes", "NonResourceAttributes")},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "")},
    "ResourceAttributes": {1: ("namespace", ""), 2: ("verb", ""), 3: ("group", ""), 4: ("version", ""),
                           5: ("resource", ""), 6: ("subresource", ""), 7: ("name", "")},
    "NonResourceAttributes": {1: ("path", ""), 2: ("verb", "")},
}
PROTOBUF = "application/vnd.kubernetes.protobuf"
_MAGIC = b"k8s\x00"  # apimachinery/pkg/runtime/serializer/protobuf: the envelope's prefix


class InvalidReview(ValueError):
    """A review the API server refuses: 422 Invalid."""


def _fields(data: bytes) -> list[tuple[int, int, bytes | int]]:
    """(field number, wire type, value) of a protobuf message: varints and length-delimited only,
    the two wire types these messages use."""
    out: list[tuple[int, int, bytes | int]] = []
    pos = 0

    def varint() -> int:
        nonlocal pos
        value, shift = 0, 0
        while True:
            if pos >= len(data):
                raise ValueError("truncated protobuf")
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while pos < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            out.append((number, wire, varint()))
        elif wire == 2:
            length = varint()
            out.append((number, wire, data[pos:pos + length]))
            pos += length
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    return out


def _message(data: bytes, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, wire, value in _fields(data):
        field = _PROTO[name].get(number)
        if field is None or wire != 2 or not isinstance(value, bytes):
            continue  # metadata, status and alpha selector fields: not needed for an answer
        out[field[0]] = _message(value, field[1]) if field[1] else value.decode()
    return out


def decode_protobuf(body: bytes, kind: str) -> dict[str, Any]:
    """A review posted as protobuf (kubectl's built-in clients do since 1.30): the envelope
    `k8s\\0` + runtime.Unknown{typeMeta=1, raw=2}, raw being the message itself."""
    if not body.startswith(_MAGIC):
        raise ValueError("protobuf body without the k8s envelope")
    raw = next((v for n, w, v in _fields(body[len(_MAGIC):]) if n == 2 and isinstance(v, bytes)), b"")
    return {"kind": kind, "apiVersion": API_VERSION, **_message(raw, kind)}


def access_review(body: dict[str, Any], authorizer: Authorizer | None) -> dict[str, Any]:
    """The answered SelfSubjectAccessReview: spec as posted, status.allowed from the RBAC rules."""
    spec: dict[str, Any] = body["spec"] if isinstance(body.get("spec"), dict) else {}
    attrs, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if bool(attrs) == bool(non_resource):
        # pkg/apis/authorization/validation: ValidateSelfSubjectAccessReviewSpec
        raise InvalidReview('SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: '
                            "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes "
                            "must be specified")
    allowed = True
    if attrs and authorizer is not None:
        resource = str(attrs.get("resource") or "")
        if attrs.get("subresource"):
            resource += "/" + str(attrs["subresource"])
        allowed = authorizer.allows(str(attrs.get("verb") or ""), str(attrs.get("group") or ""), resource,
                                    str(attrs.get("namespace") or "") or None)
    return {"kind": "SelfSubjectAccessReview", "apiVersion": API_VERSION, "metadata": {"creationTimestamp": None},
            "spec": spec, "status": {"allowed": allowed}}


def rules_review(body: dict[str, Any], authorizer: Authorizer | None) -> dict[str, Any]:
    """The answered SelfSubjectRulesReview: the rules in effect in spec.namespace."""
    spec: dict[str, Any] = body["spec"] if isinstance(body.get("spec"), dict) else {}
    namespace = str(spec.get("namespace") or "") or None
    resource_rules = EVERYTHING if authorizer is None else authorizer.rules(namespace)
    non_resource = [{"verbs": ["*"], "nonResourceURLs": ["*"]}] if authorizer is None else [
        {"verbs": ["get"], "nonResourceURLs": DISCOVERY_URLS}]
    return {"kind": "SelfSubjectRulesReview", "apiVersion": API_VERSION, "metadata": {"creationTimestamp": None},
            "spec": spec, "status": {"resourceRules": resource_rules, "nonResourceRules": non_resource,
                                     "incomplete": False}}
