"""The semantic difference of two renders: per machine, the items it gains and loses.

A HostConfig is flattened into items (interfaces, addresses, rules, routes, forwarding),
each a canonical line such as `rule to 198.51.100.64/27 lookup 2 priority 20`; the
diff is a set difference of items, so file layout, comments and ordering in the
inventory never show up as changes. Whether an item needs an interface restart is
decided here too, by its kind (see DESIGN.md "Change classification").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from netcfg.config import HostConfig
from netcfg.inventory.model import Reconfigure

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
HOT, DISRUPTIVE = "hot", "disruptive"

# Display order of item kinds, and which of them need an interface restart.
_ORDER = {"interface": 0, "address": 1, "forwarding": 2, "rule": 3, "route": 4}
_DISRUPTIVE_KINDS = frozenset({"interface", "address"})


@dataclass(frozen=True, slots=True)
class HostDiff:
    """What one machine's rendered configuration gains and loses."""

    name: str
    kind: str
    state: str  # added | removed | changed
    segments: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    structural: bool  # an address, interface or bridge changes: needs a restart

    def change(self, reconfigure: Reconfigure) -> str:
        """hot or disruptive under the given reconfigure policy."""
        if reconfigure is Reconfigure.RESTART or self.structural:
            return DISRUPTIVE
        return HOT


def _items(config: HostConfig) -> set[tuple[str, object]]:
    """The config as a set of (kind, hashable model object)."""
    items: set[tuple[str, object]] = set()
    for iface in config.interfaces:
        items.add(("interface", (iface.name, iface.segment, iface.bridge)))
        items.update(("address", a) for a in iface.addresses)
    if config.forwarding:
        items.add(("forwarding", True))
    items.update(("rule", r) for r in config.rules)
    items.update(("route", r) for r in config.routes)
    return items


def _line(kind: str, value: object) -> str:
    """The canonical text of one item; only changed items are ever formatted."""
    if kind == "interface":
        name, segment, bridge = value  # type: ignore[misc]
        return f"interface {name} segment {segment}" + (" bridge" if bridge else "")
    if kind == "address":
        return f"address {value.address} dev {value.interface}"  # type: ignore[attr-defined]
    if kind == "forwarding":
        return "forwarding on"
    return f"{kind} {value}"


def _lines(items: set[tuple[str, object]]) -> tuple[str, ...]:
    keyed = sorted((_ORDER[kind], _line(kind, value)) for kind, value in items)
    return tuple(line for _, line in keyed)


def _segments(*configs: HostConfig | None) -> tuple[str, ...]:
    return tuple(sorted({i.segment for c in configs if c is not None for i in c.interfaces}))


def diff_host(name: str, base: HostConfig | None, head: HostConfig | None) -> HostDiff | None:
    """The diff of one machine, or None when its configuration is unchanged."""
    if base == head:
        return None
    # Set differences on the hashable model first; text is built for changes only, which
    # keeps a fleet-wide change over 10,000 machines cheap.
    old = _items(base) if base is not None else set()
    new = _items(head) if head is not None else set()
    added = new - old
    removed = old - new
    if not added and not removed:
        return None  # only the order of items differs: nothing to apply
    state = ADDED if base is None else REMOVED if head is None else CHANGED
    structural = state != CHANGED or any(k in _DISRUPTIVE_KINDS for k, _ in added | removed)
    return HostDiff(
        name=name,
        kind=(head or base).kind,  # type: ignore[union-attr]
        state=state,
        segments=_segments(base, head),
        added=_lines(added),
        removed=_lines(removed),
        structural=structural,
    )


def diff_configs(
    base: Mapping[str, HostConfig], head: Mapping[str, HostConfig]
) -> dict[str, HostDiff]:
    """Diffs of every machine present in either mapping, changed ones only, by name."""
    out: dict[str, HostDiff] = {}
    for name in sorted(set(base) | set(head)):
        d = diff_host(name, base.get(name), head.get(name))
        if d is not None:
            out[name] = d
    return out
