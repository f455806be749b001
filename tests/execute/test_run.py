"""`netcfg rollout run --driver command` end to end: every step a real process (a Python
script the test writes) with randomised durations and injected failures, checked
against the journal and against the steps' own log."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from netcfg.cli import main

from .helpers import (
    check_order,
    hot,
    maintenance,
    make_stepper,
    migration,
    random_plan,
    read_journal,
    write_plan,
)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["rollout", "run", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def all_steps(plan: dict) -> list[dict]:
    return [*plan["waves"], *plan["migrations"], *plan["maintenance"]]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_plans_run_each_step_once_after_its_dependencies(tmp_path, capsys, seed):
    rng = random.Random(seed)
    parts = random_plan(rng, hosts=4, vms=7, waves=2)
    plan_file = write_plan(tmp_path / "plan.json", parts["waves"], parts["migrations"], parts["maint"])
    plan = json.loads(plan_file.read_text())
    ids = [s["id"] for s in all_steps(plan)]
    stepper = make_stepper(tmp_path / "steps", {i: {"sleep": rng.uniform(0.0, 0.06)} for i in ids})

    code, out, err = run(capsys, str(plan_file), "--driver", "command", *stepper.run_options(), "--format", "json")

    assert code == 0, err
    summary = json.loads(out)
    assert set(summary) == {"steps", "makespan_s", "planned_makespan_s", "clock", "failed"}
    assert summary["clock"] == 1.0
    assert [s["id"] for s in summary["steps"]] == ids
    assert {s["state"] for s in summary["steps"]} == {"done"} and summary["failed"] == []
    assert all(s["actual_s"] > 0 and s["planned_s"] == 1.0 for s in summary["steps"])
    assert summary["planned_makespan_s"] == plan["makespan_s"]
    journal = read_journal(tmp_path / "plan.json.journal")
    assert journal[0]["event"] == "run" and journal[0]["plan_sha256"]
    check_order(journal, plan)
    assert sorted(r["id"] for r in journal if r["event"] == "start") == sorted(ids)
    # The steps' own record, on the system-wide monotonic clock: each ran once, and
    # only after every step it waits for had finished.
    log = stepper.log()
    starts = {step: t for event, step, t, _ in log if event == "start"}
    ends = {step: t for event, step, t, _ in log if event == "end"}
    assert sorted(starts) == sorted(ids) and len([r for r in log if r[0] == "start"]) == len(ids)
    for step in all_steps(plan):
        for other in step["after"]:
            assert ends[other] <= starts[step["id"]], (step["id"], other)


def test_a_failure_stops_its_dependents_and_every_new_start(tmp_path, capsys):
    plan_file = write_plan(
        tmp_path / "plan.json",
        migrations=[
            migration("m-fail", "vm1", "kvm1", "kvm3"),
            migration("m-long", "vm2", "kvm2", "kvm3"),
            migration("after-long", "vm3", "kvm2", "kvm3", ["m-long"]),
        ],
        maint=[maintenance("after-fail", "kvm1", ["m-fail"])],
    )
    journal_file = tmp_path / "plan.json.journal"
    # m-long runs on until the executor has journaled m-fail's end: it is certainly
    # running when the failure comes, whatever the machine's load.
    stepper = make_stepper(
        tmp_path / "steps",
        {"m-fail": {"sleep": 0.02, "fail": True}, "m-long": {"until_journal_has": [str(journal_file), "m-fail"]}},
    )
    code, out, err = run(capsys, str(plan_file), "--driver", "command", *stepper.run_options(), "--format", "json")

    assert code == 5, err
    summary = json.loads(out)
    state = {s["id"]: s for s in summary["steps"]}
    assert summary["failed"] == ["m-fail"]
    assert state["m-fail"]["state"] == "failed"
    assert state["m-fail"]["detail"] == "exit status 3: step m-fail failed on purpose"
    assert state["m-long"]["state"] == "done"  # independent and already running: it finished
    assert state["after-fail"]["state"] == "not_started"
    assert state["after-fail"]["detail"] == "waits for m-fail, which did not end OK"
    assert state["after-long"]["state"] == "not_started"  # ready, but nothing starts after a failure
    assert state["after-long"]["detail"] == "not started: the run stopped when m-fail failed"
    assert "failed: m-fail: exit status 3" in err
    journal = read_journal(journal_file)
    fail_end = next(n for n, r in enumerate(journal) if r["event"] == "end" and r["id"] == "m-fail")
    assert not [r for r in journal[fail_end:] if r["event"] == "start"]
    assert {r["id"] for r in journal if r["event"] == "start"} == {"m-fail", "m-long"}


def test_limits_hold_back_steps_the_dependencies_would_let_start(tmp_path, capsys):
    moves = [migration(f"m{n}", f"vm{n}", f"kvm{n % 3}", "kvm9") for n in range(6)]
    limited = write_plan(tmp_path / "limited.json", migrations=moves, limits={"max_parallel_evacuations": 1})
    free = write_plan(tmp_path / "free.json", migrations=moves)
    stepper = make_stepper(tmp_path / "steps", {f"m{n}": {"sleep": 0.01} for n in range(6)})

    code, _, err = run(capsys, str(free), "--driver", "command", *stepper.run_options())
    assert code == 0, err
    journal = read_journal(tmp_path / "free.json.journal")
    first_end = next(n for n, r in enumerate(journal) if r["event"] == "end")
    assert sum(1 for r in journal[:first_end] if r["event"] == "start") == 6  # nothing held them back

    code, _, err = run(capsys, str(limited), "--driver", "command", *stepper.run_options())
    assert code == 0, err
    # From the journal: a host evacuates from its first migration's start to its last's
    # end; never two at once.
    evacuating: set[str] = set()
    left = {f"kvm{h}": 2 for h in range(3)}
    for record in read_journal(tmp_path / "limited.json.journal")[1:]:
        source = f"kvm{int(record['id'][1:]) % 3}"
        if record["event"] == "start":
            evacuating.add(source)
            assert len(evacuating) <= 1, record
        else:
            left[source] -= 1
            if not left[source]:
                evacuating.discard(source)


def test_migrations_per_host_limit(tmp_path, capsys):
    moves = [migration(f"m{n}", f"vm{n}", f"kvm{n}", "kvm9") for n in range(4)]
    plan_file = write_plan(tmp_path / "plan.json", migrations=moves, limits={"max_migrations_per_host": 2})
    stepper = make_stepper(tmp_path / "steps", {f"m{n}": {"sleep": 0.02} for n in range(4)})
    code, _, err = run(capsys, str(plan_file), "--driver", "command", *stepper.run_options())
    assert code == 0, err
    running = 0
    for record in read_journal(tmp_path / "plan.json.journal")[1:]:
        running += 1 if record["event"] == "start" else -1
        assert running <= 2  # every one of them touches kvm9


def test_limits_that_the_dependencies_deadlock_stop_the_run(tmp_path, capsys):
    # One evacuation at a time, yet kvm1's second VM waits for kvm2's: kvm1 holds the
    # slot until it is empty and kvm2 can never start.
    plan_file = write_plan(
        tmp_path / "plan.json",
        migrations=[
            migration("a1", "vm1", "kvm1", "kvm9"),
            migration("b1", "vm2", "kvm2", "kvm9", start=0.5, end=1.5),
            migration("a2", "vm3", "kvm1", "kvm9", ["b1"], start=1.5, end=2.5),
        ],
        limits={"max_parallel_evacuations": 1},
    )
    stepper = make_stepper(tmp_path / "steps")
    code, out, err = run(capsys, str(plan_file), "--driver", "command", *stepper.run_options(), "--format", "json")
    assert code == 5, err
    state = {s["id"]: s for s in json.loads(out)["steps"]}
    assert state["a1"]["state"] == "done"
    assert state["b1"]["state"] == state["a2"]["state"] == "not_started"
    assert "held back: the plan's limits" in state["b1"]["detail"]
    assert "the plan's limits hold back every step that may start" in err


def test_a_hot_template_with_host_runs_once_per_host(tmp_path, capsys):
    plan_file = write_plan(
        tmp_path / "plan.json",
        waves=[hot("hot-0", ["web1", "web2", "web3"])],
        maint=[maintenance("maint-db", "db1", ["hot-0"])],
    )
    stepper = make_stepper(tmp_path / "steps", {"hot-0-web2": {"fail": True}})
    template = f"hot={stepper.template().replace('{id}', '{id}-{host}')}"
    code, out, err = run(
        capsys,
        str(plan_file),
        "--driver",
        "command",
        "--run",
        template,
        "--run",
        "maintenance=true",
        "--format",
        "json",
    )
    assert code == 5, err
    wave = json.loads(out)["steps"][0]
    assert wave["state"] == "failed"
    assert wave["detail"] == "1 of 3 failed; web2: exit status 3: step hot-0-web2 failed on purpose"
    assert sorted(step for event, step, _, _ in stepper.log() if event == "start") == [
        "hot-0-web1",
        "hot-0-web2",
        "hot-0-web3",
    ]


def test_an_id_that_would_be_a_command_line_of_its_own_is_refused_before_anything_runs(tmp_path, capsys):
    plan_file = write_plan(tmp_path / "plan.json", maint=[maintenance("a b; touch pwned", "kvm1")])
    code, _, err = run(capsys, str(plan_file), "--driver", "command", f"--run=maintenance=touch {tmp_path}/{{id}}")
    assert code == 2, err
    assert "`id` must be a name" in err
    assert not list(tmp_path.glob("a*")) and not Path("pwned").exists()


def test_dry_run_prints_levels_and_argv_and_touches_nothing(tmp_path, capsys):
    plan_file = write_plan(
        tmp_path / "plan.json",
        waves=[hot("hot-0", ["web1", "web2"])],
        migrations=[migration("migrate-0", "vm1", "kvm1", "kvm2", ["hot-0"])],
        maint=[maintenance("maint-kvm1", "kvm1", ["migrate-0"])],
    )
    stepper = make_stepper(tmp_path / "steps")
    code, out, err = run(
        capsys,
        str(plan_file),
        "--driver",
        "command",
        "--run",
        "hot=echo apply {hosts}",
        "--run",
        "migration=echo move {vm} {from} {to}",
        "--run",
        "maintenance=echo window {host}",
        "--dry-run",
    )
    assert code == 0, err
    assert out.splitlines() == [
        "level 0: 1 step",
        "  hot-0: hot 2 hosts: web1, web2 (planned 1.00 s)",
        "    $ echo apply web1 web2",
        "level 1: 1 step",
        "  migrate-0: migration vm1 kvm1 -> kvm2 after hot-0 (planned 1.00 s)",
        "    $ echo move vm1 kvm1 kvm2",
        "level 2: 1 step",
        "  maint-kvm1: maintenance kvm1 after migrate-0 (planned 1.00 s)",
        "    $ echo window kvm1",
    ]
    assert not (tmp_path / "plan.json.journal").exists() and stepper.log() == []


def test_the_text_summary_sets_planned_against_actual(tmp_path, capsys):
    plan_file = write_plan(
        tmp_path / "plan.json", maint=[maintenance("maint-a", "a", end=90), maintenance("maint-b", "b")]
    )
    code, out, err = run(capsys, str(plan_file), "--driver", "command", "--run", "maintenance=true")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["step", "kind", "state", "planned", "actual", "detail"]
    assert lines[1].split()[:5] == ["maint-a", "maintenance", "done", "90.0", "s"]
    assert lines[-1].startswith("makespan: planned 90.0 s, actual ") and lines[-1].endswith("2 done")


def test_planned_times_are_shown_on_the_drivers_clock():
    """The VM lab runs the plan's clock 16 times faster: planned 96 s beside actual 8.4 s
    read as a lab 12 times faster than planned."""
    from netcfg.execute.driver import Step, StepKind
    from netcfg.execute.executor import Outcome, State, StepOutcome
    from netcfg.present.execution import summary_dict, summary_lines

    step = Step("migrate-0", StepKind.MIGRATION, (), ("kvm01", "kvm02"), "vm1", "kvm01", "kvm02", 0.0, 96.0)
    outcome = Outcome((StepOutcome(step, State.DONE, 6.5, "ok"),), 6.5, 96.0, False, False, clock=1 / 16)
    summary = summary_dict(outcome)
    assert (summary["steps"][0]["planned_s"], summary["planned_makespan_s"], summary["clock"]) == (6.0, 6.0, 0.0625)
    lines = summary_lines(outcome)
    assert "planned times are on the driver's clock: the plan's x 0.0625" in lines[-1]
    assert "6.00 s" in lines[1] and "96" not in lines[1]
