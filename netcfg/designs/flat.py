"""The replacement design: no rules and no extra tables.

The connected routes of the machine's own networks come from the kernel when its
addresses (with their prefix length) are configured; netcfg adds one default route per
family in main, via the gateway of the preferred segment (the lowest priority value the
machine has an address of that family on), with metric P_s. A machine's config depends
only on its own networks, so adding a public network touches only the machines in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from netcfg.designs.base import Endpoint, PathKind, Reads, Render
from netcfg.designs.interfaces import first_networks, interface_configs, own_networks, own_reads, router_config
from netcfg.model.address_text import address_text
from netcfg.model.host import MAIN_TABLE, DesignName, HostConfig, Kind, Route, default_prefix
from netcfg.model.inventory import Inventory, Machine, Network
from netcfg.problems import Location


class Flat:
    name = DesignName.FLAT

    def renderer(self, inventory: Inventory) -> Render:
        return partial(self._render, inventory)  # each machine alone: nothing to share

    def _render(self, inventory: Inventory, machines: Iterable[Machine]) -> dict[str, HostConfig]:
        configs = {}
        for machine in machines:
            if machine.kind is Kind.ROUTER:
                configs[machine.name] = router_config(inventory, machine, self.name)
                continue
            routes = []
            for family in (4, 6):
                preferred = preferred_gateway(inventory, machine, family)
                if preferred is not None:
                    gateway, priority = preferred
                    routes.append(Route(family, MAIN_TABLE, default_prefix(family), gateway=gateway, metric=priority))
            configs[machine.name] = HostConfig(
                name=machine.name,
                kind=machine.kind,
                design=self.name,
                interfaces=interface_configs(inventory, machine),
                routes=tuple(routes),
            )
        return configs

    def reads(self, inventory: Inventory, machine: Machine) -> Reads:
        return own_reads(inventory, machine)

    def gateway_networks(self, inventory: Inventory, machine: Machine, family: int) -> list[tuple[Network, Location]]:
        """Only the preferred segment's first network: one default route per family."""
        firsts = first_networks(inventory, machine, family) if machine.kind is not Kind.ROUTER else []
        if not firsts:
            return []
        _, _, network, location = min(firsts, key=lambda f: (f[0], f[1]))
        return [(network, location)]

    def promised_path(self, src: Endpoint, dst: Endpoint) -> PathKind | None:
        """A shared network (the private one, a /64) is on-link; another network of the
        segment is reached through the default route, at the router."""
        if src.segment != dst.segment or src.address.version != dst.address.version:
            return None
        return PathKind.DIRECT if src.network == dst.network else PathKind.VIA_ROUTER


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
    return (address_text(network.gateway), priority) if network.gateway is not None else None


DESIGN = Flat()
