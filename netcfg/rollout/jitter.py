"""Replay a plan's dependency graph with durations stretched and shrunk at random, and
check every invariant in every run (`netcfg simulate --jitter LO:HI --runs N --seed S`).

A plan is a dependency graph (docs/design.md): its times are only the projection under
the estimates. Here each step's planned duration is multiplied by a factor drawn
uniformly from [LO, HI], and each step starts as soon as every step in its `after` has
ended (a hot wave's dependants also wait for its `soak_s`), which is what an executor
does. The invariants are then checked by the same independent replay as the exact one
(netcfg.rollout.simulate), except that a migration, whose duration is now made up, is
checked for the bandwidth it gets rather than for its duration.

Like the simulator, this module shares no code with the planner: it reads the plan's
JSON.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, replace
from functools import partial
from itertools import pairwise
from typing import Any

from netcfg.errors import InputError, quote
from netcfg.forked import beside, can_fork
from netcfg.gc_tuning import rare_full_collections
from netcfg.limits import PLAN_SECONDS, plan_seconds
from netcfg.model.inventory import Inventory
from netcfg.problems import Location, Problem
from netcfg.rollout.simulate import (
    EPS,
    Fleet,
    Simulation,
    Violation,
    read_plan,
    replay,
    router_violations,
    simulate_read,
    wave_violations,
)

KINDS = ("waves", "migrations", "maintenance")
EXAMPLES = 20  # violations kept with their run, to show; all are counted
# Migrations and maintenance windows from which a plan's graph is checked in a worker: at
# 10,000 the check takes 0.3 s in one process and 0.18 s in two, below it the gain is small.
PARALLEL_MIN = 10_000


@dataclass(frozen=True, slots=True)
class Graph:
    """The plan's steps in an order where every step comes after those it waits for."""

    order: tuple[int, ...]  # step numbers (waves, then migrations, then maintenance)
    duration: tuple[float, ...]
    soak: tuple[float, ...]  # waited after the step ends, before its dependants start
    after: tuple[tuple[int, ...], ...]
    waves: int
    migrations: int
    start: tuple[float, ...]  # the times the file gives each step
    end: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class JitteredReplay:
    low: float
    high: float
    runs: int
    seed: int
    planned_makespan_s: float
    makespans: tuple[float, ...]  # one per run
    violations: int  # in all runs together
    failed_runs: int
    examples: tuple[tuple[int, Violation], ...]  # (run, violation), the first few

    @property
    def clean(self) -> bool:
        return self.violations == 0

    def percentile(self, p: float) -> float:
        """Nearest rank: the smallest makespan at least p % of the runs reach."""
        ordered = sorted(self.makespans)
        if not ordered:
            return 0.0
        return ordered[max(0, math.ceil(p / 100.0 * len(ordered)) - 1)]

    def ratio(self, p: float) -> float:
        return self.percentile(p) / self.planned_makespan_s if self.planned_makespan_s > 0 else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "jitter": {"low": self.low, "high": self.high},
            "runs": self.runs,
            "seed": self.seed,
            "violations": self.violations,
            "runs_with_violations": self.failed_runs,
            "examples": [{"run": run} | v.to_dict() for run, v in self.examples],
            "makespan_s": {
                "planned": round(self.planned_makespan_s, 3),
                "p50": round(self.percentile(50), 3),
                "p95": round(self.percentile(95), 3),
                "min": round(min(self.makespans, default=0.0), 3),
                "max": round(max(self.makespans, default=0.0), 3),
            },
            "p50_ratio": round(self.ratio(50), 4),
            "p95_ratio": round(self.ratio(95), 4),
        }


def read_graph(plan: Any, source: str = "<plan>") -> Graph:
    """The steps of a plan file and what each waits for; InputError when a step has no
    id, an id is used twice, a dependency names no step, or the dependencies form a
    cycle (an executor could never start it)."""
    where = Location(source)
    problems: list[Problem] = []
    ids: dict[str, int] = {}
    raw_after: list[list[Any]] = []
    names: list[str] = []  # "migrations[3]", for messages
    missing: list[str] = []  # steps without an id
    duration: list[float] = []
    soak: list[float] = []
    starts: list[float] = []
    ends: list[float] = []
    counts = []
    for kind in KINDS:
        entries = plan.get(kind, []) if isinstance(plan, dict) else []
        if not isinstance(entries, list):
            problems.append(Problem(where, f"not a plan file: {kind} is not a list"))
            entries = []
        counts.append(len(entries))
        for i, entry in enumerate(entries):
            name = f"{kind}[{i}]"
            names.append(name)
            step = len(duration)
            if not isinstance(entry, dict):
                problems.append(Problem(where, f"{name} is not an object"))
                entry = {}
            step_id, wanted = entry.get("id"), entry.get("after")
            if step_id is not None and not (isinstance(step_id, str) and step_id):
                problems.append(Problem(where, f"{name}: id must be a non-empty string, not {quote(step_id)}"))
            elif step_id is None or wanted is None:
                missing.append(name)  # reported once for all: no graph
                wanted = []
            if isinstance(step_id, str) and step_id:
                if step_id in ids:
                    problems.append(Problem(where, f"{name}: id {step_id!r} is used twice"))
                else:
                    ids[step_id] = step
            if not isinstance(wanted, list) or not all(isinstance(a, str) for a in wanted):
                problems.append(Problem(where, f"{name}: after must be a list of step ids"))
                wanted = []
            raw_after.append(wanted)
            start, end = plan_seconds(entry.get("start_s", 0.0)), plan_seconds(entry.get("end_s", 0.0))
            wait = plan_seconds(entry.get("soak_s", 0.0)) if kind == "waves" else 0.0
            if start is None or end is None or wait is None or end < start or wait < 0:
                problems.append(
                    Problem(
                        where,
                        f"{name}: start_s, end_s and soak_s must be numbers of at most {PLAN_SECONDS:g} s,"
                        " end not before start",
                    )
                )
                start = end = wait = 0.0
            duration.append(max(0.0, end - start))
            soak.append(max(0.0, wait))
            starts.append(start)
            ends.append(end)
    if missing:
        # One line, not one per step: a plan of an older netcfg has none at all.
        others = f" and {len(missing) - 1} more steps" if len(missing) > 1 else ""
        problems.insert(
            0,
            Problem(
                where,
                f"{missing[0]}{others} {'have' if others else 'has'} no id or no after: "
                "the plan is not a dependency graph",
                "plan it again with this netcfg (netcfg plan --json), which writes id and after on every step",
            ),
        )
    after: list[tuple[int, ...]] = []
    for step, wanted in enumerate(raw_after):
        known = []
        for name in wanted:
            if name not in ids:
                problems.append(Problem(where, f"{names[step]}: after names {name!r}, which is no step of the plan"))
            else:
                known.append(ids[name])
        after.append(tuple(dict.fromkeys(known)))
    if problems:
        raise InputError(
            problems[:20] + ([Problem(where, f"... and {len(problems) - 20} more")] if len(problems) > 20 else [])
        )
    order = _topological(after)
    if len(order) < len(after):
        ordered = set(order)
        stuck = sorted(name for name, step in ids.items() if step not in ordered)
        raise InputError(
            [
                Problem(
                    where,
                    f"the dependencies form a cycle: {len(stuck)} steps can never start "
                    f"(among them {', '.join(stuck[:5])})",
                )
            ]
        )
    return Graph(
        tuple(order), tuple(duration), tuple(soak), tuple(after), counts[0], counts[1], tuple(starts), tuple(ends)
    )


def _topological(after: list[tuple[int, ...]]) -> list[int]:
    """Kahn's order of the steps; shorter than the steps when there is a cycle (the
    steps on or behind it never become ready)."""
    waiting = [len(a) for a in after]
    then: list[list[int]] = [[] for _ in after]
    for step, deps in enumerate(after):
        for d in deps:
            then[d].append(step)
    ready = [s for s, n in enumerate(waiting) if n == 0]
    order: list[int] = []
    while ready:
        step = ready.pop()
        order.append(step)
        for nxt in then[step]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                ready.append(nxt)
    return order


def retime(graph: Graph, factors: list[float]) -> tuple[list[float], list[float]]:
    """Start and end of every step when each lasts its planned duration times its factor
    and starts when all it waits for have ended (and soaked)."""
    starts = [0.0] * len(graph.duration)
    ends = [0.0] * len(graph.duration)
    release = [0.0] * len(graph.duration)
    for step in graph.order:
        start = 0.0
        for d in graph.after[step]:
            if release[d] > start:
                start = release[d]
        starts[step] = start
        ends[step] = start + graph.duration[step] * factors[step]
        release[step] = ends[step] + graph.soak[step]
    return starts, ends


def simulate_plan(plan: Any, inventory: Inventory, source: str = "<plan>", jobs: int = 1) -> Simulation:
    """The exact replay of a plan's times (netcfg.rollout.simulate), the times checked
    against its dependency graph (graph_violations, unordered_violations), and the graph
    run at the planned durations: an invariant only the times kept (a dependency removed
    by hand) breaks there. Each (invariant, host) the exact replay already reported is
    not repeated. A plan with no graph at all (an older netcfg's, or one written by
    hand) is only timed; a graph that is not one (ids twice, unknown or cyclic
    dependencies) is an InputError. With `jobs` > 1, a large plan's graph is checked in
    a forked worker beside the exact replay: the two read nothing of each other."""
    migrations, windows = read_plan(plan, source)
    fleet = Fleet.of(inventory)
    exact = partial(simulate_read, plan, migrations, windows, inventory, fleet)
    if not _has_graph(plan):
        return exact()
    graph_checked = partial(_graph_checked, plan, source, fleet)
    if jobs > 1 and len(migrations) + len(windows) >= PARALLEL_MIN and can_fork():
        timed, (found, retimed) = beside(exact, graph_checked, "plan check")
    else:
        timed, (found, retimed) = exact(), graph_checked()
    if retimed is not None:
        waves = _entries(plan, "waves")
        run, _ = _run(retimed, [1.0] * len(retimed.duration), migrations, windows, waves, inventory, fleet)
        seen = {(v.invariant, v.host) for v in timed.violations}
        found += tuple(
            replace(v, message=f"{v.message} (when the graph runs at the planned durations)")
            for v in run.violations
            if (v.invariant, v.host) not in seen
        )
    return replace(timed, violations=timed.violations + found) if found else timed


def _graph_checked(plan: Any, source: str, fleet: Fleet) -> tuple[tuple[Violation, ...], Graph | None]:
    """What the plan's times break of its graph; and the graph, when it is still to be run
    at the planned durations: None when that run is the file's own timetable (as the
    planner writes it: the exact replay was that run already)."""
    graph = read_graph(plan, source)
    steps = [e for k in KINDS for e in _entries(plan, k)]  # as read_graph numbers them
    found = graph_violations(steps, graph) + unordered_violations(steps, graph, fleet)
    return found, None if _keeps_the_times(graph) else graph


def _keeps_the_times(graph: Graph) -> bool:
    """Whether every step, started as soon as what it waits for has ended (and soaked),
    starts and ends at the plan's own times."""
    begin, end = retime(graph, [1.0] * len(graph.duration))
    return all(abs(a - b) <= 1e-6 for a, b in zip(begin + end, graph.start + graph.end, strict=True))


def _run(
    graph: Graph,
    factors: list[float],
    migrations: list[dict[str, Any]],
    windows: list[dict[str, Any]],
    waves: list[Any],
    inventory: Inventory,
    fleet: Fleet | None = None,
) -> tuple[Simulation, float]:
    """One replay of the graph with each duration times its factor: the invariants it
    breaks, and its makespan."""
    fleet = fleet or Fleet.of(inventory)
    starts, ends = retime(graph, factors)
    first_migration, first_window = graph.waves, graph.waves + graph.migrations
    moved = [
        m | {"start": starts[first_migration + i], "end": ends[first_migration + i]} for i, m in enumerate(migrations)
    ]
    maintained = [w | {"start": starts[first_window + j], "end": ends[first_window + j]} for j, w in enumerate(windows)]
    simulation = replay(moved, maintained, inventory, jittered=True, fleet=fleet)
    spans = list(zip(starts[: graph.waves], ends[: graph.waves], strict=True))
    waved = wave_violations(waves, fleet, spans) + router_violations(maintained, spans, fleet)
    if waved:
        simulation = replace(simulation, violations=simulation.violations + waved)
    return simulation, max(ends, default=0.0)


def _has_graph(plan: Any) -> bool:
    return any(isinstance(e, dict) and ("id" in e or "after" in e) for k in KINDS for e in _entries(plan, k))


def graph_violations(steps: list[dict[str, Any]], graph: Graph) -> tuple[Violation, ...]:
    """What the exact replay of a plan's times cannot see of its dependency graph (as
    read_graph read it): a step timed before a step it waits for has ended (and
    soaked). Whether the graph alone keeps the invariants is what --jitter replays."""
    found = []
    for step, entry in enumerate(steps):
        start = graph.start[step]
        for d in graph.after[step]:
            ready = graph.end[d] + graph.soak[d]
            if start + 1e-3 < ready:
                found.append(
                    Violation(
                        start,
                        str(entry.get("host") or entry.get("vm") or entry["id"]),
                        "order",
                        ready - start,
                        "s",
                        f"{entry['id']} starts at {start:g} s, before {steps[d]['id']}, which it waits for, "
                        f"is done at {ready:g} s",
                    )
                )
    return tuple(found)


def unordered_violations(steps: list[dict[str, Any]], graph: Graph, fleet: Fleet) -> tuple[Violation, ...]:
    """Steps that must never overlap, in any timing, yet of which neither waits for the
    other (directly or through other steps): a VM's migrations and its own maintenance;
    the maintenance windows of one service; the routers' windows. Some durations then
    run them together, however rarely a random replay draws those durations. Each such
    set is checked in the order of its planned times, one pair after another."""
    first_window = graph.waves + graph.migrations
    chains: dict[tuple[str, str], list[int]] = defaultdict(list)
    for step in range(graph.waves, first_window):
        chains["maintenance", str(steps[step].get("vm"))].append(step)
    service_of = {name: service for service, names in fleet.services for name in names}
    for step in range(first_window, len(steps)):
        host = str(steps[step].get("host"))
        chains["maintenance", host].append(step)  # a VM's own window joins its migrations
        if host in service_of:
            chains["service", service_of[host]].append(step)
        if host in fleet.routers:
            chains["routers", ""].append(step)
    found = []
    for (invariant, _), members in chains.items():
        members.sort(key=lambda step: (graph.start[step], graph.end[step], step))
        for a, b in pairwise(members):
            if _waits_for(graph, b, a):
                continue
            first, then = steps[a], steps[b]
            two_migrations = invariant == "maintenance" and max(a, b) < first_window
            found.append(
                Violation(
                    graph.start[b],
                    str(then.get("vm") or then.get("host")),
                    "migration" if two_migrations else invariant,
                    0.0,
                    "",
                    f"{then.get('id')} does not wait for {first.get('id')}, directly or through other steps:"
                    " some durations run the two together",
                )
            )
    return tuple(found)


def _waits_for(graph: Graph, later: int, earlier: int) -> bool:
    """Whether `later` waits for `earlier` through the dependencies; a step planned to
    start before `earlier` does is no way there (graph_violations reports times that
    contradict the dependencies)."""
    if earlier in graph.after[later]:
        return True  # how the planner chains them: no search
    since = graph.start[earlier] - EPS
    seen, todo = {later}, [later]
    while todo:
        for d in graph.after[todo.pop()]:
            if d == earlier:
                return True
            if d not in seen and graph.start[d] >= since:
                seen.add(d)
                todo.append(d)
    return False


def _entries(plan: Any, kind: str) -> list[Any]:
    entries = plan.get(kind, []) if isinstance(plan, dict) else []
    return entries if isinstance(entries, list) else []


def simulate_jittered(
    plan: Any, inventory: Inventory, low: float, high: float, runs: int, seed: int, source: str = "<plan>"
) -> JitteredReplay:
    """`runs` replays of the plan's graph with every duration times a factor drawn from
    [low, high] (random.Random(seed), so a run can be repeated)."""
    graph = read_graph(plan, source)
    migrations, windows = read_plan(plan, source)
    waves = _entries(plan, "waves")
    planned = max([m["end"] for m in migrations] + [w["end"] for w in windows], default=0.0)
    planned = max([planned] + [float(w.get("end_s", 0.0)) for w in plan.get("waves", [])])
    fleet = Fleet.of(inventory)
    rng = random.Random(seed)
    makespans: list[float] = []
    examples: list[tuple[int, Violation]] = []
    count = failed = 0
    with rare_full_collections():  # each run builds tens of thousands of short-lived objects
        for run in range(runs):
            factors = [rng.uniform(low, high) for _ in graph.duration]
            simulation, makespan = _run(graph, factors, migrations, windows, waves, inventory, fleet)
            makespans.append(makespan)
            if simulation.violations:
                failed += 1
                count += len(simulation.violations)
                examples.extend((run, v) for v in simulation.violations[: EXAMPLES - len(examples)])
    return JitteredReplay(low, high, runs, seed, planned, tuple(makespans), count, failed, tuple(examples))
