"""Desired versus live owned state: the drift, and the ordered steps that remove it.

Entries are matched by identity key (what the kernel treats as "the same entry"):
an address by interface and IP, a rule by family, priority and selector, a route by
family, table, destination and metric. Same key, other attributes: "different"; so is
a route left over in the same table to the same destination with another metric. An
owned rule or route the model cannot express (codec.KernelRule/KernelRoute) is its own
key: never desired, so extra and removed by every selector it has, unless a desired
route takes its place (then "different": replaced in one message when in its slot).

The steps run in an order that never blackholes traffic (docs/design.md, "Applying"):
  1. IPv6 addresses whose prefix length changes are removed (the kernel refuses a
     second copy of an IPv6 address), then missing addresses added, in the config's
     order when it is given (the kernel's first address of a link is the source of its
     routes that name none, as with systemd-networkd): gateways become reachable before
     routes need them;
  2. routes added or replaced: every table is complete before a rule points at it;
  3. rules added;
  4. rules removed: nothing points at a table any more ...
  5. ... before its routes are removed;
  6. addresses removed last, when no owned route needs them (an IPv4 address whose
     prefix length changes too: its new length is already in place, so the link never
     loses its last IPv4 address, which would flush its routes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from netcfg.kernel.codec import DEFAULT_METRIC, KernelRoute, KernelRule
from netcfg.kernel.state import OwnedState
from netcfg.model.host import Address, Route, Rule

Entry = Address | Rule | Route | KernelRule | KernelRoute
KINDS = ("addresses", "rules", "routes")


def key(entry: Entry) -> tuple[Any, ...]:
    if isinstance(entry, Address):
        return ("address", entry.interface, entry.ip)
    if isinstance(entry, Rule):
        return ("rule", entry.family, entry.priority, entry.src, entry.dst)
    if isinstance(entry, Route):
        return ("route", entry.family, entry.table, entry.dst, entry.metric)
    # Beyond the model: the entry is its own identity, paired with nothing desired.
    return ("as-dumped", str(entry))


def place(route: Route | KernelRoute) -> tuple[Any, ...]:
    """Where a route sits, whatever its metric: family, table and destination."""
    return ("route", route.family, route.table, route.dst)


def slot(route: Entry) -> tuple[Any, ...]:
    """What the kernel tells routes apart by: family, table, destination, tos and metric.
    A route in another's slot overwrites it with NLM_F_REPLACE and collides with it as an
    addition, whatever else either carries (an owned route with an MTU or a preferred
    source, beyond the model, is replaced by the model's route in one message)."""
    if isinstance(route, KernelRoute):
        return ("route", route.family, route.table, route.dst, route.tos, route.metric)
    if isinstance(route, Route):
        metric = DEFAULT_METRIC[route.family] if route.metric is None else route.metric
        return ("route", route.family, route.table, route.dst, 0, metric)
    return key(route)


def describe(entry: Entry) -> str:
    if isinstance(entry, Address):
        return f"address {entry.address} dev {entry.interface}"
    family = "-6 " if entry.family == 6 else ""
    if isinstance(entry, Rule | KernelRule):
        return f"rule {family}{entry}"  # a KernelRule spells its marker itself
    if isinstance(entry, KernelRoute):
        return f"route {family}{entry}"
    return f"{describe_provided(entry)} proto {entry.protocol}"


def describe_provided(entry: Entry) -> str:
    """A desired entry that a foreign one provides, without netcfg's marker: the foreign
    one does not carry it."""
    if isinstance(entry, Route):
        return f"route {'-6 ' if entry.family == 6 else ''}{entry}"
    return describe(entry)


def sort_key(entry: Entry) -> tuple[Any, ...]:
    """The identity key, then the other fields (a dumped entry's: its text). A field
    left out (None: no selector, the default metric) sorts first, as "" before any
    prefix and -1 before any metric, so None never meets a str or an int in a
    comparison."""
    if isinstance(entry, Rule):
        return ("rule", entry.family, entry.priority, entry.src or "", entry.dst or "", entry.table)
    if isinstance(entry, Route):
        metric = -1 if entry.metric is None else entry.metric
        return ("route", entry.family, entry.table, entry.dst, metric, *entry.sort_key()[3:])
    return (*key(entry), str(entry))  # nothing in an address's or a dumped entry's key is None


@dataclass(frozen=True, slots=True)
class KindDrift:
    """Desired against live for one kind of entry (addresses, rules or routes)."""

    missing: tuple[Entry, ...] = ()  # desired, not live
    extra: tuple[Entry, ...] = ()  # live, not desired
    different: tuple[tuple[Entry, Entry], ...] = ()  # (desired, live) with one key

    @property
    def count(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.different)


@dataclass(frozen=True, slots=True)
class Drift:
    """Desired against live, kind by kind."""

    addresses: KindDrift = KindDrift()
    rules: KindDrift = KindDrift()
    routes: KindDrift = KindDrift()

    @property
    def count(self) -> int:
        return self.addresses.count + self.rules.count + self.routes.count

    def __bool__(self) -> bool:
        return self.count > 0


def _kind_drift(desired: frozenset, live: frozenset) -> KindDrift:
    if desired == live:  # the no-op re-apply: one set comparison
        return KindDrift()
    want = desired - live
    have = live - desired
    if not have:  # nothing to pair with (a fresh namespace): all of it is missing
        return KindDrift(missing=tuple(sorted(want, key=sort_key)))
    if not want:  # nothing desired left out: all of it is extra
        return KindDrift(extra=tuple(sorted(have, key=sort_key)))
    have_by_key: dict[tuple, list[Entry]] = {}
    for entry in have:
        have_by_key.setdefault(key(entry), []).append(entry)
    missing, different = [], []
    paired: set[Entry] = set()
    for entry in sorted(want, key=sort_key):
        candidates = [e for e in have_by_key.get(key(entry), ()) if e not in paired]
        if candidates:
            paired.add(candidates[0])
            different.append((entry, candidates[0]))
        else:
            missing.append(entry)
    # A route to the same destination in the same table with another metric is a
    # changed route too (the kernel keeps it as a second route: see `plan`).
    # So is an owned route beyond the model in the place of a desired one, either way.
    have_by_place: dict[tuple, list[Entry]] = {}
    for entry in sorted(have, key=sort_key):
        if isinstance(entry, Route | KernelRoute) and entry not in paired:
            have_by_place.setdefault(place(entry), []).append(entry)
    unpaired = []
    for entry in missing:
        candidates = (
            [e for e in have_by_place.get(place(entry), ()) if e not in paired]
            if isinstance(entry, Route | KernelRoute)
            else []
        )
        if candidates:
            paired.add(candidates[0])
            different.append((entry, candidates[0]))
        else:
            unpaired.append(entry)
    missing = unpaired
    different.sort(key=lambda pair: sort_key(pair[0]))
    extra = sorted((e for e in have if e not in paired), key=sort_key)
    return KindDrift(tuple(missing), tuple(extra), tuple(different))


def drift(desired: OwnedState, live: OwnedState) -> Drift:
    return Drift(*(_kind_drift(getattr(desired, k), getattr(live, k)) for k in KINDS))


class Step(NamedTuple):
    """One message of a plan: an entry added, removed or replaced. A NamedTuple, as the
    messages it becomes (wire.Request): a fresh apply of 1,000 pairs makes 2,000, and a
    frozen dataclass takes twice a tuple's time to make (9 million instructions)."""

    op: str  # "add", "remove" or "replace" (routes: one message, no gap)
    entry: Entry
    old: Entry | None = None  # what a replace overwrites
    note: str = ""  # why a step beyond the drift is there

    def __str__(self) -> str:
        note = f" ({self.note})" if self.note else ""
        if self.op == "replace" and self.old is not None:
            return f"~ {describe(self.entry)} (was {describe(self.old)}){note}"
        return f"{'+' if self.op == 'add' else '-'} {describe(self.entry)}{note}"


@dataclass(frozen=True, slots=True)
class Plan:
    """The steps of an apply, in the order they are sent."""

    steps: tuple[Step, ...] = ()
    # Desired entries a foreign (unmarked) identical entry already provides: left alone.
    present: tuple[Entry, ...] = ()
    # Rules the steps re-create behind a foreign rule they stood in front of, each with
    # that rule (kernel/rules.py): carried out, traffic both select meets the other first.
    behind_foreign: tuple[tuple[KernelRule, KernelRule], ...] = ()

    def __len__(self) -> int:
        return len(self.steps)

    def __bool__(self) -> bool:
        return bool(self.steps)


def plan(live: OwnedState, desired: OwnedState, order: Mapping[object, int] | None = None) -> Plan:
    """The steps taking `live` to `desired`, in the safe order described above;
    `order`: the desired addresses' positions in the config."""
    d = drift(desired, live)
    steps: list[Step] = []
    # IPv6 refuses a second copy of an address: the old length goes first. IPv4 keeps
    # one address per length, and removing the old one first could remove the link's
    # last IPv4 address, which makes the kernel flush every IPv4 route of the link.
    steps += [Step("remove", old) for _, old in d.addresses.different if old.family == 6]
    added = [*d.addresses.missing, *(new for new, _ in d.addresses.different)]
    if order:
        added.sort(key=lambda a: order.get(a, len(order)))
    steps += [Step("add", new) for new in added]
    steps += [Step("add", new) for new in d.routes.missing]
    # One message replaces a route of the same metric; another metric is another
    # kernel route: the new one goes in now, the old one out with the other removals.
    steps += [
        Step("replace", new, old) if slot(new) == slot(old) else Step("add", new) for new, old in d.routes.different
    ]
    # A rule whose table changes: the new rule goes in before the old one goes out.
    steps += [Step("add", new) for new in d.rules.missing]
    steps += [Step("add", new) for new, _ in d.rules.different]
    steps += [Step("remove", old) for _, old in d.rules.different]
    steps += [Step("remove", old) for old in d.rules.extra]
    steps += [Step("remove", old) for new, old in d.routes.different if slot(new) != slot(old)]
    steps += [Step("remove", old) for old in d.routes.extra]
    steps += [Step("remove", old) for _, old in d.addresses.different if old.family == 4]
    steps += [Step("remove", old) for old in d.addresses.extra]
    return Plan(tuple(steps))
