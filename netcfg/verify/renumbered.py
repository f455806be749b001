"""Flows whose end moved to another network: lost when nothing is delivered any more.

The joint count (`joint.tally`) compares a flow class only where both its ends hold an
address in the same network before and after. An address moved to another network
ends its flows and starts new ones, so a machine renumbered into a network its peers
cannot reach had its flows counted as gone and new, never as dropped.

Here a machine's port is one of its interfaces in one family. Between two ports of
machines present on both sides, one of which changed its networks, the flows are
compared as a whole: if none is delivered after, every flow class delivered before
from a network a port left is newly dropped (the others are the joint count's). A port
left with no address at all has its flows removed, not dropped. Like the joint count
this goes class by class: machines in the same class before and the same after are
one group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netcfg.verify.classes import Endpoint
from netcfg.verify.engine import Side, verdict
from netcfg.verify.prefix import Prefix

Port = tuple[str, int]  # interface, family
Ports = dict[Port, dict[Prefix, Endpoint]]


@dataclass(frozen=True, slots=True)
class Lost:
    """Two ports between which a change leaves no delivered flow."""

    source: str
    destination: str
    classes: int  # flow classes delivered before, from a network a port left
    before: tuple[Endpoint, Endpoint]  # one of them
    after: tuple[Endpoint, Endpoint]  # a flow dropped after, from a network new to a port if any


def lost(sides: Sequence[Side]) -> list[Lost]:
    """Every pair of ports of the change's `sides` (base, head) that it disconnects."""
    base, head = sides
    groups: dict[tuple[int, int], list[str]] = {}
    for machine, klass in base.c.class_of.items():
        if machine in head.c.class_of:
            groups.setdefault((klass, head.c.class_of[machine]), []).append(machine)
    ports = {g: (_ports(base, g[0]), _ports(head, g[1])) for g in groups}
    moved = {g: {p for p in {*b, *h} if set(b.get(p, ())) != set(h.get(p, ()))} for g, (b, h) in ports.items()}
    found: list[Lost] = []
    for g1 in (g for g in groups if moved[g]):
        for g2 in groups:
            pairs = [(g1, g2)] if g2 == g1 or moved[g2] else [(g1, g2), (g2, g1)]
            for src, dst in pairs:
                if src == dst and len(groups[src]) == 1:
                    continue  # a lone machine has no flow to itself
                for p1 in ports[src][0].keys() | ports[src][1].keys():
                    for p2 in ports[dst][0].keys() | ports[dst][1].keys():
                        if p1[1] == p2[1] and (p1 in moved[src] or p2 in moved[dst]):
                            loss = _loss(sides, ports[src], ports[dst], p1, p2)
                            if loss is not None:
                                first = groups[src][0]
                                other = next(m for m in groups[dst] if m != first)
                                found.append(Lost(first, other, *loss))
    return found


def _ports(side: Side, klass: int) -> Ports:
    found: Ports = {}
    for index in side.c.classes[klass].endpoints:
        e = side.c.endpoints[index]
        network = side.c.networks[e.network]
        found.setdefault((e.interface, network.family), {})[network.prefix] = e
    return found


def _loss(
    sides: Sequence[Side], src: tuple[Ports, Ports], dst: tuple[Ports, Ports], p1: Port, p2: Port
) -> tuple[int, tuple[Endpoint, Endpoint], tuple[Endpoint, Endpoint]] | None:
    """How many flow classes from the port `p1` of `src` to `p2` of `dst` were delivered
    before and have no delivered successor, with one of them and a flow dropped after;
    None if the ports lose nothing the joint count does not see."""
    (src_before, src_after), (dst_before, dst_after) = src, dst
    a_before, b_before = src_before.get(p1, {}), dst_before.get(p2, {})
    a_after, b_after = src_after.get(p1, {}), dst_after.get(p2, {})
    if not (a_after and b_after):
        return None
    family = p1[1]
    after = [(x, e1, y, e2) for x, e1 in a_after.items() for y, e2 in b_after.items()]
    gone = [
        (e1, e2)
        for x, e1 in a_before.items()
        for y, e2 in b_before.items()
        if (x not in a_after or y not in b_after) and _delivered(sides[0], e1, e2, family)
    ]
    if not gone or any(_delivered(sides[1], e1, e2, family) for _, e1, _, e2 in after):
        return None
    new = [(e1, e2) for x, e1, y, e2 in after if x not in a_before or y not in b_before]
    return len(gone), gone[0], (new or [(e1, e2) for _, e1, _, e2 in after])[0]


def _delivered(side: Side, e1: Endpoint, e2: Endpoint, family: int) -> bool:
    found = verdict(side.out(e1, e2.network), side.inn(e2, e1.network), family, e1.network == e2.network)
    return found is not None and found.delivered
