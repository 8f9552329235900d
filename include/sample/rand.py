"""Seeded randomness: one independent generator per (seed, purpose, ...) and GUIDs drawn from it."""

from __future__ import annotations

import hashlib

import numpy as np

_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")
_HEX_POSITIONS = [*range(0, 8), *range(9, 13), *range(14, 18), *range(19, 23), *range(24, 36)]


def _key(part: int | str) -> int:
    if isinstance(part, int) and part >= 0:
        return part
    return int.from_bytes(hashlib.sha256(str(part).encode()).digest()[:8], "big")


def rng_for(seed: int, *purpose: int | str) -> np.random.Generator:
    """A generator that depends only on ``seed`` and ``purpose`` (not on what was drawn before)."""
    return np.random.default_rng([_key(seed), *(_key(p) for p in purpose)])


def guids(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` version-4 GUID strings drawn from ``rng`` (vectorised)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    chars = np.ascontiguousarray(_HEX[raw]).view("S1").reshape(n, 32)
    out = np.full((n, 36), b"-", dtype="S1")
    out[:, _HEX_POSITIONS] = chars
    return np.ascontiguousarray(out).view("S36").ravel().astype(str).tolist()
