"""The dependency graph: which inventory entities each machine's configuration reads.

Nodes are entities (the design, segments, networks, "all networks of family f on
segment s", machines); an edge u -> v means "v's rendered configuration depends on u".
Machines are the sinks, so the machines an entity change can touch are its machine
descendants. What a machine reads is the design's answer (`Design.reads`): under
policy-routing, every network of its segments through one shared ("networks", s, f)
node per segment and family, so the graph stays linear in machines + networks; under
flat only the networks holding its addresses. Every machine whose design is the
policy's reads the design node (implicit: no edge per machine); a machine with its own
`design:` reads only itself (its design is one of its attributes).

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
    """The graph under `design` for every machine, or (None) each machine's own."""
    forced = get_design(design) if design is not None else None
    graph = nx.DiGraph(
        design=forced.name if forced else inventory.policy.design,
        # who reads the policy's design: every machine without a design of its own
        follows_policy=frozenset(m.name for m in inventory.machines.values() if forced is not None or m.design is None),
    )
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
        reads = (forced or get_design(inventory.design_of(machine))).reads(inventory, machine)
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
        # Every machine following the policy reads the design; kept out of the edge
        # list, where it would add one edge per machine for an all-or-nothing change.
        return set(graph.graph["follows_policy"])
    return {d[1] for d in nx.descendants(graph, node) if d[0] == "machine"}


def machines_of_segment(inventory: Inventory) -> dict[str, list[Machine]]:
    out: dict[str, list[Machine]] = {s: [] for s in inventory.segments}
    for machine in inventory.machines.values():
        for iface in machine.interfaces:
            out.setdefault(iface.segment, []).append(machine)
    return out
