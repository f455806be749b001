"""A machine's rules or routes as a chain of shared parts.

Under policy routing every machine of a segment carries the segment's `to` rules and
on-link routes: thousands of entries, identical on thousands of machines. A renderer
builds those tuples once and chains them into each machine's sequence, so a fleet costs
one copy of each part plus a few references per machine. The diff reads the parts to
compare a shared part once for the whole fleet (see impact/diff.py).

To every other reader an Entries is simply an immutable sequence, equal to the tuple
of the same items.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")

# A run of at least this many entries is taken for a shared part: the formats keep its
# whole text by identity (shorter runs are a machine's own, cached entry by entry).
WHOLE_PART = 16


class Entries(Sequence[T], Generic[T]):
    __slots__ = ("_length", "parts")

    def __init__(self, parts: Sequence[tuple[T, ...]]) -> None:
        self.parts: tuple[tuple[T, ...], ...] = tuple(p for p in parts if p)
        self._length = sum(map(len, self.parts))

    def __iter__(self) -> Iterator[T]:
        return chain.from_iterable(self.parts)

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...
    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        if isinstance(index, slice) or index < 0:
            return tuple(self)[index]
        for part in self.parts:
            if index < len(part):
                return part[index]
            index -= len(part)
        raise IndexError("Entries index out of range")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Entries):
            return self.parts == other.parts or tuple(self) == tuple(other)
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __add__(self, other: tuple[T, ...]) -> tuple[T, ...]:
        return (*self, *other)

    def __radd__(self, other: tuple[T, ...]) -> tuple[T, ...]:
        return (*other, *self)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Entries, (self.parts,))


def parts_of(entries: Sequence[T]) -> tuple[tuple[T, ...], ...]:
    """The shared parts of a sequence; a plain tuple is one part of its own."""
    if isinstance(entries, Entries):
        return entries.parts
    return (tuple(entries),) if entries else ()


V = TypeVar("V")


class PerPart(Generic[T, V]):
    """`compute(part)` once per part object: a shared part recurs on thousands of
    machines, and what a format needs to know of it (its family, the link it belongs
    to, its text) is the same on each. Keyed by identity, the part kept alive beside its
    answer so no other object can take its id over while it is cached: one instance per
    run. Parts shorter than `keep_from` are computed each time (a machine's own runs)."""

    __slots__ = ("_by_id", "_compute", "_keep_from")

    def __init__(self, compute: Callable[[tuple[T, ...]], V], keep_from: int = 0) -> None:
        self._compute = compute
        self._keep_from = keep_from
        self._by_id: dict[int, tuple[tuple[T, ...], V]] = {}

    def __call__(self, part: tuple[T, ...]) -> V:
        if len(part) < self._keep_from:
            return self._compute(part)
        found = self._by_id.get(id(part))
        if found is None or found[0] is not part:
            found = self._by_id[id(part)] = (part, self._compute(part))
        return found[1]
