"""A plan file read as the executor sees it: steps, what each waits for, the limits.

Read with code of its own (like the simulator), from the keys of docs/rollout.md "The
plan file": every element of `waves`, `migrations` and `maintenance` is a step with an
`id` and `after`. Everything wrong is reported at once, one problem per line, before
anything starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from netcfg.errors import InputError, quote
from netcfg.execute.driver import Step, StepKind
from netcfg.limits import plan_seconds
from netcfg.names import MACHINE_NAME
from netcfg.problems import Location, Problem

# The plan's lists and the kind of step each holds, in the order a plan file writes them.
SECTIONS = (("waves", StepKind.HOT), ("migrations", StepKind.MIGRATION), ("maintenance", StepKind.MAINTENANCE))
REPLAN = "re-run `netcfg plan` to write a plan whose steps carry `id` and `after`"


@dataclass(frozen=True, slots=True)
class Limits:
    """The plan's `limits`: a safety net over what its dependencies already keep."""

    max_parallel_evacuations: int | None = None
    max_migrations_per_host: int | None = None


@dataclass(frozen=True, slots=True)
class StepGraph:
    steps: tuple[Step, ...]  # in plan order: waves, migrations, maintenance
    limits: Limits
    planned_makespan_s: float
    blocked: bool = False  # the seatbelt blocked the change the plan is of
    unscheduled: tuple[str, ...] = ()  # machines of the change the plan left out

    def by_id(self) -> dict[str, Step]:
        return {s.id: s for s in self.steps}


def read_graph(data: Any, source: str) -> StepGraph:
    """The step graph of a plan file's JSON; InputError listing every problem: a step
    without `id`/`after` (an older plan), a duplicate id, an `after` naming no step, a
    cycle, a malformed field."""
    where = Location(source)
    if not isinstance(data, dict):
        raise InputError([Problem(where, "not a plan file: expected a JSON object")])
    missing = [key for key, _ in SECTIONS if key not in data]
    if missing:
        # A report or any other JSON object would run as a plan of no steps.
        expected = "expected keys waves, migrations, maintenance"
        raise InputError([Problem(where, f"not a plan file: no {', '.join(missing)}", expected)])
    problems: list[Problem] = []
    steps: list[Step] = []
    first_seen: dict[str, str] = {}
    for key, kind in SECTIONS:
        items = data.get(key, [])
        if not isinstance(items, list):
            problems.append(Problem(where, f"{key}: expected a list"))
            continue
        for n, item in enumerate(items):
            path = f"{key}[{n}]"
            step = _step(item, kind, path, where, problems)
            if step is None:
                continue
            if step.id in first_seen:
                problems.append(
                    Problem(where, f"{path}: duplicate step id {quote(step.id)}, also {first_seen[step.id]}")
                )
                continue
            first_seen[step.id] = path
            steps.append(step)
    limits = _limits(data.get("limits"), where, problems)
    blocked, unscheduled, makespan = _notes(data, where, problems)
    if not problems:
        for step in steps:
            for other in step.after:
                if other not in first_seen:
                    problems.append(
                        Problem(where, f"step {quote(step.id)} waits for {quote(other)}, which is no step of the plan")
                    )
    if not problems:
        cycle = find_cycle(steps)
        if cycle:
            shown = " -> ".join(quote(i) for i in cycle)
            problems.append(Problem(where, f"dependency cycle: {shown}", "a plan's `after` edges must not loop"))
    if problems:
        raise InputError(problems)
    if makespan is None:
        makespan = max((s.planned_start_s + s.planned_duration_s for s in steps), default=0.0)
    return StepGraph(tuple(steps), limits, makespan, blocked, unscheduled)


def _notes(
    data: dict[str, Any], where: Location, problems: list[Problem]
) -> tuple[bool, tuple[str, ...], float | None]:
    """What `netcfg plan` writes beside the steps, which `rollout run` tells the operator:
    whether the seatbelt blocked the change, the machines left unscheduled, and the
    makespan. Each is absent, or as the planner writes it: an edited `decision` must not
    silence the seatbelt's warning unseen."""
    from netcfg.impact.model import Decision, decision_problem

    decision = data.get("decision")
    if "decision" in data and (problem := decision_problem(decision)):
        problems.append(Problem(where, problem))
    left = data.get("unscheduled", [])
    if type(left) is not list or not all(type(n) is str for n in left):
        problems.append(Problem(where, f"$.unscheduled: expected a list of machine names, found {quote(left)}"))
        left = []
    makespan = plan_seconds(data.get("makespan_s"))
    if "makespan_s" in data and makespan is None:
        found = quote(data["makespan_s"])
        problems.append(Problem(where, f"$.makespan_s: expected a number of seconds, found {found}"))
    return decision == Decision.BLOCK, tuple(left), makespan


def _step(item: Any, kind: StepKind, path: str, where: Location, problems: list[Problem]) -> Step | None:
    if not isinstance(item, dict):
        problems.append(Problem(where, f"{path}: expected an object"))
        return None
    if "id" not in item or "after" not in item:
        problems.append(Problem(where, f"{path}: no `id` and `after` (a plan written before dependencies)", REPLAN))
        return None
    before = len(problems)
    step_id = item["id"]
    if not _is_name(step_id):
        # An id reaches argv ({id}) and terminals: held to the machines' naming rule, so
        # that it can never be read as an option (`-oProxyCommand=...`) or a second word.
        problems.append(
            Problem(
                where,
                f"{path}: `id` must be a name (letters, digits, '.', '_', '-', not first), not {quote(str(step_id))}",
            )
        )
    after = item["after"]
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        problems.append(Problem(where, f"{path}: `after` must be a list of step ids"))
        after = []
    elif len(set(after)) != len(after):
        after = list(dict.fromkeys(after))  # the same id twice waits once
    start, end = plan_seconds(item.get("start_s")), plan_seconds(item.get("end_s"))
    if start is None or end is None or end < start:
        problems.append(Problem(where, f"{path}: `start_s` and `end_s` must be numbers, end not before start"))
        start = end = 0.0
    vm = source = target = None
    soak: float | None = 0.0
    if kind is StepKind.HOT:
        soak = plan_seconds(item.get("soak_s", 0.0))
        if soak is None or soak < 0:
            problems.append(Problem(where, f"{path}: `soak_s` must be a number, not negative"))
        hosts = item.get("hosts")
        if not isinstance(hosts, list) or not hosts or not all(_is_name(h) for h in hosts):
            problems.append(Problem(where, f"{path}: `hosts` must be a non-empty list of host names"))
            hosts = []
        names = tuple(hosts)
    elif kind is StepKind.MIGRATION:
        vm, source, target = item.get("vm"), item.get("from"), item.get("to")
        if not (_is_name(vm) and _is_name(source) and _is_name(target)):
            problems.append(Problem(where, f"{path}: `vm`, `from` and `to` must be names"))
        names = (str(source), str(target))
    else:
        host = item.get("host")
        if not _is_name(host):
            problems.append(Problem(where, f"{path}: `host` must be a name"))
        names = (str(host),)
    if len(problems) > before:
        return None
    if step_id in after:
        problems.append(Problem(where, f"step {quote(step_id)} waits for itself"))
        return None
    return Step(
        id=step_id,
        kind=kind,
        after=tuple(after),
        hosts=names,
        vm=vm,
        source=source,
        target=target,
        planned_start_s=start,
        planned_duration_s=end - start,
        soak_s=soak or 0.0,
    )


def _is_name(value: Any) -> bool:
    # Host and VM names reach argv elements and URIs (`qemu+ssh://{host}/system`): held
    # to the inventory's own rule, so no plan can slip in an option ('-x'), a user
    # ('a@b') or a path ('a/b').
    return isinstance(value, str) and MACHINE_NAME.fullmatch(value) is not None


def _limits(value: Any, where: Location, problems: list[Problem]) -> Limits:
    if value is None:
        return Limits()
    if not isinstance(value, dict):
        problems.append(Problem(where, "limits: expected an object"))
        return Limits()
    found: dict[str, int | None] = {}
    for key in ("max_parallel_evacuations", "max_migrations_per_host"):
        number = value.get(key)
        if number is not None and (not isinstance(number, int) or isinstance(number, bool) or number < 1):
            problems.append(Problem(where, f"limits.{key}: expected a whole number of at least 1"))
            number = None
        found[key] = number
    return Limits(found["max_parallel_evacuations"], found["max_migrations_per_host"])


def find_cycle(steps: list[Step] | tuple[Step, ...]) -> list[str]:
    """A dependency cycle as ids (the first repeated at the end), or [] when there is
    none. Iterative: a plan of 10,000 migrations must not hit the recursion limit."""
    after = {s.id: s.after for s in steps}
    colour: dict[str, int] = {}  # 1 on the current path, 2 finished
    for root in after:
        if root in colour:
            continue
        path: list[str] = [root]
        stack: list[Iterator[str]] = [iter(after[root])]
        colour[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = 2
                stack.pop()
            elif colour.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif nxt not in colour:
                colour[nxt] = 1
                path.append(nxt)
                stack.append(iter(after[nxt]))
    return []


def levels(steps: tuple[Step, ...]) -> list[list[Step]]:
    """Steps by dependency level: level 0 waits for nothing, level n for steps of levels
    below n, at least one of n - 1. Within a level, by planned start then plan order."""
    by_id = {s.id: s for s in steps}
    level: dict[str, int] = {}
    for step in _topological(steps):
        level[step.id] = 1 + max((level[a] for a in step.after if a in by_id), default=-1)
    grouped: dict[int, list[Step]] = {}
    for step in steps:
        grouped.setdefault(level[step.id], []).append(step)
    order = {s.id: n for n, s in enumerate(steps)}
    return [sorted(grouped[n], key=lambda s: (s.planned_start_s, order[s.id])) for n in sorted(grouped)]


def _topological(steps: tuple[Step, ...]) -> list[Step]:
    by_id = {s.id: s for s in steps}
    waiting = {s.id: sum(1 for a in s.after if a in by_id) for s in steps}
    dependents: dict[str, list[str]] = {}
    for s in steps:
        for a in s.after:
            dependents.setdefault(a, []).append(s.id)
    ready = [s.id for s in steps if waiting[s.id] == 0]
    ordered = []
    while ready:
        current = ready.pop()
        ordered.append(by_id[current])
        for d in dependents.get(current, ()):
            waiting[d] -= 1
            if waiting[d] == 0:
                ready.append(d)
    return ordered


def dependents_of(steps: tuple[Step, ...], roots: set[str]) -> set[str]:
    """Every step that waits, directly or through others, for one of `roots`."""
    dependents: dict[str, list[str]] = {}
    for s in steps:
        for a in s.after:
            dependents.setdefault(a, []).append(s.id)
    found: set[str] = set()
    todo = list(roots)
    while todo:
        for d in dependents.get(todo.pop(), ()):
            if d not in found:
                found.add(d)
                todo.append(d)
    return found
