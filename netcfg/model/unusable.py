"""Address ranges no interface can hold a usable unicast address of (RFC 6890): the
inventory's checks refuse networks overlapping them, and `apply --from` addresses in
them."""

from __future__ import annotations

from dataclasses import dataclass

from netcfg.model.spans import span


@dataclass(frozen=True, slots=True)
class Range:
    """A prefix as the integers it spans."""

    cidr: str
    version: int
    first: int
    last: int

    @classmethod
    def of(cls, cidr: str) -> Range:
        return cls(cidr, *span(cidr))


UNUSABLE = tuple(
    (Range.of(prefix), what)
    for prefix, what in (
        ("0.0.0.0/8", "'this network' (unspecified)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved (and broadcast)"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::ffff:0:0/96", "IPv4-mapped"),
        ("fe80::/10", "link-local"),
        ("ff00::/8", "multicast"),
    )
)


def unusable_range(address: str) -> str | None:
    """What unusable range a valid address (no prefix length) is in, if any."""
    version, value, _ = span(address)
    return range_of(version, value)


def range_of(version: int, value: int) -> str | None:
    """What unusable range the address `value` of IP `version` is in, if any."""
    return next((what for r, what in UNUSABLE if r.version == version and r.first <= value <= r.last), None)
