"""Small indexes the evacuation scheduler keeps up to date, so that choosing a target
for a migration costs O(log hosts) instead of a scan of every hypervisor (which made
planning 2,000 hypervisors take a minute).

- `LazyMax`: items by a key, the largest first; an update pushes a new entry and the
  stale ones are skipped when they reach the top.
- `RightmostTree`: a max segment tree over positions 0..n-1, answering "the highest
  position whose value satisfies a monotone predicate" in O(log n).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable

NONE = float("-inf")


class LazyMax:
    """Items (hashable) keyed by comparable tuples; `top()` is the item with the largest
    key, optionally skipping one item."""

    __slots__ = ("_count", "_heap", "_key", "_version")

    def __init__(self) -> None:
        self._heap: list[tuple[tuple[float, ...], int, Hashable]] = []  # (negated key, version, item)
        self._version: dict[Hashable, int] = {}  # items present -> version of their live entry
        self._key: dict[Hashable, tuple[float, ...]] = {}
        self._count = 0

    def set(self, item: Hashable, key: tuple[float, ...] | None) -> None:
        """Key `item` by `key`, or remove it (None)."""
        if key is None:
            if self._version.pop(item, None) is not None:
                del self._key[item]
            return
        if self._key.get(item) == key:
            return
        self._key[item] = key
        self._count += 1
        self._version[item] = self._count
        heapq.heappush(self._heap, (tuple(-k for k in key), self._count, item))

    def _clean(self) -> None:
        heap, version = self._heap, self._version
        while heap and version.get(heap[0][2]) != heap[0][1]:
            heapq.heappop(heap)

    def top(self, exclude: Hashable | None = None) -> tuple[tuple[float, ...], Hashable] | None:
        """(key, item) of the largest item other than `exclude`, or None."""
        self._clean()
        heap = self._heap
        if not heap:
            return None
        if heap[0][2] != exclude:
            return tuple(-k for k in heap[0][0]), heap[0][2]
        held = heapq.heappop(heap)
        self._clean()
        found = (tuple(-k for k in heap[0][0]), heap[0][2]) if heap else None
        heapq.heappush(heap, held)
        return found


class RightmostTree:
    """Values at positions 0..n-1 (NONE when absent); `rightmost(pred)` is the highest
    position whose value satisfies `pred`, which must be monotone (if it holds for a
    value it holds for every larger one)."""

    __slots__ = ("_size", "_tree")

    def __init__(self, n: int):
        size = 1
        while size < max(n, 1):
            size *= 2
        self._size = size
        self._tree = [NONE] * (2 * size)

    def set(self, position: int, value: float) -> None:
        tree = self._tree
        i = position + self._size
        tree[i] = value
        i //= 2
        while i:
            best = tree[2 * i] if tree[2 * i] >= tree[2 * i + 1] else tree[2 * i + 1]
            if tree[i] == best:
                break
            tree[i] = best
            i //= 2

    def rightmost(self, pred: Callable[[float], bool]) -> int | None:
        tree = self._tree
        if tree[1] == NONE or not pred(tree[1]):
            return None
        i = 1
        while i < self._size:
            right = 2 * i + 1
            i = right if tree[right] != NONE and pred(tree[right]) else 2 * i
        return i - self._size
