"""Address ranges no interface can hold a usable unicast address of (RFC 6890): the
inventory's checks refuse networks overlapping them, and `apply --from` addresses in
them."""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Range:
    """A prefix as the integers it spans (no netaddr: `apply --from` does not load it)."""

    cidr: str
    version: int
    first: int
    last: int

    @classmethod
    def of(cls, cidr: str) -> Range:
        address, _, length = cidr.partition("/")
        af = socket.AF_INET6 if ":" in address else socket.AF_INET
        raw = socket.inet_pton(af, address)
        host_bits = len(raw) * 8 - int(length)
        first = int.from_bytes(raw, "big") >> host_bits << host_bits
        return cls(cidr, 6 if af == socket.AF_INET6 else 4, first, first | ((1 << host_bits) - 1))


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
    af = socket.AF_INET6 if ":" in address else socket.AF_INET
    value = int.from_bytes(socket.inet_pton(af, address), "big")
    version = 6 if af == socket.AF_INET6 else 4
    return next((what for span, what in UNUSABLE if span.version == version and span.first <= value <= span.last), None)
