"""The legacy design: one routing table per segment, rules steering into it.

For each segment s a machine has addresses of family f on (table T_s, priority P_s):
  - `from n lookup T_s` for each network n of s holding one of its addresses;
  - `to n lookup T_s` for every network n of family f on s;
  - in T_s, `n dev if_s scope link` for every network n of family f on s, and a
    default via the gateway of the machine's first network on s;
  - in main, a default via that gateway with metric P_s (the lowest wins).
The `to` rules and on-link routes depend on every network of the segment: that is why
adding one network touches every machine on it.
"""

from __future__ import annotations

from collections.abc import Iterable

from netcfg.designs.base import Endpoint, PathKind, Reads, Render
from netcfg.designs.interfaces import first_networks, interface_configs, own_networks, own_reads, router_config
from netcfg.model.address_text import address_text
from netcfg.model.entries import Entries
from netcfg.model.host import MAIN_TABLE, DesignName, HostConfig, Kind, Route, Rule, default_prefix
from netcfg.model.inventory import Inventory, Machine, Network, Segment
from netcfg.problems import Location

# (segment, interface name, family, own networks) per interface and family
Owned = tuple[tuple[str, str, int, tuple[Network, ...]], ...]


class PolicyRouting:
    name = DesignName.POLICY_ROUTING

    def renderer(self, inventory: Inventory) -> Render:
        return _Renderer(inventory)

    def reads(self, inventory: Inventory, machine: Machine) -> Reads:
        own = own_reads(inventory, machine)
        if machine.kind is Kind.ROUTER:  # addresses and forwarding only, never a segment's rules
            return own
        families = tuple(dict.fromkeys((n.segment, n.family) for n in own.networks))
        return Reads(own.segments, own.networks, families)

    def gateway_networks(self, inventory: Inventory, machine: Machine, family: int) -> list[tuple[Network, Location]]:
        """The first network of every segment: each segment's table has its own default."""
        if machine.kind is Kind.ROUTER:
            return []
        return [(network, location) for _, _, network, location in first_networks(inventory, machine, family)]

    def promised_path(self, src: Endpoint, dst: Endpoint) -> PathKind | None:
        """Every network of a segment is on-link: a segment's traffic never needs the router."""
        if src.segment == dst.segment and src.address.version == dst.address.version:
            return PathKind.DIRECT
        return None


class _Renderer:
    """Machines with the same segments, interface names and own networks get the very
    same rules and routes: each combination is built once, for every call, and its
    tuples shared. On a fleet that saves most of the work and memory, and lets diffs
    compare by identity."""

    __slots__ = ("_inventory", "_parts", "_shared")

    def __init__(self, inventory: Inventory):
        self._inventory = inventory
        self._parts = _SharedParts(inventory)
        self._shared: dict[Owned, tuple[Entries[Rule], Entries[Route]]] = {}

    def __call__(self, machines: Iterable[Machine]) -> dict[str, HostConfig]:
        inventory, shared = self._inventory, self._shared
        configs = {}
        for machine in machines:
            if machine.kind is Kind.ROUTER:
                configs[machine.name] = router_config(inventory, machine, DesignName.POLICY_ROUTING)
                continue
            owned = tuple(
                (iface.segment, iface.name, family, tuple(own_networks(inventory, iface, family)))
                for iface in machine.interfaces
                for family in (4, 6)
            )
            found = shared.get(owned)
            if found is None:
                found = shared[owned] = self._parts.rules_and_routes(owned)
            rules, routes = found
            configs[machine.name] = HostConfig(
                name=machine.name,
                kind=machine.kind,
                design=DesignName.POLICY_ROUTING,
                interfaces=interface_configs(inventory, machine),
                rules=rules,
                routes=routes,
            )
        return configs


class _SharedParts:
    """The pieces of machines' rules and routes, each built once per renderer and shared:
    a segment's `to` rules and on-link routes (by every machine of the segment), the
    `from` rules of a group of own networks and the defaults via a network's gateway (by
    every machine with addresses there). A machine's rules and routes chain them.

    In a large fleet nearly every machine has its own combination of networks (100,000
    machines on 5,000 networks), yet each piece of it is shared with the other machines
    of those networks: built once here, compared once by the diff."""

    __slots__ = ("_inventory", "_rules", "_routes")

    def __init__(self, inventory: Inventory):
        self._inventory = inventory
        self._rules: dict[tuple[object, ...], tuple[Rule, ...]] = {}
        self._routes: dict[tuple[object, ...], tuple[Route, ...]] = {}

    def rules_and_routes(self, owned: Owned) -> tuple[Entries[Rule], Entries[Route]]:
        rules: list[tuple[Rule, ...]] = []
        routes: list[tuple[Route, ...]] = []
        main_defaults: list[tuple[Route, ...]] = []
        for segment_name, device, family, own in owned:
            if not own:
                continue
            segment = self._inventory.segments[segment_name]
            rules.append(self._from_rules(segment, family, own))
            rules.append(self._to_rules(segment, family))
            routes.append(self._onlink(segment, family, device))
            if own[0].gateway is not None:
                routes.append(self._default(segment.table, family, own[0]))
                main_defaults.append(self._default(MAIN_TABLE, family, own[0], segment.priority))
        return Entries(rules), Entries([*routes, *main_defaults])

    def _from_rules(self, segment: Segment, family: int, own: tuple[Network, ...]) -> tuple[Rule, ...]:
        key = ("from", segment.name, family, own)
        found = self._rules.get(key)
        if found is None:
            found = self._rules[key] = tuple(Rule(family, segment.priority, segment.table, src=n.cidr) for n in own)
        return found

    def _to_rules(self, segment: Segment, family: int) -> tuple[Rule, ...]:
        key = ("to", segment.name, family)
        found = self._rules.get(key)
        if found is None:
            nets = self._inventory.networks_on(segment.name, family)
            found = self._rules[key] = tuple(Rule(family, segment.priority, segment.table, dst=n.cidr) for n in nets)
        return found

    def _onlink(self, segment: Segment, family: int, device: str) -> tuple[Route, ...]:
        key = ("onlink", segment.name, family, device)
        found = self._routes.get(key)
        if found is None:
            nets = self._inventory.networks_on(segment.name, family)
            found = self._routes[key] = tuple(
                Route(family, segment.table, n.cidr, device=device, scope="link") for n in nets
            )
        return found

    def _default(self, table: int, family: int, network: Network, metric: int | None = None) -> tuple[Route, ...]:
        """The default via `network`'s gateway in `table` (in main, with the segment's
        priority as its metric: the lowest wins)."""
        key = ("default", table, family, network, metric)
        found = self._routes.get(key)
        if found is None:
            assert network.gateway is not None
            route = Route(family, table, default_prefix(family), gateway=address_text(network.gateway), metric=metric)
            found = self._routes[key] = (route,)
        return found


DESIGN = PolicyRouting()
