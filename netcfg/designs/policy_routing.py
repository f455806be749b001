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

from netcfg.config import MAIN_TABLE, HostConfig, Route, Rule, default_prefix
from netcfg.designs.common import interface_configs, own_networks, router_config
from netcfg.inventory.model import Design, Inventory, Kind, Machine, Network

DESIGN = str(Design.POLICY_ROUTING)


def render(inventory: Inventory, machines: Iterable[Machine]) -> dict[str, HostConfig]:
    segment_nets: dict[tuple[str, int], tuple[Network, ...]] = {}
    for n in inventory.networks:
        segment_nets[(n.segment, n.family)] = segment_nets.get((n.segment, n.family), ()) + (n,)
    # Every machine of a segment shares these; building them once keeps a 10,000-machine
    # fleet with hundreds of networks per segment cheap in time and memory.
    to_rules: dict[tuple[str, int], tuple[Rule, ...]] = {}
    onlink: dict[tuple[str, int, str], tuple[Route, ...]] = {}

    configs = {}
    for machine in machines:
        if machine.kind is Kind.ROUTER:
            configs[machine.name] = router_config(inventory, machine, DESIGN)
            continue
        rules: list[Rule] = []
        routes: list[Route] = []
        main_defaults: list[Route] = []
        for iface in machine.interfaces:
            segment = inventory.segments[iface.segment]
            table, priority = segment.table, segment.priority
            for family in (4, 6):
                own = own_networks(inventory, iface, family)
                if not own:
                    continue
                nets = segment_nets[(segment.name, family)]
                key = (segment.name, family)
                if key not in to_rules:
                    to_rules[key] = tuple(Rule(family, priority, table, dst=n.cidr) for n in nets)
                rkey = (segment.name, family, iface.name)
                if rkey not in onlink:
                    onlink[rkey] = tuple(
                        Route(family, table, n.cidr, device=iface.name, scope="link")
                        for n in nets
                    )
                rules.extend(Rule(family, priority, table, src=n.cidr) for n in own)
                rules.extend(to_rules[key])
                routes.extend(onlink[rkey])
                gateway = own[0].gateway
                if gateway is not None:
                    default = default_prefix(family)
                    routes.append(Route(family, table, default, gateway=str(gateway)))
                    main_defaults.append(
                        Route(family, MAIN_TABLE, default, gateway=str(gateway), metric=priority)
                    )
        configs[machine.name] = HostConfig(
            name=machine.name,
            kind=str(machine.kind),
            design=DESIGN,
            interfaces=interface_configs(inventory, machine),
            rules=tuple(rules),
            routes=tuple(routes + main_defaults),
        )
    return configs
