"""The owned kernel state of one machine: what apply may add, change or remove.

Owned (docs/design.md, "Applying") is what netcfg marked with its protocol number (77):
  - routes with protocol 77, in any table;
  - rules with FRA_PROTOCOL 77, at any priority;
  - addresses with IFA_PROTO 77 on the machine's rendered interfaces.
Everything else is foreign, whatever its priority, table or network: the kernel's
main/local/default rules and connected routes, a colleague's rule at a segment's
priority, an address the host's own network configuration put inside an inventory
network. Links are not owned: apply neither creates nor deletes interfaces.

Owned entries netcfg's model can express are config.Address/Rule/Route values in one
canonical spelling (the kernel's: inet_ntop, host bits cleared, IPv6 routes without
scope, kernel default metrics as None, a rule's /0 selector as none), so desired and
live states compare with plain set operations. A marked rule or route the model cannot express (a fwmark, a preferred
source, ...) is a codec.KernelRule/KernelRoute with every field the kernel reported:
never desired, so removed, and re-created exactly by a roll-back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from netcfg.kernel.codec import DEFAULT_METRIC, KernelRoute, KernelRule, canonical_ip, canonical_prefix
from netcfg.model.host import PROTOCOL, Address, HostConfig, Route, Rule

if TYPE_CHECKING:
    from netcfg.model.inventory import Inventory


@dataclass(frozen=True, slots=True)
class Ownership:
    """What a machine's apply owns beyond its marker: the interfaces it configures. A
    marked address on a link the machine's render does not name is left to whatever
    manages that link (apply never touches links it was not asked to configure)."""

    interfaces: frozenset[str]

    def owns_address(self, address: Address, protocol: int) -> bool:
        return protocol == PROTOCOL and address.interface in self.interfaces


def ownership(inventory: Inventory | None, host: HostConfig) -> Ownership:
    """`host`'s ownership. The inventory no longer decides anything (ownership used to
    follow its segment priorities and networks); the argument stays so callers keep
    one call whatever ownership needs."""
    del inventory
    return Ownership(interfaces=frozenset(i.name for i in host.interfaces))


@dataclass(frozen=True, slots=True)
class OwnedState:
    """The addresses, rules and routes netcfg holds (or should hold) in a namespace."""

    addresses: frozenset[Address] = frozenset()
    rules: frozenset[Rule | KernelRule] = frozenset()
    routes: frozenset[Route | KernelRoute] = frozenset()

    @property
    def size(self) -> int:
        return len(self.addresses) + len(self.rules) + len(self.routes)

    def without(self, entries: tuple[object, ...]) -> OwnedState:
        """This state less `entries` (the desired entries foreign ones already provide)."""
        if not entries:
            return self
        gone = frozenset(entries)
        return OwnedState(self.addresses - gone, self.rules - gone, self.routes - gone)


def canonical_address(address: Address) -> Address:
    ip, _, length = address.address.partition("/")
    return Address(address.interface, address.family, f"{canonical_ip(ip)}/{length}")


def canonical_rule(rule: Rule) -> Rule:
    src, dst = _selector(rule.src), _selector(rule.dst)
    # Rendered configs are canonical already: no copy of each of 10,000 rules.
    return rule if (src, dst) == (rule.src, rule.dst) else replace(rule, src=src, dst=dst)


def _selector(prefix: str | None) -> str | None:
    """A rule's from/to as the kernel keeps it: a /0 selects every address, and the kernel
    keeps it as none (`from all`)."""
    if not prefix:
        return None
    canonical = canonical_prefix(prefix)
    return None if canonical.endswith("/0") else canonical


def canonical_route(route: Route) -> Route:
    dst = canonical_prefix(route.dst)
    gateway = canonical_ip(route.gateway) if route.gateway else None
    device = None if gateway else route.device  # a gateway route names no device
    scope = "global" if route.family == 6 else route.scope  # IPv6 routes have no scope in the kernel
    metric = None if route.metric == DEFAULT_METRIC[route.family] else route.metric
    if (dst, gateway, device, scope, metric) == (route.dst, route.gateway, route.device, route.scope, route.metric):
        return route  # rendered configs are canonical already, as with rules
    return Route(route.family, route.table, dst, gateway, device, scope, metric, route.protocol)


def address_order(host: HostConfig) -> dict[object, int]:
    """Each address's position in the config, as the kernel spells it."""
    return {canonical_address(a): i for i, a in enumerate(host.addresses)}


def desired_state(host: HostConfig) -> OwnedState:
    """The owned state `host` asks for, spelled as the kernel reports it."""
    return OwnedState(
        addresses=frozenset(canonical_address(a) for a in host.addresses),
        rules=frozenset(canonical_rule(r) for r in host.rules),
        routes=frozenset(canonical_route(r) for r in host.routes),
    )
