"""Parsing Kubernetes API paths into what they address."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    """`kind` is one of root, version, health, openapi, api, apis, group, resources, collection, object, unknown."""

    kind: str
    group: str = ""
    version: str = ""
    namespace: str | None = None
    resource: str = ""
    name: str = ""
    subresource: str = ""
    watch: bool = False  # the legacy /watch/ path prefix


def parse(path: str) -> Route:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return Route("root")
    head = parts[0]
    if parts == ["version"]:
        return Route("version")
    if head in ("healthz", "livez", "readyz") and len(parts) == 1:
        return Route("health")
    if head == "openapi":
        return Route("openapi")
    if head == "api":
        if len(parts) == 1:
            return Route("api")
        group, version, rest = "", parts[1], parts[2:]
    elif head == "apis":
        if len(parts) <= 2:
            return Route("apis") if len(parts) == 1 else Route("group", group=parts[1])
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return Route("unknown")
    if not rest:
        return Route("resources", group, version)
    watch = rest[0] == "watch"
    rest = rest[1:] if watch else rest
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return Route("unknown", group, version)
    name = rest[1] if len(rest) > 1 else ""
    return Route("object" if name else "collection", group, version, namespace, rest[0], name,
                 rest[2] if len(rest) > 2 else "", watch)
