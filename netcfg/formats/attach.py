"""Which interface a route or rule is written under, for formats organised per link.

systemd-networkd and netplan configure routes and rules as part of a link. The model
keeps them per machine, so they are attached here:
  - a route with a device: that device;
  - a route via a gateway: the interface with an address in a network holding the
    gateway (the segment the design took the gateway from);
  - a rule: the interface whose on-link routes fill the rule's table (its segment),
    else the interface holding the rule's source prefix;
  - anything else: the first interface (a machine always has one to carry it).

Each link gets runs of the machine's entries, in their order. A shared part (a
segment's `to` rules, its on-link routes: hundreds of entries on every machine of the
segment, model/entries.py) whose entries all go to one link is attached whole, decided
from what the part holds, not entry by entry; the formats then write its text once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from netcfg.model.entries import PerPart, parts_of
from netcfg.model.host import HostConfig, InterfaceConfig, Route, Rule
from netcfg.model.spans import span

T = TypeVar("T")


@dataclass(slots=True)
class Attached:
    interface: InterfaceConfig
    routes: list[tuple[Route, ...]] = field(default_factory=list)  # runs of the machine's routes
    rules: list[tuple[Rule, ...]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _RoutesFacts:
    device: str | None  # the device of every route of the part, if they share one
    table_devices: tuple[tuple[int, str], ...]  # (table, device) of the routes with a device, first seen first


def _routes_facts(part: tuple[Route, ...]) -> _RoutesFacts:
    devices = {r.device for r in part}
    pairs = tuple(dict.fromkeys((r.table, r.device) for r in part if r.device is not None))
    return _RoutesFacts(next(iter(devices)) if len(devices) == 1 else None, pairs)


def _rules_table(part: tuple[Rule, ...]) -> int | None:
    tables = {r.table for r in part}
    return next(iter(tables)) if len(tables) == 1 else None


class PartFacts:
    """What attach needs of each shared part, worked out once per part for a run."""

    __slots__ = ("routes", "rules")

    def __init__(self) -> None:
        self.routes = PerPart(_routes_facts)
        self.rules = PerPart(_rules_table)


def attach(config: HostConfig, facts: PartFacts | None = None) -> list[Attached]:
    """One entry per interface, in interface order, with its runs of routes and rules."""
    facts = facts or PartFacts()
    entries = [Attached(i) for i in config.interfaces]
    if not entries:
        return entries
    by_name = {e.interface.name: e for e in entries}
    route_parts, rule_parts = parts_of(config.routes), parts_of(config.rules)
    table_owner: dict[int, Attached] = {}
    for route_part in route_parts:
        for table, device in facts.routes(route_part).table_devices:
            if device in by_name:
                table_owner.setdefault(table, by_name[device])
    networks: list[tuple[tuple[int, int, int], Attached]] = []

    def holder(address: str) -> Attached | None:
        if not networks:
            networks.extend((span(a.address), e) for e in entries for a in e.interface.addresses)
        version, first, last = span(address)
        for (net_version, net_first, net_last), entry in networks:
            if version == net_version and net_first <= first and last <= net_last:
                return entry
        return None

    def route_target(route: Route) -> Attached:
        if route.device in by_name:
            return by_name[route.device]
        if route.gateway is not None:
            return holder(route.gateway) or table_owner.get(route.table) or entries[0]
        return table_owner.get(route.table) or entries[0]

    def rule_target(rule: Rule) -> Attached:
        owner = table_owner.get(rule.table)
        if owner is None and rule.src is not None:
            owner = holder(rule.src)
        return owner or entries[0]

    for route_part in route_parts:
        link = facts.routes(route_part).device
        if link is not None and link in by_name:
            by_name[link].routes.append(route_part)
        else:
            for target, routes in _runs(route_part, route_target):
                target.routes.append(routes)
    for rule_part in rule_parts:
        rules_table = facts.rules(rule_part)
        if rules_table is not None and rules_table in table_owner:
            table_owner[rules_table].rules.append(rule_part)
        else:
            for target, rules in _runs(rule_part, rule_target):
                target.rules.append(rules)
    return entries


def _runs(part: Sequence[T], target_of: Callable[[T], Attached]) -> list[tuple[Attached, tuple[T, ...]]]:
    """The part cut where the target changes: (target, consecutive entries)."""
    runs: list[tuple[Attached, tuple[T, ...]]] = []
    start = 0
    current: Attached | None = None
    for i, item in enumerate(part):
        target = target_of(item)
        if target is not current:
            if current is not None:
                runs.append((current, tuple(part[start:i])))
            current, start = target, i
    if current is not None:
        runs.append((current, tuple(part[start:])))
    return runs
