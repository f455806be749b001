"""`who-uses`: the machines a prefix, an address or a segment reaches, and why.

Answered from the same dependency graph the impact analysis uses, so "who uses this
network?" and "what would changing it touch?" always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from netaddr import AddrFormatError, IPAddress, IPNetwork

from netcfg.designs import Design, get_design, render
from netcfg.errors import quote
from netcfg.impact.graph import build_graph, dependents, network_node, segment_node
from netcfg.model.host import DesignName, Kind
from netcfg.model.inventory import Inventory


@dataclass(frozen=True, slots=True, order=True)
class Use:
    """One machine using the queried thing, on one segment, and why."""

    machine: str
    segment: str
    kind: Kind
    why: str


def who_uses(inventory: Inventory, query: str, design_name: DesignName | str | None = None) -> list[Use]:
    """Machines using a segment, a prefix or an address, each with why: machines with
    an address in it, and machines whose configuration reads it (under policy-routing
    every machine of the segment with an address of that family)."""
    forced = get_design(design_name) if design_name is not None else None

    def design_of(name: str) -> Design:
        return forced or get_design(inventory.design_of(inventory.machines[name]))

    graph = build_graph(inventory, forced.name if forced else None)
    rows: dict[tuple[str, str], Use] = {}

    def add(name: str, segment: str, why: str) -> None:
        rows.setdefault((name, segment), Use(name, segment, inventory.machines[name].kind, why))

    if query in inventory.segments:
        for name in sorted(dependents(graph, segment_node(query))):
            add(name, query, f"has an interface on segment {query}")
        return _ordered(rows)
    try:
        wanted = IPNetwork(query) if "/" in query else None
        address = IPAddress(query) if wanted is None else None
    except (AddrFormatError, ValueError) as error:
        raise ValueError(f"{quote(query)} is neither a segment, a prefix nor an address") from error
    if address is not None:
        for machine in inventory.machines.values():
            for iface in machine.interfaces:
                if address in iface.addresses:
                    add(machine.name, iface.segment, f"has address {address}")
        # A gateway address is used by every machine routing through it: ask the
        # renderer rather than re-deriving each design's choice of gateway.
        for name, config in render(inventory, forced.name if forced else None).items():
            for route in config.routes:
                if route.gateway == str(address):
                    segment = _segment_of_gateway(inventory, address)
                    add(name, segment, f"routes via gateway {address} ({route})")
                    break
        return _ordered(rows)
    assert wanted is not None
    networks = [n for n in inventory.networks if n.prefix == wanted or n.prefix in wanted or wanted in n.prefix]
    for machine in inventory.machines.values():
        for iface in machine.interfaces:
            for ip in iface.addresses:
                if ip in wanted:
                    add(machine.name, iface.segment, f"has address {ip} in {wanted}")
    for network in networks:
        for name in sorted(dependents(graph, network_node(network))):
            design = design_of(name)
            reads = design.reads(inventory, inventory.machines[name])
            if (network.segment, network.family) in reads.segment_families:
                why = f"{design.name}: routes to every network of segment {network.segment}, including {network.cidr}"
            else:
                why = f"has an address in {network.cidr}"
            add(name, network.segment, why)
    return _ordered(rows)


def _segment_of_gateway(inventory: Inventory, address: IPAddress) -> str:
    for network in inventory.networks:
        if network.gateway == address:
            return network.segment
    return "-"


def _ordered(rows: dict[tuple[str, str], Use]) -> list[Use]:
    return [rows[k] for k in sorted(rows)]
