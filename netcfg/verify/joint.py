"""Two fleets side by side (base and head of a change, a migration's start and one of
its stages): the flow classes present on both, and their verdict on each.

A joint class is the machines in one class on each side; a joint endpoint is such a
class at a network it holds an address in on both sides. Its halves are its two
sides' halves, each computed class by class (`engine.Side`); counting is the engine's.
Machines on one side only, and addresses moved to another network, have no flow on
the other side to compare with: they are new flows or gone ones, not changed ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netcfg.verify.classes import Endpoint
from netcfg.verify.engine import Joint, Side, Tally, count
from netcfg.verify.prefix import Prefix


@dataclass(frozen=True, slots=True)
class JointRef:
    """What a joint endpoint stands for, to draw examples from."""

    members: tuple[str, ...]  # machines, in name order
    endpoints: tuple[Endpoint, ...]  # its endpoint on each side
    networks: tuple[int, ...]  # the network on each side


def joints(
    sides: Sequence[Side], choose: Callable[[str], int] | None = None
) -> tuple[list[Joint], Callable[[object], object], Callable[[Joint, object], tuple]]:
    """The joint endpoints of `sides`. `choose(machine)`: for a stage of a migration,
    which of the later sides a machine is on (the first side is always the start);
    None: every side in turn."""
    first = sides[0].c
    machines = [m for m in first.class_of if all(m in s.c.class_of for s in sides)]
    # A network is the same on every side if its prefix is: (family, prefix) -> index per side.
    net_index: list[dict[Prefix, int]] = [{n.prefix: n.index for n in s.c.networks} for s in sides]

    def per_side(machine: str) -> tuple[int, ...]:
        """The class of `machine` on each side that counts for it."""
        classes = [s.c.class_of[machine] for s in sides]
        if choose is not None:
            pick = choose(machine)
            return (classes[0], classes[pick])
        return tuple(classes)

    groups: dict[tuple[object, ...], list[str]] = {}
    for machine in machines:
        key = per_side(machine) if choose is None else (per_side(machine), choose(machine))
        groups.setdefault(key, []).append(machine)

    out: list[Joint] = []
    for key, members in groups.items():
        if choose is None:
            classes = key
            used = list(sides)
        else:
            classes, pick = key  # type: ignore[misc]
            used = [sides[0], sides[pick]]  # type: ignore[index]
        klasses = [s.c.classes[c] for s, c in zip(used, classes, strict=True)]  # type: ignore[arg-type]
        # Networks the class holds an address in on every side.
        by_prefix = [{s.c.networks[n].prefix: n for n in k.own} for s, k in zip(used, klasses, strict=True)]
        common = [p for p in by_prefix[0] if all(p in b for b in by_prefix[1:])]
        for prefix in sorted(common):
            nets = tuple(b[prefix] for b in by_prefix)
            endpoints = tuple(
                next(s.c.endpoints[e] for e in k.endpoints if s.c.endpoints[e].network == n)
                for s, k, n in zip(used, klasses, nets, strict=True)
            )
            j = Joint(
                len(out),
                prefix,
                prefix.family,
                len(members) == 1,
                key,
                ref=JointRef(tuple(members), endpoints, nets),
            )
            specials = set()
            for s, k in zip(used, klasses, strict=True):
                specials.update(s.c.networks[n].prefix for n in k.special if s.c.networks[n].endpoints)
            j.special = {p for p in specials if all(p in idx for idx in net_index)}
            out.append(j)

    # The kinds of every joint network, and the halves by kind of every joint endpoint.
    def kinds_of(prefix: object, used: Sequence[Side]) -> tuple[int, ...]:
        return tuple(s.c.networks[net_index[sides.index(s)][prefix]].kind for s in used)  # type: ignore[index]

    networks = {j.network for j in out}
    all_kinds = {p: kinds_of(p, sides) for p in networks}

    def kind_of(prefix: object) -> object:
        return all_kinds[prefix]

    by_family: dict[int, set[tuple[int, ...]]] = {}
    for p, k in all_kinds.items():
        by_family.setdefault(p.family, set()).add(k)  # type: ignore[attr-defined]
    for j in out:
        ref: JointRef = j.ref  # type: ignore[assignment]
        used = _used(sides, choose, j)
        for kinds in by_family.get(j.family, ()):
            picked = _pick(kinds, sides, used)
            j.kind_out[kinds] = tuple(s.out_by_kind(e, k) for s, e, k in zip(used, ref.endpoints, picked, strict=True))
            j.kind_in[kinds] = tuple(s.in_by_kind(e, k) for s, e, k in zip(used, ref.endpoints, picked, strict=True))

    def exact(j: Joint, prefix: object) -> tuple:
        ref: JointRef = j.ref  # type: ignore[assignment]
        used = _used(sides, choose, j)
        nets = [net_index[sides.index(s)][prefix] for s in used]  # type: ignore[index]
        return (
            tuple(s.out(e, n) for s, e, n in zip(used, ref.endpoints, nets, strict=True)),
            tuple(s.inn(e, n) for s, e, n in zip(used, ref.endpoints, nets, strict=True)),
        )

    return out, kind_of, exact


def _used(sides: Sequence[Side], choose: Callable[[str], int] | None, j: Joint) -> list[Side]:
    if choose is None:
        return list(sides)
    _, pick = j.group  # type: ignore[misc]
    return [sides[0], sides[pick]]


def _pick(kinds: tuple[int, ...], sides: Sequence[Side], used: Sequence[Side]) -> tuple[int, ...]:
    """The kinds on the sides `used`, from the kinds on every side."""
    return tuple(kinds[sides.index(s)] for s in used)


def tally(
    sides: Sequence[Side], keep: Callable[[object], bool], choose: Callable[[str], int] | None = None
) -> tuple[Tally, list[Joint]]:
    """Every flow class present on all sides (with `choose`: on the start and on the
    side each machine is on), counted by its verdict on each."""
    found, kind_of, exact = joints(sides, choose)
    return count(found, kind_of, exact, len(sides) if choose is None else 2, keep), found  # type: ignore[arg-type]
