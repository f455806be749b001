"""Reading a namespace's links and owned state over netlink.

The parsing is codec's (pure, tested on canned messages); this module only asks the
kernel and filters what netcfg owns, each filter saying why.
"""

from __future__ import annotations

from netcfg.kernel import codec
from netcfg.kernel.netlink import Netlink
from netcfg.kernel.state import KERNEL_RULE_PRIORITIES, OwnedState, Ownership
from netcfg.model.host import PROTOCOL, Address, Route, Rule


def read_links(nl: Netlink) -> dict[int, str]:
    """ifindex -> interface name."""
    return dict(codec.parse_link(m.payload) for m in nl.dump(codec.dump_request(codec.RTM_GETLINK)))


def read_owned(nl: Netlink, owned: Ownership, names: dict[int, str]) -> OwnedState:
    return OwnedState(
        addresses=frozenset(read_addresses(nl, owned, names)),
        rules=frozenset(read_rules(nl, owned)),
        routes=frozenset(read_routes(nl, names)),
    )


def read_addresses(nl: Netlink, owned: Ownership, names: dict[int, str]) -> list[Address]:
    found = []
    for message in nl.dump(codec.dump_request(codec.RTM_GETADDR)):
        address = codec.parse_address(message.payload, names)
        # Only addresses inside the inventory's networks on netcfg's interfaces: the
        # loopback, link-local IPv6 and anything added for other purposes stay. An
        # address netcfg added (marked with its protocol) stays netcfg's when its
        # network leaves the inventory: it is removed, not left behind.
        if address is not None and (
            owned.owns_address(address)
            or (address.interface in owned.interfaces and codec.address_protocol(message.payload) == PROTOCOL)
        ):
            found.append(address)
    return found


def read_protocols(nl: Netlink, names: dict[int, str]) -> dict[Address | Rule, int]:
    """Each address's and rule's marker (IFA_PROTO, FRA_PROTOCOL): a roll-back re-adds
    an address or a rule as it was."""
    found: dict[Address | Rule, int] = {}
    for message in nl.dump(codec.dump_request(codec.RTM_GETADDR)):
        address = codec.parse_address(message.payload, names)
        if address is not None:
            found[address] = codec.address_protocol(message.payload)
    for family in (codec.AF_INET, codec.AF_INET6):
        for message in nl.dump(codec.dump_request(codec.RTM_GETRULE, family)):
            rule = codec.parse_rule(message.payload)
            if rule is not None:
                found[rule] = codec.rule_protocol(message.payload)
    return found


def read_rules(nl: Netlink, owned: Ownership) -> list[Rule]:
    found = []
    for family in (codec.AF_INET, codec.AF_INET6):
        for message in nl.dump(codec.dump_request(codec.RTM_GETRULE, family)):
            # The priority decides ownership; foreign rules are not decoded at all. A
            # rule netcfg added (marked with its protocol) stays netcfg's when its
            # segment's priority changes: it is removed, not left behind.
            priority = codec.rule_priority(message.payload)
            if not owned.owns_rule_priority(priority) and (
                priority in KERNEL_RULE_PRIORITIES or codec.rule_protocol(message.payload) != PROTOCOL
            ):
                continue
            rule = codec.parse_rule(message.payload)
            # A rule at an owned priority with selectors netcfg never writes (fwmark,
            # iif, ...) cannot be re-created exactly on rollback: left alone.
            if rule is not None:
                found.append(rule)
    return found


def read_routes(nl: Netlink, names: dict[int, str]) -> list[Route]:
    found = []
    for family in (codec.AF_INET, codec.AF_INET6):
        for message in nl.dump(codec.dump_request(codec.RTM_GETROUTE, family)):
            # Owned routes carry netcfg's protocol; kernel, boot and static routes and
            # every other daemon's are skipped before decoding.
            if codec.route_protocol(message.payload) != PROTOCOL:
                continue
            route = codec.parse_route(message.payload, names)
            if route is not None:
                found.append(route)
    return found


def read_foreign_routes(nl: Netlink) -> dict[tuple[object, ...], bytes]:
    """Every route netcfg does not own and the kernel does not make itself, as dumped.

    apply never changes them, but the kernel flushes a link's IPv4 routes when its last
    IPv4 address goes: a roll-back removing the address an apply added to a link that
    had none would take a hand-added `dev` route with it. Kept raw, so the roll-back can
    re-create such a route exactly."""
    found = {}
    for family in (codec.AF_INET, codec.AF_INET6):
        for message in nl.dump(codec.dump_request(codec.RTM_GETROUTE, family)):
            if codec.route_protocol(message.payload) in (PROTOCOL, codec.RTPROT_KERNEL):
                continue
            found[codec.route_identity(message.payload)] = message.payload
    return found
