"""One read of a namespace as the kernel answered it, and its digest.

Kept apart from codec's decoding: a no-op apply (see settled) compares digests and
loads nothing that decodes.
"""

from __future__ import annotations

import _socket as socket  # not socket.py, whose enums apply does not need (kernel/netlink.py)
import struct
from typing import NamedTuple

from netcfg.kernel import wire
from netcfg.kernel.digest import running_digest
from netcfg.kernel.netlink import Netlink

AF_INET, AF_INET6 = socket.AF_INET, socket.AF_INET6
FAMILIES = (AF_INET, AF_INET6)
IFA_F_TENTATIVE = 0x40  # linux/if_addr.h: ifaddrmsg.ifa_flags, the payload's third byte


class Link(NamedTuple):
    ifindex: int
    name: str
    up: bool  # administratively


class Snapshot(NamedTuple):
    """One read of a namespace, every entry as the kernel dumped it (foreign ones too)."""

    links: tuple[Link, ...]
    addresses: tuple[bytes, ...]
    rules: tuple[bytes, ...]  # IPv4 then IPv6, in the kernel's order
    routes: tuple[bytes, ...]  # IPv4 then IPv6

    @property
    def names(self) -> dict[int, str]:
        """ifindex -> interface name."""
        return {link.ifindex: link.name for link in self.links}

    @property
    def down(self) -> set[str]:
        """Names of the links that are administratively down."""
        return {link.name for link in self.links if not link.up}

    @property
    def settling(self) -> bool:
        """Whether an IPv6 address is still tentative: the kernel finishes it by itself
        (duplicate address detection; without it, a work queue moments after the address
        was added, so a read-back right after an apply often sees it), and then dumps
        other bytes."""
        return any(a[0] == AF_INET6 and a[2] & IFA_F_TENTATIVE for a in self.addresses)

    def digest(self) -> str:
        """A digest of everything the plan of an apply depends on in the namespace: the
        links' indexes, names and states, and every address, rule and route byte for byte."""
        running = running_digest()
        for link in self.links:
            running.update(f"{link.ifindex} {link.name} {link.up}\n".encode())
        for dump in (self.addresses, self.rules, self.routes):
            # The lengths first: the payloads alone run together ambiguously.
            running.update(struct.pack(f"<I{len(dump)}I", len(dump), *map(len, dump)))
            running.update(b"".join(dump))
        return running.hexdigest()


def read_snapshot(nl: Netlink) -> Snapshot:
    """Links, addresses, rules and routes, each dumped once."""
    links = []
    for payload in nl.dump(wire.dump_request(wire.RTM_GETLINK)):
        index, name = wire.parse_link(payload)
        links.append(Link(index, name, wire.parse_link_up(payload)[1]))
    return Snapshot(
        tuple(links),
        tuple(nl.dump(wire.dump_request(wire.RTM_GETADDR))),
        tuple(
            nl.dump(wire.dump_request(wire.RTM_GETRULE, AF_INET))
            + nl.dump(wire.dump_request(wire.RTM_GETRULE, AF_INET6))
        ),
        tuple(
            nl.dump(wire.dump_request(wire.RTM_GETROUTE, AF_INET))
            + nl.dump(wire.dump_request(wire.RTM_GETROUTE, AF_INET6))
        ),
    )
