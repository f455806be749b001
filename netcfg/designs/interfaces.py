"""What both designs share: addresses with their prefix length, routers, own networks."""

from __future__ import annotations

from netcfg.designs.base import Reads
from netcfg.model.address_text import address_text
from netcfg.model.host import Address, DesignName, HostConfig, InterfaceConfig, Kind
from netcfg.model.inventory import Interface, Inventory, Machine, Network
from netcfg.problems import Location


def interface_config(inventory: Inventory, machine: Machine, iface: Interface) -> InterfaceConfig:
    addresses = []
    for ip, network in zip(iface.addresses, inventory.holders(iface), strict=True):
        length = network.length if network else ip.netmask_bits()
        addresses.append(Address(iface.name, ip.version, f"{address_text(ip)}/{length}"))
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
    for ip, network in zip(iface.addresses, inventory.holders(iface), strict=True):
        if ip.version == family and network is not None and network not in found:
            found.append(network)
    return found


def router_config(inventory: Inventory, machine: Machine, design: DesignName) -> HostConfig:
    """Routers carry the gateway addresses and forward; they get no policy rules."""
    return HostConfig(
        name=machine.name,
        kind=machine.kind,
        design=design,
        interfaces=interface_configs(inventory, machine),
        forwarding=True,
    )


def own_reads(inventory: Inventory, machine: Machine) -> Reads:
    """Every design reads a machine's segments and the networks of its addresses."""
    networks: dict[int, Network] = {}
    for iface in machine.interfaces:
        for holder in inventory.holders(iface):
            if holder is not None:
                networks.setdefault(id(holder), holder)
    segments = tuple(dict.fromkeys(i.segment for i in machine.interfaces))
    return Reads(segments, tuple(networks.values()))


def first_networks(inventory: Inventory, machine: Machine, family: int) -> list[tuple[int, str, Network, Location]]:
    """Per segment the machine has an address of `family` on: (priority, segment, the
    network of its first such address, that address's location)."""
    firsts = []
    for iface in machine.interfaces:
        segment = inventory.segments.get(iface.segment)
        if segment is None:
            continue
        locations = iface.address_locations or (iface.location,) * len(iface.addresses)
        for address, location in zip(iface.addresses, locations, strict=True):
            if address.version == family:
                network = inventory.network_of(address, iface.segment)
                if network is not None:
                    firsts.append((segment.priority, segment.name, network, location))
                break
    return firsts
