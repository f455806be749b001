"""The owned kernel state of one machine: what apply may add, change or remove.

Owned (DESIGN.md, "Applying"):
  - routes carrying netcfg's protocol number (77), in any table;
  - rules whose priority is one of the inventory's segment priorities, except the
    kernel's own main/local/default priorities (0, 32766, 32767);
  - addresses on the machine's rendered interfaces that lie inside one of the
    inventory's networks (link-local IPv6 and any address outside the inventory are
    never touched).
Links are not owned: apply neither creates nor deletes interfaces.

Entries are config.Address/Rule/Route values in one canonical spelling (the kernel's:
inet_ntop, host bits cleared, IPv6 routes without scope, kernel default metrics as
None), so desired and live states compare with plain set operations.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, replace

from netcfg.kernel.codec import AF_OF_FAMILY, DEFAULT_METRIC, canonical_ip, canonical_prefix
from netcfg.model.host import Address, HostConfig, Route, Rule
from netcfg.model.inventory import Inventory

KERNEL_RULE_PRIORITIES = frozenset({0, 32766, 32767})


@dataclass(frozen=True, slots=True)
class Ownership:
    """What a machine's apply owns: rule priorities, networks and interfaces."""

    priorities: frozenset[int]
    interfaces: frozenset[str]
    # Per family (IPv4, IPv6): (first, last) integer ranges of the inventory's networks.
    ranges: tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]] = ((), ())

    def owns_rule_priority(self, priority: int) -> bool:
        return priority in self.priorities and priority not in KERNEL_RULE_PRIORITIES

    def owns_address(self, address: Address) -> bool:
        if address.interface not in self.interfaces:
            return False
        ranges = self.ranges[0 if address.family == 4 else 1]
        value = int.from_bytes(socket.inet_pton(AF_OF_FAMILY[address.family], address.ip), "big")
        # A namespace holds a handful of addresses: a scan is cheap and copes with
        # nested networks.
        return any(first <= value <= last for first, last in ranges)


def ownership(inventory: Inventory, host: HostConfig) -> Ownership:
    v4 = sorted((n.prefix.first, n.prefix.last) for n in inventory.networks if n.family == 4)
    v6 = sorted((n.prefix.first, n.prefix.last) for n in inventory.networks if n.family == 6)
    return Ownership(
        priorities=frozenset(s.priority for s in inventory.segments.values()),
        interfaces=frozenset(i.name for i in host.interfaces),
        ranges=(tuple(v4), tuple(v6)),
    )


@dataclass(frozen=True, slots=True)
class OwnedState:
    addresses: frozenset[Address] = frozenset()
    rules: frozenset[Rule] = frozenset()
    routes: frozenset[Route] = frozenset()

    @property
    def size(self) -> int:
        return len(self.addresses) + len(self.rules) + len(self.routes)


def canonical_address(address: Address) -> Address:
    ip, _, length = address.address.partition("/")
    return Address(address.interface, address.family, f"{canonical_ip(ip)}/{length}")


def canonical_rule(rule: Rule) -> Rule:
    return replace(
        rule,
        src=canonical_prefix(rule.src) if rule.src else None,
        dst=canonical_prefix(rule.dst) if rule.dst else None,
    )


def canonical_route(route: Route) -> Route:
    metric = route.metric
    return replace(
        route,
        dst=canonical_prefix(route.dst),
        gateway=canonical_ip(route.gateway) if route.gateway else None,
        # IPv6 routes have no scope in the kernel; a gateway route names no device.
        scope="global" if route.family == 6 else route.scope,
        device=None if route.gateway else route.device,
        metric=None if metric is None or metric == DEFAULT_METRIC[route.family] else metric,
    )


def desired_state(host: HostConfig) -> OwnedState:
    """The owned state `host` asks for, spelled as the kernel reports it."""
    return OwnedState(
        addresses=frozenset(canonical_address(a) for a in host.addresses),
        rules=frozenset(canonical_rule(r) for r in host.rules),
        routes=frozenset(canonical_route(r) for r in host.routes),
    )
