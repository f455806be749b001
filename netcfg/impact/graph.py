"""The dependency graph: which inventory entities each machine's configuration reads.

Nodes are entities (the design, segments, networks, "all networks of family f on
segment s", machines); an edge u -> v means "v's rendered configuration depends on u".
Machines are the sinks, so the machines an entity change can touch are its machine
descendants. What a machine reads is the design's answer (`Design.reads`): under
policy-routing, every network of its segments through one shared ("networks", s, f)
node per segment and family, so the graph stays linear in machines + networks; under
flat only the networks holding its addresses. Every machine reads the design
(implicit: the design node reaches every machine).

Rendering only the descendants of changed entities therefore yields the same diff as
rendering everything: machines outside them read nothing that changed.
"""

from __future__ import annotations

import networkx as nx

from netcfg.designs import get_design
from netcfg.model.host import DesignName
from netcfg.model.inventory import Inventory, Machine, Network

Node = tuple[str, ...]
DESIGN_NODE: Node = ("design",)


def machine_node(name: str) -> Node:
    return ("machine", name)


def segment_node(name: str) -> Node:
    return ("segment", name)


def network_node(network: Network) -> Node:
    return ("network", network.segment, network.cidr)


def family_node(segment: str, family: int) -> Node:
    return ("networks", segment, str(family))


def build_graph(inventory: Inventory, design: DesignName | str | None = None) -> nx.DiGraph:
    chosen = get_design(design if design is not None else inventory.policy.design)
    graph = nx.DiGraph(design=chosen.name)
    graph.add_node(DESIGN_NODE)
    for segment in inventory.segments:
        graph.add_node(segment_node(segment))
    # Formatting a prefix is slow in netaddr (IPv6 especially): one node per network,
    # found by object identity for each network a machine reads.
    net_nodes: dict[int, Node] = {}
    for network in inventory.networks:
        node = network_node(network)
        net_nodes[id(network)] = node
        graph.add_node(node, network=network)
        graph.add_edge(node, family_node(network.segment, network.family))
    edges: list[tuple[Node, Node]] = []
    for machine in inventory.machines.values():
        mnode = machine_node(machine.name)
        graph.add_node(mnode, machine=machine)
        reads = chosen.reads(inventory, machine)
        edges.extend((segment_node(s), mnode) for s in reads.segments)
        edges.extend((net_nodes[id(n)], mnode) for n in reads.networks)
        edges.extend((family_node(s, f), mnode) for s, f in reads.segment_families)
    graph.add_edges_from(edges)
    return graph


def dependents(graph: nx.DiGraph, node: Node) -> set[str]:
    """Names of the machines whose configuration depends on `node`."""
    if node not in graph:
        return set()
    if node[0] == "machine":
        return {node[1]}
    if node == DESIGN_NODE:
        # Every machine reads the design; kept out of the edge list, where it would add
        # one edge per machine for a change that is all-or-nothing anyway.
        return {n[1] for n in graph if n[0] == "machine"}
    return {d[1] for d in nx.descendants(graph, node) if d[0] == "machine"}


def machines_of_segment(inventory: Inventory) -> dict[str, list[Machine]]:
    out: dict[str, list[Machine]] = {s: [] for s in inventory.segments}
    for machine in inventory.machines.values():
        for iface in machine.interfaces:
            out.setdefault(iface.segment, []).append(machine)
    return out
