"""The replacement design: no rules and no extra tables.

The connected routes of the machine's own networks come from the kernel when its
addresses (with their prefix length) are configured; netcfg adds one default route per
family in main, via the gateway of the preferred segment (the lowest priority value the
machine has an address of that family on), with metric P_s. A machine's config depends
only on its own networks, so adding a public network touches only the machines in it.
"""

from __future__ import annotations

from collections.abc import Iterable

from netcfg.host import MAIN_TABLE, HostConfig, Route, default_prefix
from netcfg.designs.common import interface_configs, own_networks, router_config
from netcfg.inventory.model import Design, Inventory, Kind, Machine

DESIGN = str(Design.FLAT)


def render(inventory: Inventory, machines: Iterable[Machine]) -> dict[str, HostConfig]:
    configs = {}
    for machine in machines:
        if machine.kind is Kind.ROUTER:
            configs[machine.name] = router_config(inventory, machine, DESIGN)
            continue
        routes = []
        for family in (4, 6):
            preferred = preferred_gateway(inventory, machine, family)
            if preferred is not None:
                gateway, priority = preferred
                routes.append(
                    Route(family, MAIN_TABLE, default_prefix(family), gateway=gateway, metric=priority)
                )
        configs[machine.name] = HostConfig(
            name=machine.name,
            kind=str(machine.kind),
            design=DESIGN,
            interfaces=interface_configs(inventory, machine),
            routes=tuple(routes),
        )
    return configs


def preferred_gateway(inventory: Inventory, machine: Machine, family: int) -> tuple[str, int] | None:
    """(gateway, priority) of the lowest-priority segment with an address of `family`."""
    candidates = []
    for iface in machine.interfaces:
        own = own_networks(inventory, iface, family)
        if own:
            segment = inventory.segments[iface.segment]
            candidates.append((segment.priority, segment.name, own[0]))
    if not candidates:
        return None
    priority, _, network = min(candidates, key=lambda c: (c[0], c[1]))
    return (str(network.gateway), priority) if network.gateway is not None else None
