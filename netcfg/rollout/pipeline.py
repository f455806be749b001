"""From a change to a checked rollout: analyse (or read a report), plan, simulate.

`plan_change` is what `netcfg plan BASE [HEAD]` does and `plan_from_report` what
`netcfg plan --from-report` does; both return the plan with its simulation, which is
independent of the planner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from netcfg.errors import InputError, quote
from netcfg.gc_tuning import rare_full_collections
from netcfg.impact.model import ChangeClass, Decision, HostState, decision_problem
from netcfg.inventory.digest import inventory_digest
from netcfg.model.host import DesignName
from netcfg.model.inventory import Inventory
from netcfg.problems import Location, Problem
from netcfg.progress import Progress, silent
from netcfg.rollout.jitter import simulate_plan
from netcfg.rollout.model import Change, Plan
from netcfg.rollout.plan import plan_rollout
from netcfg.rollout.simulate import Simulation
from netcfg.words import plural

_ABSENT = object()
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class PlannedRollout:
    plan: Plan
    simulation: Simulation
    inventory: Inventory  # the head: what the plan applies to
    decision: Decision | None = None  # the seatbelt's, when known
    hosts_touched: int = 0
    hosts_total: int = 0
    notes: tuple[str, ...] = ()  # warnings for the person planning
    data: dict[str, Any] | None = None  # plan.to_dict(), made once for the simulator and the file


def plan_change(
    base: str,
    head: str | None = None,
    *,
    design: DesignName | str | None = None,
    inventory_dir: str = "inventory",
    jobs: int = 1,
    progress: Progress = silent,
) -> PlannedRollout:
    # Here, not at the top: planning from a report needs none of the analysis (networkx,
    # the designs), which costs most of a second to import.
    from netcfg.impact.analysis import analyse

    analysis = analyse(base, head, design=design, inventory_dir=inventory_dir, jobs=jobs, progress=progress)
    impact = analysis.impact
    changes = [
        Change(h.diff.name, _rolled_out_as(h.diff.state, h.change))
        for h in impact.hosts
        if h.diff.state is not HostState.REMOVED
    ]
    return _planned(
        analysis.head, changes, impact.decision, impact.hosts_touched, impact.hosts_total or 0, jobs, progress
    )


def plan_from_report(
    report: Any, inventory: Inventory, source: str, jobs: int = 1, progress: Progress = silent
) -> PlannedRollout:
    """`report`: the JSON `netcfg check --report-json` wrote. Refused (InputError) when
    it records the digest of another inventory than `inventory`."""
    changes = changes_from_report(report, source)
    notes = _check_inventory_digest(report, inventory, source)
    _check_report(report, inventory, source)
    value = report.get("decision")
    decision = Decision(value) if value is not None else None
    planned = _planned(
        inventory,
        changes,
        decision,
        _int(report, "hosts_touched"),
        _int(report, "hosts_total"),
        jobs,
        progress,
    )
    return replace(planned, notes=notes)


def _check_inventory_digest(report: Any, inventory: Inventory, source: str) -> tuple[str, ...]:
    """A report made for another inventory plans VMs that are not where it thinks: refused,
    with both digests. A report without one (written by hand, or by an older netcfg)
    cannot be checked: planned, with a warning."""
    recorded = report.get("inventory_digest") if isinstance(report, dict) else None
    if recorded is None:
        return (
            f"warning: {source} records no inventory digest: cannot check that it was made for "
            f"{inventory.source or 'this inventory'} (netcfg check --report-json records one)",
        )
    actual = inventory_digest(inventory)
    if recorded != actual:
        raise InputError(
            [
                Problem(
                    Location(source),
                    f"the report is of another inventory: it records inventory digest {recorded}, "
                    f"{inventory.source or 'the inventory given'} has {actual}",
                    "run netcfg check again against this inventory, or give --inventory the one the report is of",
                )
            ]
        )
    return ()


def _check_report(report: dict[str, Any], inventory: Inventory, source: str) -> None:
    """What a report says must be what `check` writes and agree with itself and with
    `inventory`: a value edited by hand (a decision, a count, a host added or renamed)
    is refused, not planned. Keys a hand-written report leaves out are not required."""
    where, problems = Location(source), []

    def fail(message: str) -> None:
        problems.append(Problem(where, message))

    hosts = report["hosts"]
    if "decision" in report and (problem := decision_problem(report["decision"])):
        fail(problem)
    digest = report.get("digest")
    if digest is not None and not (type(digest) is str and _SHA256.fullmatch(digest)):
        fail(f"$.digest: expected the change's sha256 (64 hexadecimal characters) or null, found {quote(digest)}")
    touched = report.get("hosts_touched", _ABSENT)
    if touched is not _ABSENT and (type(touched) is not int or touched != len(hosts)):
        fail(f"$.hosts_touched: {quote(touched)}, but the report lists {plural(len(hosts), 'host')}")
    for key in ("hosts_total", "fleet"):
        total = report.get(key)
        if total is not None and (type(total) is not int or total < 0):
            fail(f"$.{key}: expected a count or null, found {quote(total)}")
    states, changes = {s.value for s in HostState}, {c.value for c in ChangeClass}
    seen: set[str] = set()
    for n, host in enumerate(hosts):
        name = host["name"]
        if name in seen:
            fail(f"hosts[{n}].name: {quote(name)} is listed twice")
        seen.add(name)
        state = host.get("state", _ABSENT)
        if state is not _ABSENT and (type(state) is not str or state not in states):
            fail(f"hosts[{n}].state: expected one of {', '.join(sorted(states))}, found {quote(state)}")
        change = host.get("change", _ABSENT)
        if change is not _ABSENT and (type(change) is not str or change not in changes):
            fail(f"hosts[{n}].change: expected one of {', '.join(sorted(changes))}, found {quote(change)}")
        if state == HostState.REMOVED.value:
            continue
        machine = inventory.machines.get(name)
        if machine is None:
            fail(f"hosts[{n}].name: {quote(name)} is no machine of {inventory.source or 'the inventory given'}")
        elif "kind" in host and host["kind"] != machine.kind.value:
            fail(f"hosts[{n}].kind: {quote(host['kind'])}, but {quote(name)} is a {machine.kind.value}")
    if problems:
        raise InputError(problems)


def _planned(
    inventory: Inventory,
    changes: list[Change],
    decision: Decision | None,
    touched: int,
    total: int,
    jobs: int = 1,
    progress: Progress = silent,
) -> PlannedRollout:
    # Planning 2,000 hypervisors builds hundreds of thousands of small objects next to
    # the loaded inventory: full collections would walk it all again and again.
    with rare_full_collections():
        progress(f"planning the rollout of {plural(len(changes), 'machine')}")
        plan = plan_rollout(inventory, changes)
        progress("simulating the plan")
        data = plan.to_dict()
        simulation = simulate_plan(data, inventory, jobs=jobs)
    return PlannedRollout(plan, simulation, inventory, decision, touched, total, data=data)


def _rolled_out_as(state: HostState, change: ChangeClass) -> ChangeClass:
    """A machine the change adds runs nothing yet: its configuration goes out with the hot
    waves, and a new hypervisor's VMs (new ones, or ones moved to it) are not evacuated
    from where they have never run."""
    return ChangeClass.HOT if state is HostState.ADDED else change


def _int(report: Any, key: str) -> int:
    value = report.get(key) if isinstance(report, dict) else None
    return value if isinstance(value, int) else 0


def changes_from_report(report: Any, source: str) -> list[Change]:
    """The touched hosts of an impact report (`hosts` [{name, change}])."""
    if isinstance(report, dict) and report.get("decision") == Decision.INVALID.value:
        raise InputError(
            [
                Problem(
                    Location(source),
                    "the report is of an inventory that does not load: nothing to plan",
                    "fix the errors it lists, then run netcfg check again",
                )
            ]
        )
    shape = "expected hosts [{name, change}] as `netcfg check --report-json` writes"
    hosts = report.get("hosts") if isinstance(report, dict) else None
    if not isinstance(hosts, list):
        raise InputError([Problem(Location(source), "not an impact report: no hosts list", shape)])
    known = {c.value for c in ChangeClass}
    problems, pairs = [], []
    for n, host in enumerate(hosts):
        name = host.get("name") if isinstance(host, dict) else None
        if not isinstance(name, str) or not name:
            problems.append(Problem(Location(source), f"hosts[{n}]: not an impact report's host: no name", shape))
            continue
        if host.get("state") == HostState.REMOVED.value:
            continue  # a machine the change removes has nothing left to roll out
        change = ChangeClass.HOT.value if host.get("state") == HostState.ADDED.value else host.get("change")
        if not isinstance(change, str) or change not in known:
            wrong = "no change" if change is None else f"change {quote(change)} is neither hot nor disruptive"
            problems.append(Problem(Location(source), f"hosts[{n}]: {quote(name)}: {wrong}", shape))
            continue
        pairs.append((name, str(change)))
    if problems:
        raise InputError(problems)
    return [Change(name, ChangeClass(change)) for name, change in pairs]
