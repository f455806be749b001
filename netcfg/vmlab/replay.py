"""Replaying a plan on the lab: `netcfg rollout run PLAN --driver qemu --lab NAME` needs
every step's `id` and `after`; a plan written before plans were graphs (the 2017
automation's naive plan) has only times. `with_graph` gives such a plan the
dependencies its timetable implies, so the executor runs it as its timetable would
have: a step waits for every step that touches one of its machines (a migration
touches its VM and both hypervisors) or, given the inventory, a member of the same
service, and that ends, in the plan, before it starts. Steps that overlap in the
timetable may overlap in the run too, so the replay keeps what the timetable promised
and no more: the naive plan's simultaneous evacuations stay simultaneous.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from netcfg.model.inventory import Inventory

SECTIONS = ("waves", "migrations", "maintenance")


def has_graph(plan: Mapping[str, Any]) -> bool:
    return all("id" in entry and "after" in entry for key in SECTIONS for entry in plan.get(key, []))


def with_graph(plan: Mapping[str, Any], inventory: Inventory | None = None) -> dict[str, Any]:
    """`plan` with `id` and `after` on every step: its own when it has them, else the
    planner's ids (`hot-N`, `migrate-N`, `maint-HOST`) and the timetable's order."""
    result = copy.deepcopy(dict(plan))
    if has_graph(result):
        return result
    services = {m.name: m.service for m in inventory.machines.values() if m.service} if inventory else {}
    steps = []  # (entry, start, end, machines it touches)
    for n, wave in enumerate(result.get("waves", [])):
        wave["id"] = f"hot-{wave.get('index', n)}"
        steps.append((wave, set(map(str, wave["hosts"])) | _services(wave["hosts"], services)))
    for n, migration in enumerate(result.get("migrations", [])):
        migration["id"] = f"migrate-{n}"
        steps.append((migration, {str(migration["vm"]), str(migration["from"]), str(migration["to"])}))
    for window in result.get("maintenance", []):
        window["id"] = f"maint-{window['host']}"
        steps.append((window, {str(window["host"])} | _services([window["host"]], services)))
    for entry, touched in steps:
        start = float(entry["start_s"])
        entry["after"] = [
            other["id"]
            for other, other_touched in steps
            if other is not entry and float(other["end_s"]) <= start and touched & other_touched
        ]
    return result


def _services(machines: Any, services: Mapping[str, str]) -> set[str]:
    return {f"service {services[str(m)]}" for m in machines if str(m) in services}


def planned_hosts(plan: Mapping[str, Any], inventory: Inventory) -> dict[str, str]:
    """Where each VM of the inventory is once the plan has run: its last migration's
    target, or where it was."""
    where = {m.name: m.host for m in inventory.machines.values() if m.host}
    for m in sorted(plan.get("migrations", []), key=lambda m: float(m["end_s"])):
        if str(m["vm"]) in where:
            where[str(m["vm"])] = str(m["to"])
    return {vm: host for vm, host in where.items() if host is not None}
