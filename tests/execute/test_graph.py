"""Reading a plan's step graph: every problem named before anything starts."""

from __future__ import annotations

import pytest

from netcfg.errors import InputError
from netcfg.execute.driver import StepKind
from netcfg.execute.graph import dependents_of, levels, read_graph

from .helpers import hot, maintenance, migration


def plan(waves=(), migrations=(), maint=(), **extra):
    return {"waves": list(waves), "migrations": list(migrations), "maintenance": list(maint), **extra}


def problems(data) -> str:
    with pytest.raises(InputError) as caught:
        read_graph(data, "plan.json")
    return str(caught.value)


def test_steps_of_every_kind_with_their_fields():
    graph = read_graph(
        plan(
            [hot("hot-0", ["web01", "web02"], start=0, end=30)],
            [migration("migrate-0", "vm1", "kvm01", "kvm02", ["hot-0"], start=30, end=90)],
            [maintenance("maint-kvm01", "kvm01", ["migrate-0"], start=90, end=150)],
            makespan_s=150,
            limits={"max_parallel_evacuations": 2, "max_migrations_per_host": 1},
        ),
        "plan.json",
    )
    wave, move, window = graph.steps
    assert (wave.kind, wave.hosts, wave.after) == (StepKind.HOT, ("web01", "web02"), ())
    assert (move.kind, move.vm, move.source, move.target, move.hosts) == (
        StepKind.MIGRATION,
        "vm1",
        "kvm01",
        "kvm02",
        ("kvm01", "kvm02"),
    )
    assert (move.planned_start_s, move.planned_duration_s) == (30.0, 60.0)
    assert (window.kind, window.hosts, window.after) == (StepKind.MAINTENANCE, ("kvm01",), ("migrate-0",))
    assert graph.limits.max_parallel_evacuations == 2 and graph.limits.max_migrations_per_host == 1
    assert graph.planned_makespan_s == 150.0


def test_a_plan_without_ids_is_refused_with_the_way_out():
    old = plan([{"index": 0, "start_s": 0, "end_s": 1, "hosts": ["a"]}], [], [{"host": "b", "start_s": 0, "end_s": 1}])
    text = problems(old)
    assert "waves[0]: no `id` and `after`" in text and "maintenance[0]" in text
    assert "re-run `netcfg plan`" in text
    assert text.count("\n") == 1  # one line per problem, both reported


def test_duplicate_ids_unknown_after_and_self_wait_are_named():
    assert "duplicate step id 'x', also waves[0]" in problems(
        plan([hot("x", ["a"])], [migration("x", "vm", "h1", "h2")])
    )
    assert "step 'm' waits for 'nope', which is no step of the plan" in problems(
        plan([], [migration("m", "vm", "h1", "h2", ["nope"])])
    )
    assert "step 'm' waits for itself" in problems(plan([], [migration("m", "vm", "h1", "h2", ["m"])]))


def test_a_cycle_is_named_step_by_step():
    text = problems(
        plan(
            [hot("a", ["w"], ["c"])],
            [migration("b", "vm", "h1", "h2", ["a"])],
            [maintenance("c", "h1", ["b"]), maintenance("free", "h3")],
        )
    )
    assert "dependency cycle:" in text
    cycle = text.split("dependency cycle: ")[1].split(" (")[0]
    names = cycle.split(" -> ")
    assert names[0] == names[-1] and sorted(set(names)) == ["'a'", "'b'", "'c'"]


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (migration("m", "vm1", "-oProxyCommand=x", "h2"), "`vm`, `from` and `to` must be names"),
        (migration("m", "vm1", "user@h1", "h2"), "`vm`, `from` and `to` must be names"),
        (maintenance("m", "a/b"), "`host` must be a name"),
        (dict(maintenance("m", "h"), start_s="soon"), "must be numbers"),
        (dict(maintenance("m", "h"), start_s=5, end_s=1), "end not before start"),
        (dict(maintenance("m", "h"), after="x"), "`after` must be a list of step ids"),
        (dict(maintenance("m", "h"), id=7), "`id` must be a name"),
        (dict(maintenance("m", "h"), id="-x"), "`id` must be a name"),
    ],
)
def test_malformed_steps(broken, message):
    key = "migrations" if "vm" in broken else "maintenance"
    assert message in problems({"waves": [], "migrations": [], "maintenance": [], key: [broken]})


def test_limits_must_be_whole_numbers():
    assert "limits.max_migrations_per_host: expected a whole number of at least 1" in problems(
        plan(limits={"max_migrations_per_host": 0})
    )
    assert "not a plan file" in problems([])


@pytest.mark.parametrize(
    ("notes", "message"),
    [
        ({"decision": "x"}, "$.decision: expected one of pass, stagger, block, invalid, found 'x'"),
        ({"decision": ["block"]}, "$.decision: expected one of"),
        ({"unscheduled": "kvm02"}, "$.unscheduled: expected a list of machine names, found 'kvm02'"),
        ({"unscheduled": [None]}, "$.unscheduled: expected a list of machine names"),
        ({"makespan_s": "kvm01"}, "$.makespan_s: expected a number of seconds, found 'kvm01'"),
        ({"makespan_s": True}, "$.makespan_s: expected a number of seconds"),
        ({"decision": None}, "$.decision: expected one of"),  # absent is how a plan says "none"
    ],
)
def test_what_rollout_run_tells_from_a_plan_is_as_the_planner_writes_it(notes, message):
    """An edited decision would silence the seatbelt's warning without a word."""
    assert message in problems(plan(**notes))


def test_a_plan_may_leave_its_notes_out():
    assert read_graph(plan(), "plan.json").steps == ()
    assert read_graph(plan(decision="block", unscheduled=["kvm02"], makespan_s=0), "plan.json").steps == ()


def test_levels_and_dependents():
    graph = read_graph(
        plan(
            [hot("h", ["w"])],
            [
                migration("m1", "v1", "a", "b", ["h"], start=5, end=9),
                migration("m0", "v0", "a", "c", ["h"], start=1, end=9),
            ],
            [maintenance("x", "a", ["m0", "m1"]), maintenance("y", "z")],
        ),
        "plan.json",
    )
    assert [[s.id for s in level] for level in levels(graph.steps)] == [["h", "y"], ["m0", "m1"], ["x"]]
    assert dependents_of(graph.steps, {"m1"}) == {"x"}
    assert dependents_of(graph.steps, {"h"}) == {"m0", "m1", "x"}
