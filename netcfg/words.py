"""Durations and counts as people read them, the same in every message."""

from __future__ import annotations


def clock(seconds: float) -> str:
    """A time in a rollout: `6 h 28 min`, `0 h 01 min`: the unit is always written, so
    `0:01` can never be read as an hour."""
    minutes = int(round(seconds / 60))
    return f"{minutes // 60} h {minutes % 60:02d} min"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 host`, `2 hosts`, `3 addresses` (with `nouns` for an irregular plural)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
