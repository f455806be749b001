"""Which interface a route or rule is written under, for formats organised per link.

systemd-networkd and netplan configure routes and rules as part of a link. The model
keeps them per machine, so they are attached here:
  - a route with a device: that device;
  - a route via a gateway: the interface with an address in a network holding the
    gateway (the segment the design took the gateway from);
  - a rule: the interface whose on-link routes fill the rule's table (its segment),
    else the interface holding the rule's source prefix;
  - anything else: the first interface (a machine always has one to carry it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netaddr import IPAddress, IPNetwork

from netcfg.model.host import HostConfig, InterfaceConfig, Route, Rule


@dataclass(slots=True)
class Attached:
    interface: InterfaceConfig
    routes: list[Route] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)


def attach(config: HostConfig) -> list[Attached]:
    """One entry per interface, in interface order, with its routes and rules."""
    entries = [Attached(i) for i in config.interfaces]
    if not entries:
        return entries
    by_name = {e.interface.name: e for e in entries}
    networks = [(IPNetwork(a.address), e) for e in entries for a in e.interface.addresses]
    table_owner: dict[int, Attached] = {}
    for route in config.routes:
        if route.device in by_name:
            table_owner.setdefault(route.table, by_name[route.device])

    def holder(address: str) -> Attached | None:
        ip = IPNetwork(address) if "/" in address else IPAddress(address)
        for net, entry in networks:
            if (ip in net) if isinstance(ip, IPAddress) else (ip.first in net and ip.last in net):
                return entry
        return None

    for route in config.routes:
        if route.device in by_name:
            target = by_name[route.device]
        elif route.gateway is not None:
            target = holder(route.gateway) or table_owner.get(route.table) or entries[0]
        else:
            target = table_owner.get(route.table) or entries[0]
        target.routes.append(route)
    for rule in config.rules:
        owner = table_owner.get(rule.table)
        if owner is None and rule.src is not None:
            owner = holder(rule.src)
        (owner or entries[0]).rules.append(rule)
    return entries
