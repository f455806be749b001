"""Address ranges no interface can hold a usable unicast address of (RFC 6890): the
inventory's checks refuse networks overlapping them, and `apply --from` addresses in
them."""

from __future__ import annotations

from netaddr import IPNetwork

UNUSABLE = tuple(
    (IPNetwork(prefix), what)
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
