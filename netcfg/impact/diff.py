"""The semantic difference of two renders: per machine, the items it gains and loses.

A HostConfig is flattened into items (interfaces, addresses, rules, routes, forwarding),
each a canonical line such as `rule to 198.51.100.64/27 lookup 2 priority 20`; the
diff is a set difference of items, so file layout, comments and ordering in the
inventory never show up as changes. Whether an item needs an interface restart is
decided here too, by its kind (see docs/design.md "Classification and the seatbelt").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from itertools import chain
from typing import cast

from netcfg.impact.model import HostDiff, HostState
from netcfg.model.host import HostConfig, Rule

# Display order of item kinds, and which of them need an interface restart.
_ORDER = {"interface": 0, "address": 1, "forwarding": 2, "rule": 3, "route": 4}
_DISRUPTIVE_KINDS = frozenset({"interface", "address"})


def _structure(config: HostConfig) -> set[tuple[str, object]]:
    """Interfaces, addresses and forwarding as (kind, hashable value): a handful each."""
    items: set[tuple[str, object]] = set()
    for iface in config.interfaces:
        items.add(("interface", (iface.name, iface.segment, iface.bridge)))
        items.update(("address", a) for a in iface.addresses)
    if config.forwarding:
        items.add(("forwarding", True))
    return items


class _Interner:
    """Numbers rules and routes by value, so comparing two machines' thousands of
    entries is a set operation on small ints.

    A renderer shares one Rule/Route object among every machine of a segment, so the
    distinct objects are few: each is hashed once (by value) here, and every occurrence
    is then mapped through its object id with C-level map/set calls. This keeps the
    diff of a fleet-wide change cheaper than rendering the fleet."""

    __slots__ = ("numbers", "values")

    def __init__(self) -> None:
        self.numbers: dict[object, int] = {}
        self.values: list[object] = []

    def side(self, configs: Iterable[HostConfig]) -> dict[int, int]:
        """id(object) -> number, for every rule and route of `configs` (kept alive by
        the caller, so ids stay valid)."""
        by_id: dict[int, object] = {}
        seen: set[int] = set()
        for config in configs:
            # Designs share one rules tuple and one routes tuple among the machines
            # with the same networks: visit each distinct tuple once.
            for entries in (config.rules, config.routes):
                if id(entries) not in seen:
                    seen.add(id(entries))
                    by_id.update(zip(map(id, entries), entries, strict=True))
        numbers, values = self.numbers, self.values
        out = {}
        for oid, value in by_id.items():
            number = numbers.get(value)
            if number is None:
                number = numbers[value] = len(values)
                values.append(value)
            out[oid] = number
        return out


def _entries(
    config: HostConfig | None, numbers: dict[int, int], memo: dict[tuple[int, int], frozenset[int]]
) -> frozenset[int]:
    """The numbers of a config's rules and routes, once per distinct (rules, routes)."""
    if config is None:
        return frozenset()
    key = (id(config.rules), id(config.routes))
    found = memo.get(key)
    if found is None:
        found = memo[key] = frozenset(map(numbers.__getitem__, map(id, chain(config.rules, config.routes))))
    return found


@lru_cache(maxsize=1 << 16)
def _line(kind: str, value: object) -> str:
    """The canonical text of one item; only changed items are ever formatted, and an
    item many machines share (a segment's rule) once."""
    if kind == "interface":
        name, segment, bridge = cast(tuple[str, str, bool], value)
        return f"interface {name} segment {segment}" + (" bridge" if bridge else "")
    if kind == "address":
        return f"address {value.address} dev {value.interface}"  # type: ignore[attr-defined]
    if kind == "forwarding":
        return "forwarding on"
    return f"{kind} {value}"


def _lines(items: Iterable[tuple[str, object]]) -> tuple[str, ...]:
    keyed = sorted((_ORDER[kind], _line(kind, value)) for kind, value in items)
    return tuple(line for _, line in keyed)


def _segments(*configs: HostConfig | None) -> tuple[str, ...]:
    return tuple(sorted({i.segment for c in configs if c is not None for i in c.interfaces}))


def _kind_of(value: object) -> str:
    return "rule" if isinstance(value, Rule) else "route"


def _diff(
    name: str,
    base: HostConfig | None,
    head: HostConfig | None,
    interner: _Interner,
    base_numbers: dict[int, int],
    head_numbers: dict[int, int],
    base_memo: dict[tuple[int, int], frozenset[int]],
    head_memo: dict[tuple[int, int], frozenset[int]],
) -> HostDiff | None:
    old_structure = _structure(base) if base is not None else set()
    new_structure = _structure(head) if head is not None else set()
    old_entries = _entries(base, base_numbers, base_memo)
    new_entries = _entries(head, head_numbers, head_memo)
    values = interner.values
    added = [*(new_structure - old_structure), *((_kind_of(values[n]), values[n]) for n in new_entries - old_entries)]
    removed = [*(old_structure - new_structure), *((_kind_of(values[n]), values[n]) for n in old_entries - new_entries)]
    if not added and not removed:
        return None  # only the order of entries differs: nothing to apply
    state = HostState.ADDED if base is None else HostState.REMOVED if head is None else HostState.CHANGED
    structural = state is not HostState.CHANGED or any(k in _DISRUPTIVE_KINDS for k, _ in (*added, *removed))
    return HostDiff(
        name=name,
        kind=(head or base).kind,  # type: ignore[union-attr]
        state=state,
        segments=_segments(base, head),
        added=_lines(added),
        removed=_lines(removed),
        structural=structural,
    )


def diff_configs(base: Mapping[str, HostConfig], head: Mapping[str, HostConfig]) -> dict[str, HostDiff]:
    """Diffs of every machine present in either mapping, changed ones only, by name."""
    interner = _Interner()
    base_numbers = interner.side(base.values())
    head_numbers = interner.side(head.values())
    base_memo: dict[tuple[int, int], frozenset[int]] = {}
    head_memo: dict[tuple[int, int], frozenset[int]] = {}
    out: dict[str, HostDiff] = {}
    for name in sorted(set(base) | set(head)):
        b, h = base.get(name), head.get(name)
        if b is not None and b is h:
            continue
        d = _diff(name, b, h, interner, base_numbers, head_numbers, base_memo, head_memo)
        if d is not None:
            out[name] = d
    return out
