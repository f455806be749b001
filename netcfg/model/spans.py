"""Addresses and prefixes as the integers they span, read with inet_pton (no netaddr:
the paths that need only this, `apply --from` and the formats' attach, do not load it)."""

from __future__ import annotations

import _socket as socket  # not socket.py, whose enums apply does not need (kernel/netlink.py)


def span(text: str) -> tuple[int, int, int]:
    """(version, first, last) of an address, or of the network of `address/length`, as
    the model spells them (inet_ntop's spelling: inet_pton reads it back)."""
    address, _, length = text.partition("/")
    version, bits, family = (6, 128, socket.AF_INET6) if ":" in address else (4, 32, socket.AF_INET)
    value = int.from_bytes(socket.inet_pton(family, address), "big")
    host_bits = bits - int(length) if length else 0
    first = value >> host_bits << host_bits
    return version, first, first | ((1 << host_bits) - 1)
