"""Pieces both designs share: addresses with their prefix length, router configs."""

from __future__ import annotations

from netcfg.host import Address, HostConfig, InterfaceConfig
from netcfg.inventory.model import Interface, Inventory, Kind, Machine, Network


def interface_config(inventory: Inventory, machine: Machine, iface: Interface) -> InterfaceConfig:
    addresses = []
    for ip in iface.addresses:
        network = inventory.network_of(ip, iface.segment)
        length = network.prefix.prefixlen if network else ip.netmask_bits()
        addresses.append(Address(iface.name, ip.version, f"{ip}/{length}"))
    return InterfaceConfig(
        name=iface.name,
        segment=iface.segment,
        bridge=machine.kind is Kind.KVM_HOST,
        addresses=tuple(addresses),
    )


def interface_configs(inventory: Inventory, machine: Machine) -> tuple[InterfaceConfig, ...]:
    return tuple(interface_config(inventory, machine, i) for i in machine.interfaces)


def own_networks(inventory: Inventory, iface: Interface, family: int) -> list[Network]:
    """The networks holding the interface's addresses of `family`, first address first."""
    found: list[Network] = []
    for ip in iface.addresses_of(family):
        network = inventory.network_of(ip, iface.segment)
        if network is not None and network not in found:
            found.append(network)
    return found


def router_config(inventory: Inventory, machine: Machine, design: str) -> HostConfig:
    """Routers carry the gateway addresses and forward; they get no policy rules."""
    return HostConfig(
        name=machine.name,
        kind=str(machine.kind),
        design=design,
        interfaces=interface_configs(inventory, machine),
        forwarding=True,
    )
