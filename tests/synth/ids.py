"""Deterministic identities: uids, generated-name suffixes, timestamps and resourceVersions."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

BASE_TIME = datetime(2026, 11, 20, 9, 0, 0, tzinfo=timezone.utc)
UID_NAMESPACE = uuid.UUID("6b1c1a5e-4f0e-5b7a-9a1d-7c6d2f1e0a11")
# k8s.io/apimachinery/pkg/util/rand: the alphabet of generated-name suffixes (no vowels, no 0/1/3).
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def uid(kind: str, namespace: str, name: str) -> str:
    return str(uuid.uuid5(UID_NAMESPACE, f"{kind}/{namespace}/{name}"))


def ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def micro(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Ids:
    """One lab's source of names and times; seeded by the lab name so output is reproducible."""

    def __init__(self, seed: str, start: datetime = BASE_TIME) -> None:
        self.rng = random.Random(seed)
        self.start = start

    def suffix(self, n: int = 5) -> str:
        return "".join(self.rng.choice(SUFFIX_ALPHABET) for _ in range(n))

    def hexid(self, n: int = 16) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def at(self, minutes: float = 0.0, seconds: float = 0.0) -> datetime:
        return self.start + timedelta(minutes=minutes, seconds=seconds)

    def mac(self) -> str:
        return "02:" + ":".join(f"{self.rng.randrange(256):02x}" for _ in range(5))


def generate_name(base: str) -> str:
    """The apiserver keeps at most 58 characters of generateName before the 5-character suffix."""
    return base[:58]


def claim_generate_name(pod: str, pod_claim: str) -> str:
    """kube-controller-manager's resourceclaim controller: `<pod>-<pod claim>-`, both cut proportionally."""
    name = pod + "-" + pod_claim
    max_base = 57
    if len(name) > max_base:
        name = pod[: len(pod) * max_base // len(name)] + "-" + pod_claim[: len(pod_claim) * max_base // len(name)]
    return name + "-"
