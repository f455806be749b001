"""Two fleets side by side (base and head of a change, a migration's start and one of
its stages): the flow classes present on both, and their verdict on each.

A joint class is the machines in one class on each side; a joint endpoint is such a
class at a network it holds an address in on both sides. Its halves are its sides'
halves, each computed class by class (`engine.Side`); counting is the engine's.
Machines on one side only have no flow on the other side to compare with: they are
new flows or gone ones, not changed ones. An address moved to another network (on the
same interface, in the same family: a network the machine has fewer addresses in,
and one it has more in) is one endpoint whose network is the one it left on the first
side and the one it joined on the second (`Renumbered`): its flows from the new
address are compared with those from the old. Machines are grouped by their moves as
well as their classes.

For a stage of a migration the sides are the start and the target, and each machine
is compared on the start and on the side it is on at that stage (`choose`). To find
which machines must move before which, every machine still to move can be on both at
once (`both`): a flow class between a moved and a not yet moved part that a stage
would drop is then a constraint on the order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from netcfg.verify.classes import Endpoint
from netcfg.verify.engine import Halves, Joint, Key, Side, Tally, count
from netcfg.verify.prefix import Prefix


@dataclass(frozen=True, slots=True, order=True)
class Renumbered:
    """A network an interface left, paired with one it joined: a joint network that is
    `before` on the first side and `after` on the second."""

    before: Prefix
    after: Prefix

    @property
    def family(self) -> int:
        return self.before.family

    def on(self, side: int) -> Prefix:
        return self.before if side == 0 else self.after


def prefix_on(network: Prefix | Renumbered, side: int) -> Prefix:
    """The network a joint network is on `side`."""
    return network.on(side) if isinstance(network, Renumbered) else network


@dataclass(frozen=True, slots=True)
class JointRef:
    """What a joint endpoint stands for, to draw examples from."""

    members: tuple[str, ...]  # machines, in name order
    sides: tuple[int, ...]  # the sides it is compared on
    endpoints: tuple[Endpoint, ...]  # its endpoint on each of them


def joints(
    sides: Sequence[Side],
    choose: Callable[[str], int] | None = None,
    both: frozenset[str] = frozenset(),
) -> tuple[list[Joint], Callable[[Any], Any], Callable[[Joint, Any], Halves]]:
    """The joint endpoints of `sides`, their kinds and their exact halves. With
    `choose`, the machines in `both` are on the start and on side 1 at once."""
    machines = [m for m in sides[0].c.class_of if all(m in s.c.class_of for s in sides)]
    # A network is the same on every side if its prefix is.
    net_index: list[dict[Prefix | Renumbered, int]] = [{n.prefix: n.index for n in s.c.networks} for s in sides]
    renumbering = choose is None and len(sides) == 2

    def compared_on(machine: str) -> list[tuple[int, ...]]:
        if choose is None:
            return [tuple(range(len(sides)))]
        if machine in both:
            return [(0, 0), (0, 1)]
        return [(0, choose(machine))]

    moves = _moves(sides, machines) if renumbering else {}
    groups: dict[tuple[tuple[tuple[int, int], ...], tuple[Renumbered, ...]], list[str]] = {}
    for machine in machines:
        for on in compared_on(machine):
            key = tuple((i, sides[i].c.class_of[machine]) for i in on)
            groups.setdefault((key, moves.get(machine, ())), []).append(machine)
    # The same machines twice (moved and not) are one group: no flow between a lone
    # machine's two selves.
    same: dict[tuple[str, ...], tuple[str, ...]] = {}

    found: list[Joint] = []
    # Per group: its special set, and the networks each side's class routes specially.
    specials: list[tuple[set[Prefix | Renumbered], list[set[Prefix]]]] = []
    renumbered: set[Renumbered] = set()
    for (key, moved), members in groups.items():
        klasses = [sides[i].c.classes[c] for i, c in key]
        held = [{sides[i].c.networks[n].prefix: n for n in k.own} for (i, _), k in zip(key, klasses, strict=True)]
        routed = [
            {sides[i].c.networks[n].prefix for n in k.special if sides[i].c.networks[n].endpoints}
            for (i, _), k in zip(key, klasses, strict=True)
        ]
        special: set[Prefix | Renumbered] = {p for p in set().union(*routed) if all(p in index for index in net_index)}
        specials.append((special, routed))
        at: list[tuple[Prefix | Renumbered, tuple[Endpoint, ...]]] = [
            (
                prefix,
                tuple(
                    next(sides[i].c.endpoints[e] for e in k.endpoints if sides[i].c.endpoints[e].network == h[prefix])
                    for (i, _), k, h in zip(key, klasses, held, strict=True)
                ),
            )
            for prefix in sorted(p for p in held[0] if all(p in h for h in held[1:]))
        ]
        for move in moved:
            nets = (net_index[0][move.before], net_index[1][move.after])
            endpoints = tuple(
                next(side.c.endpoints[e] for e in k.endpoints if side.c.endpoints[e].network == net)
                for side, k, net in zip(sides, klasses, nets, strict=True)
            )
            net_index[0][move], net_index[1][move] = nets
            renumbered.add(move)
            at.append((move, endpoints))
        group = same.setdefault(tuple(members), tuple(members))
        for network, endpoints in at:
            ref = JointRef(tuple(members), tuple(i for i, _ in key), endpoints)
            found.append(Joint(len(found), network, network.family, len(members) == 1, group, special=special, ref=ref))
    # A moved address's flows are routed specially by whoever routes the network it
    # left (on the first side) or the one it joined (on the second) specially.
    if renumbered:
        left: dict[Prefix, list[Renumbered]] = {}
        joined: dict[Prefix, list[Renumbered]] = {}
        for move in renumbered:
            left.setdefault(move.before, []).append(move)
            joined.setdefault(move.after, []).append(move)
        for special, (before, after) in specials:
            for network in before:
                special.update(left.get(network, ()))
            for network in after:
                special.update(joined.get(network, ()))

    kinds: dict[Prefix | Renumbered, tuple[int, ...]] = {
        p: tuple(s.c.networks[net_index[i][p]].kind for i, s in enumerate(sides)) for p in {j.network for j in found}
    }
    by_family: dict[int, set[tuple[int, ...]]] = {}
    for p, network_kinds in kinds.items():
        by_family.setdefault(p.family, set()).add(network_kinds)
    for j in found:
        where: list[tuple[int, Endpoint]] = list(zip(j.ref.sides, j.ref.endpoints, strict=True))
        for per_side in by_family.get(j.family, ()):
            j.kind_out[per_side] = tuple(sides[s].out_by_kind(e, per_side[s]) for s, e in where)
            j.kind_in[per_side] = tuple(sides[s].in_by_kind(e, per_side[s]) for s, e in where)

    def kind_of(prefix: Prefix | Renumbered) -> tuple[int, ...]:
        return kinds[prefix]

    def exact(j: Joint, prefix: Prefix | Renumbered) -> Halves:
        pairs = list(zip(j.ref.sides, j.ref.endpoints, strict=True))
        return (
            tuple(sides[i].out(e, net_index[i][prefix]) for i, e in pairs),
            tuple(sides[i].inn(e, net_index[i][prefix]) for i, e in pairs),
        )

    return found, kind_of, exact


def _moves(sides: Sequence[Side], machines: Sequence[str]) -> dict[str, tuple[Renumbered, ...]]:
    """Per machine, its addresses moved to another network: per interface and family,
    every network it has fewer addresses in against every network it has more in (an
    address compared with each one it may replace). Machines with none are left out."""
    counts = [_address_counts(side) for side in sides]
    found: dict[str, tuple[Renumbered, ...]] = {}
    for machine in machines:
        before, after = counts[0].get(machine, {}), counts[1].get(machine, {})
        if before == after:
            continue
        moved = []
        for port in before.keys() & after.keys():
            was, now = before[port], after[port]
            left = [p for p, n in was.items() if n > now.get(p, 0)]
            joined = [p for p, n in now.items() if n > was.get(p, 0)]
            moved += [Renumbered(a, b) for a in left for b in joined]
        if moved:
            found[machine] = tuple(sorted(moved))
    return found


def _address_counts(side: Side) -> dict[str, dict[tuple[str, int], dict[Prefix, int]]]:
    """Machine -> (interface, family) -> network -> how many of its addresses are in it."""
    c = side.c
    found: dict[str, dict[tuple[str, int], dict[Prefix, int]]] = {}
    for klass in c.classes:
        for net, held in klass.addresses.items():
            prefix = c.networks[net].prefix
            port = (klass.own[net][0], prefix.family)
            for member, _ in held:
                networks = found.setdefault(member, {}).setdefault(port, {})
                networks[prefix] = networks.get(prefix, 0) + 1
    return found


@dataclass(frozen=True, slots=True)
class Counted:
    """A count, and what its examples are drawn from."""

    tally: Tally
    joints: list[Joint]
    kind_of: Callable[[Any], Any]
    exact: Callable[[Joint, Any], Halves]


def tally(
    sides: Sequence[Side],
    keep: Callable[[Key], bool],
    choose: Callable[[str], int] | None = None,
    both: frozenset[str] = frozenset(),
    witnesses: int = 4,
) -> Counted:
    """Every flow class present on all sides (with `choose`: on the start and on the
    side each machine is on), counted by its verdict on each. `witnesses`: how many
    sources of each kept key to remember."""
    found, kind_of, exact = joints(sides, choose, both)
    counted = count(found, kind_of, exact, len(sides) if choose is None else 2, keep, witnesses)
    return Counted(counted, found, kind_of, exact)
