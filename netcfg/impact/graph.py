"""The dependency graph: which inventory entities each machine's configuration reads.

Nodes are entities (the design, segments, networks, "all networks of family f on
segment s", machines); an edge u -> v means "v's rendered configuration depends on u".
Machines are the sinks, so the machines an entity change can touch are its machine
descendants. The graph follows the design in force:

- policy-routing: a machine with an address of family f on segment s reads every
  network of family f on s (its `to` rules and on-link routes), through one shared
  ("networks", s, f) node, so the graph stays linear in machines + networks;
- flat: a machine reads only the networks holding its addresses (prefix length and
  gateway);
- both: a machine reads itself, the segments it has interfaces on (table, priority)
  and the design (implicit: the design node reaches every machine).

Rendering only the descendants of changed entities therefore yields the same diff as
rendering everything: machines outside them read nothing that changed.
"""

from __future__ import annotations

import networkx as nx

from netcfg.inventory.model import Design, Inventory, Kind, Machine, Network

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


def build_graph(inventory: Inventory, design: Design | str | None = None) -> nx.DiGraph:
    chosen = Design(design) if design is not None else inventory.policy.design
    graph = nx.DiGraph(design=str(chosen))
    graph.add_node(DESIGN_NODE)
    for segment in inventory.segments:
        graph.add_node(segment_node(segment))
    # Formatting a prefix is slow in netaddr (IPv6 especially): one node per network,
    # found by object identity for each address that the index resolves to it.
    net_nodes: dict[int, Node] = {}
    for network in inventory.networks:
        node = network_node(network)
        net_nodes[id(network)] = node
        graph.add_node(node, network=network)
        if chosen is Design.POLICY_ROUTING:
            graph.add_edge(node, family_node(network.segment, network.family))
    edges: list[tuple[Node, Node]] = []
    for machine in inventory.machines.values():
        mnode = machine_node(machine.name)
        graph.add_node(mnode, machine=machine)
        for iface in machine.interfaces:
            edges.append((segment_node(iface.segment), mnode))
            families = set()
            for ip in iface.addresses:
                holder = inventory.network_of(ip, iface.segment)
                if holder is not None:
                    edges.append((net_nodes[id(holder)], mnode))
                    families.add(ip.version)
            # Routers render addresses and forwarding only, never the segment's rules.
            if chosen is Design.POLICY_ROUTING and machine.kind is not Kind.ROUTER:
                edges.extend((family_node(iface.segment, f), mnode) for f in sorted(families))
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
