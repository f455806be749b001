"""What a design needs of the inventory to render a machine: a gateway for each default
route, and one that is not the machine's own address. The inventory's checks ask this
of its own design; rendering under another design (`--design`) asks it of that one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from netcfg.designs.base import Design
from netcfg.errors import Problem
from netcfg.model.host import DesignName
from netcfg.model.inventory import Inventory, Machine


def missing_gateways(design: Design, inventory: Inventory, machines: Iterable[Machine]) -> Iterator[Problem]:
    """Every default route the design renders needs a gateway."""
    for machine in machines:
        for family in (4, 6):
            for network, location in design.gateway_networks(inventory, machine, family):
                if network.gateway is None:
                    yield Problem(
                        location,
                        f"machine '{machine.name}' needs an IPv{family} default route via"
                        f" network {network.cidr}, which has no gateway",
                        f"add gateway: to network {network.cidr} at {network.location}",
                    )


def own_gateways(design: Design, inventory: Inventory, machines: Iterable[Machine]) -> Iterator[Problem]:
    """A machine's default route cannot point at the machine itself (the kernel refuses
    an IPv6 gateway that is a local address; an IPv4 one would loop)."""
    for machine in machines:
        own = set(machine.addresses)
        for family in (4, 6):
            for network, location in design.gateway_networks(inventory, machine, family):
                if network.gateway is not None and network.gateway in own:
                    yield Problem(
                        location,
                        f"machine '{machine.name}' has address {network.gateway}, the gateway of its network"
                        f" {network.cidr}: its default route would point at itself",
                        "routers hold the gateways; give the machine another address",
                    )


def gateway_problems(design: Design, inventory: Inventory, machines: Iterable[Machine]) -> list[Problem]:
    chosen = list(machines)
    return [*missing_gateways(design, inventory, chosen), *own_gateways(design, inventory, chosen)]


def by_design(inventory: Inventory, designs: Mapping[DesignName, Design]) -> list[tuple[Design, list[Machine]]]:
    """The machines of `inventory` grouped under the design each is rendered with."""
    groups: dict[DesignName, list[Machine]] = {}
    for machine in inventory.machines.values():
        groups.setdefault(inventory.design_of(machine), []).append(machine)
    return [(designs[name], members) for name, members in groups.items()]
