"""A fleet in the middle of a migration: the inventory as it is after stage K of a plan
(`PLAN:K`, PLAN the JSON `netcfg migrate --format json` wrote). The machines of
stages 1 to K carry the plan's target design as their own `design:`; `verify --stage`
models that fleet and `lab up --stage` builds it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from netcfg.errors import InputError, quote
from netcfg.files import read_json
from netcfg.inventory.digest import inventory_digest
from netcfg.model.host import DesignName, Kind
from netcfg.model.inventory import Inventory
from netcfg.problems import Location, Problem
from netcfg.words import plural


def parse_stage(spec: str) -> tuple[str, int]:
    """`PLAN:K` as (plan file, K)."""
    path, sep, number = spec.rpartition(":")
    if not sep or not path or not number.isdigit():
        raise InputError(
            [Problem(Location("--stage"), f"expected PLAN:K (a plan file and a stage number), not {quote(spec)}")]
        )
    return path, int(number)


def stage_machines(plan: Any, source: str) -> tuple[DesignName, list[list[str]]]:
    """The target design and each stage's machines of a plan; InputError if it is not one."""
    where = Location(source)
    problems: list[Problem] = []
    if not isinstance(plan, dict):
        raise InputError([Problem(where, "not a migration plan: expected a JSON object")])
    to = plan.get("to")
    if to not in {d.value for d in DesignName}:
        problems.append(Problem(where, f"not a migration plan: 'to' is {quote(to)}, not a design"))
    stages = plan.get("stages")
    found: list[list[str]] = []
    if not isinstance(stages, list):
        problems.append(Problem(where, "not a migration plan: no list of stages"))
    else:
        for n, stage in enumerate(stages, 1):
            machines = stage.get("machines") if isinstance(stage, dict) else None
            if not isinstance(machines, list) or not all(isinstance(m, str) for m in machines):
                problems.append(Problem(where, f"stage {n}: expected machines, a list of names"))
                continue
            found.append(machines)
    if plan.get("refused"):
        problems.append(Problem(where, "the plan is a refusal: it has no stages to build"))
    if problems:
        raise InputError(problems)
    return DesignName(str(to)), found


def staged_inventory(inventory: Inventory, spec: str) -> tuple[Inventory, str, str]:
    """The inventory after stage K of the plan, a label saying so, and the rp_filter
    (strict, loose or off) the plan was verified under."""
    path, k = parse_stage(spec)
    plan = read_json(path, "migration plan")
    to, stages = stage_machines(plan, path)
    where = Location(path)
    recorded = plan.get("inventory_digest")
    if recorded is not None and recorded != (actual := inventory_digest(inventory)):
        # Same names, other content: the stages would build a fleet nobody verified.
        raise InputError(
            [
                Problem(
                    where,
                    f"the plan is of another inventory: it records inventory digest {quote(recorded, 64)}, "
                    f"{inventory.source or 'the inventory given'} has {actual}",
                    "plan the migration again from this inventory",
                )
            ]
        )
    if k > len(stages):
        raise InputError([Problem(Location("--stage"), f"the plan has {plural(len(stages), 'stage')}, not {k}")])
    moved = {m for stage in stages[:k] for m in stage}
    unknown = sorted(m for m in moved if m not in inventory.machines)
    if unknown:
        raise InputError(
            [
                Problem(
                    where,
                    f"the plan moves machines the inventory does not have: {', '.join(map(quote, unknown[:5]))}"
                    + (" ..." if len(unknown) > 5 else ""),
                    f"plan it again from {inventory.source}",
                )
            ]
        )
    routers = sorted(m for m in moved if inventory.machines[m].kind is Kind.ROUTER)
    if routers:
        raise InputError([Problem(where, f"the plan moves routers ({', '.join(routers)}): routers have no design")])
    machines = {name: replace(m, design=to) if name in moved else m for name, m in inventory.machines.items()}
    staged = Inventory.build(dict(inventory.segments), inventory.networks, machines, inventory.policy, inventory.source)
    rp_filter = plan.get("rp_filter", "strict")  # older plans were verified strict
    if rp_filter not in ("strict", "loose", "off"):
        raise InputError([Problem(where, f"rp_filter must be strict, loose or off, not {quote(rp_filter)}")])
    return staged, f"after stage {k} of {path}: {len(moved)} machines {to}", str(rp_filter)
