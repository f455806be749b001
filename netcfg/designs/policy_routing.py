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

from netcfg.designs.base import Endpoint, PathKind, Reads
from netcfg.designs.interfaces import first_networks, interface_configs, own_networks, own_reads, router_config
from netcfg.errors import Location
from netcfg.model.address_text import address_text
from netcfg.model.entries import Entries
from netcfg.model.host import MAIN_TABLE, DesignName, HostConfig, Kind, Route, Rule, default_prefix
from netcfg.model.inventory import Inventory, Machine, Network

# (segment, interface name, family, own networks) per interface and family
Owned = tuple[tuple[str, str, int, tuple[Network, ...]], ...]


class PolicyRouting:
    name = DesignName.POLICY_ROUTING

    def render(self, inventory: Inventory, machines: Iterable[Machine]) -> dict[str, HostConfig]:
        segment_nets: dict[tuple[str, int], tuple[Network, ...]] = {
            key: inventory.networks_on(*key) for key in dict.fromkeys((n.segment, n.family) for n in inventory.networks)
        }
        # Every machine of a segment shares these; building them once keeps a 10,000-machine
        # fleet with hundreds of networks per segment cheap in time and memory.
        to_rules: dict[tuple[str, int], tuple[Rule, ...]] = {}
        onlink: dict[tuple[str, int, str], tuple[Route, ...]] = {}
        # Machines with the same segments, interface names and own networks get the very
        # same rules and routes: build each combination once and share the tuples. On a
        # fleet that saves most of the work and memory, and lets diffs compare by identity.
        shared: dict[Owned, tuple[Entries[Rule], Entries[Route]]] = {}

        configs = {}
        for machine in machines:
            if machine.kind is Kind.ROUTER:
                configs[machine.name] = router_config(inventory, machine, self.name)
                continue
            owned = tuple(
                (iface.segment, iface.name, family, tuple(own_networks(inventory, iface, family)))
                for iface in machine.interfaces
                for family in (4, 6)
            )
            if owned not in shared:
                shared[owned] = _rules_and_routes(inventory, owned, segment_nets, to_rules, onlink)
            rules, routes = shared[owned]
            configs[machine.name] = HostConfig(
                name=machine.name,
                kind=machine.kind,
                design=self.name,
                interfaces=interface_configs(inventory, machine),
                rules=rules,
                routes=routes,
            )
        return configs

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


def _rules_and_routes(
    inventory: Inventory,
    owned: Owned,
    segment_nets: dict[tuple[str, int], tuple[Network, ...]],
    to_rules: dict[tuple[str, int], tuple[Rule, ...]],
    onlink: dict[tuple[str, int, str], tuple[Route, ...]],
) -> tuple[Entries[Rule], Entries[Route]]:
    """A machine's rules and routes as chains of the segment-wide parts (shared by every
    machine of the segment) and its own few entries."""
    rules: list[tuple[Rule, ...]] = []
    routes: list[tuple[Route, ...]] = []
    main_defaults: list[Route] = []
    for segment_name, device, family, own in owned:
        if not own:
            continue
        segment = inventory.segments[segment_name]
        table, priority = segment.table, segment.priority
        nets = segment_nets[(segment_name, family)]
        key = (segment_name, family)
        if key not in to_rules:
            to_rules[key] = tuple(Rule(family, priority, table, dst=n.cidr) for n in nets)
        rkey = (segment_name, family, device)
        if rkey not in onlink:
            onlink[rkey] = tuple(Route(family, table, n.cidr, device=device, scope="link") for n in nets)
        rules.append(tuple(Rule(family, priority, table, src=n.cidr) for n in own))
        rules.append(to_rules[key])
        routes.append(onlink[rkey])
        if own[0].gateway is not None:
            default, gateway = default_prefix(family), address_text(own[0].gateway)
            routes.append((Route(family, table, default, gateway=gateway),))
            main_defaults.append(Route(family, MAIN_TABLE, default, gateway=gateway, metric=priority))
    return Entries(rules), Entries([*routes, tuple(main_defaults)])


DESIGN = PolicyRouting()
