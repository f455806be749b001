"""What a design needs of the inventory to render a machine: a gateway for each default
route, and one that is not the machine's own address. The inventory's checks ask this
of its own design; rendering under another design (`--design`) asks it of that one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netcfg.designs.base import Design
from netcfg.model.host import DesignName
from netcfg.model.inventory import Inventory, Machine
from netcfg.problems import Problem


def default_route_problems(
    design: Design, inventory: Inventory, machines: Iterable[Machine]
) -> tuple[list[Problem], list[Problem]]:
    """Every default route the design renders needs a gateway, and one that is not the
    machine's own address (the kernel refuses an IPv6 gateway that is a local address;
    an IPv4 one would loop): (missing gateways, machines' own)."""
    defaults = [
        (machine, family, network, location)
        for machine in machines
        for family in (4, 6)
        for network, location in design.gateway_networks(inventory, machine, family)
    ]
    missing = [
        Problem(
            location,
            f"machine '{machine.name}' needs an IPv{family} default route via"
            f" network {network.cidr}, which has no gateway",
            f"add gateway: to network {network.cidr} at {network.location}",
        )
        for machine, family, network, location in defaults
        if network.gateway is None
    ]
    own = [
        Problem(
            location,
            f"machine '{machine.name}' has address {network.gateway}, the gateway of its network"
            f" {network.cidr}: its default route would point at itself",
            "routers hold the gateways; give the machine another address",
        )
        for machine, _, network, location in defaults
        if network.gateway is not None and network.gateway in machine.addresses
    ]
    return missing, own


def gateway_problems(design: Design, inventory: Inventory, machines: Iterable[Machine]) -> list[Problem]:
    missing, own = default_route_problems(design, inventory, machines)
    return missing + own


def by_design(inventory: Inventory, designs: Mapping[DesignName, Design]) -> list[tuple[Design, list[Machine]]]:
    """The machines of `inventory` grouped under the design each is rendered with."""
    groups: dict[DesignName, list[Machine]] = {}
    for machine in inventory.machines.values():
        groups.setdefault(inventory.design_of(machine), []).append(machine)
    return [(designs[name], members) for name, members in groups.items()]
