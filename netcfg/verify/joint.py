"""Two fleets side by side (base and head of a change, a migration's start and one of
its stages): the flow classes present on both, and their verdict on each.

A joint class is the machines in one class on each side; a joint endpoint is such a
class at a network it holds an address in on both sides. Its halves are its sides'
halves, each computed class by class (`engine.Side`); counting is the engine's.
Machines on one side only, and addresses moved to another network, have no flow on
the other side to compare with: they are new flows or gone ones, not changed ones
(`renumbered` says when such a move leaves two machines' interfaces no flow delivered).

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
    net_index: list[dict[Prefix, int]] = [{n.prefix: n.index for n in s.c.networks} for s in sides]

    def compared_on(machine: str) -> list[tuple[int, ...]]:
        if choose is None:
            return [tuple(range(len(sides)))]
        if machine in both:
            return [(0, 0), (0, 1)]
        return [(0, choose(machine))]

    groups: dict[tuple[tuple[int, int], ...], list[str]] = {}
    for machine in machines:
        for on in compared_on(machine):
            key = tuple((i, sides[i].c.class_of[machine]) for i in on)
            groups.setdefault(key, []).append(machine)
    # The same machines twice (moved and not) are one group: no flow between a lone
    # machine's two selves.
    same: dict[tuple[str, ...], tuple[str, ...]] = {}

    found: list[Joint] = []
    for key, members in groups.items():
        klasses = [sides[i].c.classes[c] for i, c in key]
        held = [{sides[i].c.networks[n].prefix: n for n in k.own} for (i, _), k in zip(key, klasses, strict=True)]
        special: set[Prefix] = set()
        for (i, _), k in zip(key, klasses, strict=True):
            special.update(sides[i].c.networks[n].prefix for n in k.special if sides[i].c.networks[n].endpoints)
        special = {p for p in special if all(p in index for index in net_index)}
        for prefix in sorted(p for p in held[0] if all(p in h for h in held[1:])):
            endpoints = tuple(
                next(sides[i].c.endpoints[e] for e in k.endpoints if sides[i].c.endpoints[e].network == h[prefix])
                for (i, _), k, h in zip(key, klasses, held, strict=True)
            )
            ref = JointRef(tuple(members), tuple(i for i, _ in key), endpoints)
            group = same.setdefault(tuple(members), tuple(members))
            found.append(Joint(len(found), prefix, prefix.family, len(members) == 1, group, special=special, ref=ref))

    kinds: dict[Prefix, tuple[int, ...]] = {
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

    def kind_of(prefix: Prefix) -> tuple[int, ...]:
        return kinds[prefix]

    def exact(j: Joint, prefix: Prefix) -> Halves:
        pairs = list(zip(j.ref.sides, j.ref.endpoints, strict=True))
        return (
            tuple(sides[i].out(e, net_index[i][prefix]) for i, e in pairs),
            tuple(sides[i].inn(e, net_index[i][prefix]) for i, e in pairs),
        )

    return found, kind_of, exact


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
