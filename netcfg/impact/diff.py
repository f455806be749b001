"""The semantic difference of two renders: per machine, the items it gains and loses.

A HostConfig is flattened into items (interfaces, addresses, rules, routes, forwarding),
each a canonical line such as `rule to 198.51.100.64/27 lookup 2 priority 20`; the
diff is a set difference of items, so file layout, comments and ordering in the
inventory never show up as changes, except the order of one machine's addresses, which
the kernel reads (see _reordered). Whether an item needs an interface restart is
decided here too, by its kind (see docs/design.md "Classification and the seatbelt").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from itertools import chain
from typing import cast

from netcfg.impact.model import HostDiff, HostState
from netcfg.model.entries import parts_of
from netcfg.model.host import HostConfig, Rule

# Display order of item kinds, and which of them need an interface restart.
_ORDER = {"interface": 0, "address": 1, "address order": 1, "forwarding": 2, "rule": 3, "route": 4}
_DISRUPTIVE_KINDS = frozenset({"interface", "address", "address order"})


def _structure(config: HostConfig) -> set[tuple[str, object]]:
    """Interfaces, addresses and forwarding as (kind, hashable value): a handful each."""
    items: set[tuple[str, object]] = set()
    for iface in config.interfaces:
        items.add(("interface", (iface.name, iface.segment, iface.bridge)))
        items.update(("address", a) for a in iface.addresses)
    if config.forwarding:
        items.add(("forwarding", True))
    return items


class _Parts:
    """Numbers rules and routes parts (model/entries.py) by value, across both sides.

    A renderer shares the segment-wide parts among every machine of the segment, so the
    distinct part objects are few: each is hashed by value once, and a machine becomes
    the short multiset of its part numbers. Two machines' entries then differ only where
    their part numbers do, and the entries of the differing parts are compared once per
    distinct combination for the whole fleet, never once per machine."""

    __slots__ = ("_alive", "_by_id", "_numbers", "_sets", "_signatures", "values")

    def __init__(self) -> None:
        self._numbers: dict[tuple[object, ...], int] = {}
        self._by_id: dict[int, int] = {}
        self._alive: list[object] = []  # keeps the numbered objects' ids from being reused
        self._sets: dict[int, frozenset[object]] = {}
        self._signatures: dict[tuple[int, int], tuple[int, ...]] = {}
        self.values: list[tuple[object, ...]] = []

    def _number(self, part: tuple[object, ...]) -> int:
        number = self._by_id.get(id(part))
        if number is None:
            number = self._numbers.get(part)
            if number is None:
                number = self._numbers[part] = len(self.values)
                self.values.append(part)
            self._by_id[id(part)] = number
            self._alive.append(part)
        return number

    def signature(self, config: HostConfig | None) -> tuple[int, ...]:
        """The sorted part numbers of a config's rules and routes."""
        if config is None:
            return ()
        key = (id(config.rules), id(config.routes))
        found = self._signatures.get(key)
        if found is None:
            self._alive.append((config.rules, config.routes))
            parts = chain(parts_of(config.rules), parts_of(config.routes))
            found = self._signatures[key] = tuple(sorted(map(self._number, parts)))
        return found

    def items(self, numbers: Iterable[int]) -> set[object]:
        return set(chain.from_iterable(map(self.values.__getitem__, numbers)))

    def contains(self, number: int, value: object) -> bool:
        found = self._sets.get(number)
        if found is None:
            found = self._sets[number] = frozenset(self.values[number])
        return value in found


Lines = tuple[tuple[int, str], ...]


class _EntryDiffs:
    """The rules and routes a machine gains and loses, from the part numbers of its two
    sides; each distinct pair of signatures is worked out once."""

    __slots__ = ("_by_pair", "_by_rest", "parts")

    def __init__(self) -> None:
        self.parts = _Parts()
        self._by_pair: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[Lines, Lines]] = {}
        self._by_rest: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[set[object], set[object]]] = {}

    def __call__(self, base: HostConfig | None, head: HostConfig | None) -> tuple[Lines, Lines]:
        old, new = self.parts.signature(base), self.parts.signature(head)
        if old == new:
            return (), ()
        found = self._by_pair.get((old, new))
        if found is None:
            found = self._by_pair[(old, new)] = self._work_out(old, new)
        return found

    def _work_out(self, old: tuple[int, ...], new: tuple[int, ...]) -> tuple[Lines, Lines]:
        old_rest, common, new_rest = _split(old, new)
        # The differing parts are compared once per distinct pair (a segment's `to`
        # rules before and after a network is added: once for the whole segment) ...
        rest = self._by_rest.get((old_rest, new_rest))
        if rest is None:
            old_items, new_items = self.parts.items(old_rest), self.parts.items(new_rest)
            rest = self._by_rest[(old_rest, new_rest)] = (new_items - old_items, old_items - new_items)
        # ... and what they alone gain or lose may still sit in a part both sides share.
        shared = self.parts.contains
        added = [v for v in rest[0] if not any(shared(n, v) for n in common)]
        removed = [v for v in rest[1] if not any(shared(n, v) for n in common)]
        return _entry_lines(added), _entry_lines(removed)


def _split(old: tuple[int, ...], new: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The part numbers only in `old`, in both, only in `new` (as multisets), sorted."""
    old_set, new_set = set(old), set(new)
    if len(old_set) == len(old) and len(new_set) == len(new):  # no part twice: sets do
        return tuple(sorted(old_set - new_set)), tuple(sorted(old_set & new_set)), tuple(sorted(new_set - old_set))
    old_count, new_count = Counter(old), Counter(new)
    return (
        tuple(sorted((old_count - new_count).elements())),
        tuple(sorted((old_count & new_count).elements())),
        tuple(sorted((new_count - old_count).elements())),
    )


def _entry_lines(values: Iterable[object]) -> Lines:
    return tuple((_ORDER[kind], _line(kind, value)) for value in values for kind in (_kind_of(value),))


@lru_cache(maxsize=1 << 16)
def _line(kind: str, value: object) -> str:
    """The canonical text of one item; only changed items are ever formatted, and an
    item many machines share (a segment's rule) once."""
    if kind == "interface":
        name, segment, bridge = cast(tuple[str, str, bool], value)
        return f"interface {name} segment {segment}" + (" bridge" if bridge else "")
    if kind == "address":
        return f"address {value.address} dev {value.interface}"  # type: ignore[attr-defined]
    if kind == "address order":
        name, order = cast(tuple[str, tuple[str, ...]], value)
        return f"address order dev {name}: {', '.join(order)}"
    if kind == "forwarding":
        return "forwarding on"
    return f"{kind} {value}"


def _lines(items: Iterable[tuple[str, object]], entries: Lines) -> tuple[str, ...]:
    keyed = sorted(chain(((_ORDER[kind], _line(kind, value)) for kind, value in items), entries))
    return tuple(line for _, line in keyed)


def _segments(*configs: HostConfig | None) -> tuple[str, ...]:
    return tuple(sorted({i.segment for c in configs if c is not None for i in c.interfaces}))


def _kind_of(value: object) -> str:
    return "rule" if isinstance(value, Rule) else "route"


def _orders(config: HostConfig) -> dict[tuple[str, int], tuple[str, ...]]:
    """The order of each interface's addresses of one family, where it has several."""
    out = {}
    for iface in config.interfaces:
        addresses = iface.addresses
        if len(addresses) < 2 or (len(addresses) == 2 and addresses[0].family != addresses[1].family):
            continue  # most machines: one address of each family
        for family in (4, 6):
            order = tuple(a.address for a in addresses if a.family == family)
            if len(order) > 1:
                out[(iface.name, family)] = order
    return out


def _reordered(base: HostConfig, head: HostConfig) -> tuple[set[tuple[str, object]], set[tuple[str, object]]]:
    """Addresses both sides hold, in another order: a machine configured afresh adds
    them in order, and the order picks its sources (IPv4: a network's first address is
    its primary; IPv6: the last of a tie wins). As (added, removed) items."""
    added: set[tuple[str, object]] = set()
    removed: set[tuple[str, object]] = set()
    old = _orders(base)
    new = _orders(head) if old else {}
    for key, before in old.items():
        after = new.get(key, before)
        if after != before:
            common = set(before) & set(after)
            was, now = tuple(a for a in before if a in common), tuple(a for a in after if a in common)
            if was != now:
                removed.add(("address order", (key[0], was)))
                added.add(("address order", (key[0], now)))
    return added, removed


def _diff(name: str, base: HostConfig | None, head: HostConfig | None, entries: _EntryDiffs) -> HostDiff | None:
    old_structure = _structure(base) if base is not None else set()
    new_structure = _structure(head) if head is not None else set()
    added_entries, removed_entries = entries(base, head)
    added = new_structure - old_structure
    removed = old_structure - new_structure
    if base is not None and head is not None:
        reordered = _reordered(base, head)
        added |= reordered[0]
        removed |= reordered[1]
    if not added and not removed and not added_entries and not removed_entries:
        return None  # only the order of entries differs: nothing to apply
    state = HostState.ADDED if base is None else HostState.REMOVED if head is None else HostState.CHANGED
    structural = state is not HostState.CHANGED or any(k in _DISRUPTIVE_KINDS for k, _ in (*added, *removed))
    return HostDiff(
        name=name,
        kind=(head or base).kind,  # type: ignore[union-attr]
        state=state,
        segments=_segments(base, head),
        added=_lines(added, added_entries),
        removed=_lines(removed, removed_entries),
        structural=structural,
    )


class Differ:
    """Diffs of renders given slice by slice (Renderer): a part many machines share is
    compared once for every slice, as if they had been given at once."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries = _EntryDiffs()

    def __call__(self, base: Mapping[str, HostConfig], head: Mapping[str, HostConfig]) -> dict[str, HostDiff]:
        """Diffs of every machine present in either mapping, changed ones only, by name."""
        out: dict[str, HostDiff] = {}
        for name in sorted(set(base) | set(head)):
            b, h = base.get(name), head.get(name)
            if b is not None and b is h:
                continue
            d = _diff(name, b, h, self._entries)
            if d is not None:
                out[name] = d
        return out


def diff_configs(base: Mapping[str, HostConfig], head: Mapping[str, HostConfig]) -> dict[str, HostDiff]:
    """Diffs of every machine present in either mapping, changed ones only, by name."""
    return Differ()(base, head)
