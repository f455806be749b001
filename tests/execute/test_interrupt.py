"""Signals, crashes and --resume, with the executor as a real process: SIGTERM waits for
what runs, a second Ctrl-C cancels the running migrations (never a maintenance),
SIGKILL loses nothing the journal recorded, and a resumed run never repeats a step that
finished. Steps wait on gate files the test opens, never on the clock."""

from __future__ import annotations

import fcntl
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from netcfg.cli import main

from .helpers import check_order, hot, maintenance, make_stepper, migration, read_journal, write_plan

WAIT_S = 60.0  # a hang guard for a loaded machine, not a measurement


class Executor:
    """`netcfg rollout run` in a child process, its stderr read line by line."""

    def __init__(self, args: list[str]):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "netcfg", "rollout", "run", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.out: list[str] = []
        # Each pipe has a reader of its own to the end, so neither fills and neither is
        # closed under its reader.
        self.readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_out, daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)

    def _read_out(self) -> None:
        assert self.process.stdout is not None
        self.out.append(self.process.stdout.read())

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"never saw {text!r}; stderr so far: {''.join(self.seen)}")

    def finish(self) -> tuple[int, str]:
        self.process.wait(timeout=WAIT_S)
        for reader in self.readers:
            reader.join(WAIT_S)
        return self.process.returncode, "".join(self.out)

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:  # a failed test leaves no executor behind
            self.process.kill()
            self.process.wait()


def wait_gone(pid: int, within_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def wait_logged(stepper, step: str) -> int:
    """The pid of `step`'s process once it has logged its start."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for event, name, _, pid in stepper.log():
            if event == "start" and name == step:
                return pid
        time.sleep(0.02)
    raise AssertionError(f"{step} never started")


def chain(tmp_path: Path) -> tuple[Path, dict]:
    plan_file = write_plan(
        tmp_path / "plan.json",
        migrations=[
            migration("s1", "vm1", "kvm1", "kvm2"),
            migration("s2", "vm2", "kvm1", "kvm2", ["s1"]),
            migration("s3", "vm3", "kvm1", "kvm2", ["s2"]),
        ],
        maint=[maintenance("s4", "kvm1", ["s3"])],
    )
    return plan_file, json.loads(plan_file.read_text())


def starts(stepper) -> list[str]:
    return [step for event, step, _, _ in stepper.log() if event == "start"]


def test_sigterm_waits_for_the_running_step_and_resume_finishes_the_rest(tmp_path, capsys):
    plan_file, plan = chain(tmp_path)
    gate = tmp_path / "gate"
    stepper = make_stepper(tmp_path / "steps", {"s2": {"gate": str(gate)}})
    with Executor([str(plan_file), "--driver", "command", *stepper.run_options(), "--format", "json"]) as executor:
        try:
            executor.wait_for("start  s2")
            executor.process.send_signal(signal.SIGTERM)
            executor.wait_for(
                "SIGTERM: starting no more steps; waiting for 1 running (Ctrl-C again cancels the running migrations)"
            )
        finally:
            gate.touch()  # s2 may finish now: the executor waited for it
        code, out = executor.finish()
    assert code == 130
    state = {s["id"]: s["state"] for s in json.loads(out)["steps"]}
    assert state == {"s1": "done", "s2": "done", "s3": "not_started", "s4": "not_started"}

    assert main(["rollout", "run", str(plan_file), "--driver", "command", *stepper.run_options(), "--resume"]) == 0
    assert starts(stepper) == ["s1", "s2", "s3", "s4"]  # each exactly once
    journal = read_journal(tmp_path / "plan.json.journal")
    assert [r["run"] for r in journal if r["event"] == "run"] == [1, 2]
    assert [r["id"] for r in journal if r["event"] == "start" and r["run"] == 2] == ["s3", "s4"]
    check_order(journal, plan)
    capsys.readouterr()


def test_resume_first_stops_what_the_killed_executor_left_running(tmp_path, capsys):
    # `sh -c 'sleep & wait'`: the kernel tells only sh of the executor's death.
    plan_file = write_plan(tmp_path / "plan.json", maint=[maintenance("m", "kvm1")])
    pid_file = tmp_path / "sleep.pid"
    marker = tmp_path / "resumed"
    script = f"[ -e {marker} ] && exit 0; sleep 300 & echo $! > {pid_file}; wait"
    run = [str(plan_file), "--driver", "command", "--run", f"maintenance=sh -c '{script}'"]
    with Executor(run) as executor:
        executor.wait_for("start  m")
        deadline = time.monotonic() + WAIT_S
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert time.monotonic() < deadline, "the step never started its sleep"
            time.sleep(0.02)
        grandchild = int(pid_file.read_text())
        executor.process.kill()
        executor.finish()
    try:
        time.sleep(0.3)
        assert not wait_gone(grandchild, 0.2), "nothing was left running: the test proves nothing"
        marker.touch()
        assert main(["rollout", "run", *run, "--resume"]) == 0
        assert re.search(r"stopped \d+ process(es)? the earlier run left running", capsys.readouterr().err)
        assert wait_gone(grandchild), "the step's child outlived the killed executor and the resume"
    finally:
        try:
            os.kill(grandchild, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_sigkill_of_the_executor_then_resume_repeats_no_finished_step(tmp_path, capsys):
    plan_file, plan = chain(tmp_path)
    gate = tmp_path / "gate"
    stepper = make_stepper(tmp_path / "steps", {"s2": {"gate": str(gate)}})
    with Executor([str(plan_file), "--driver", "command", *stepper.run_options()]) as executor:
        executor.wait_for("start  s2")
        orphan = wait_logged(stepper, "s2")
        executor.process.kill()
        executor.finish()
    # The step's process was told to go when the executor died, rather than run on
    # unwatched beside the one --resume starts.
    try:
        assert wait_gone(orphan), "the step outlived the killed executor"
    finally:
        gate.touch()  # should it have outlived it, it ends now
    journal = read_journal(tmp_path / "plan.json.journal")
    assert [(r["event"], r["id"]) for r in journal[1:]] == [("start", "s1"), ("end", "s1"), ("start", "s2")]

    code = main(["rollout", "run", str(plan_file), "--driver", "command", *stepper.run_options(), "--resume"])
    assert code == 0, capsys.readouterr().err
    assert starts(stepper) == ["s1", "s2", "s2", "s3", "s4"]  # s2 again (never ended), s1 not
    journal = read_journal(tmp_path / "plan.json.journal")
    assert [r["id"] for r in journal if r["event"] == "start" and r["run"] == 2] == ["s2", "s3", "s4"]
    check_order(journal, plan)


def test_a_second_ctrl_c_cancels_the_running_steps(tmp_path):
    never = tmp_path / "never"
    plan_file = write_plan(
        tmp_path / "plan.json",
        migrations=[migration("g1", "vm1", "kvm1", "kvm3"), migration("g2", "vm2", "kvm2", "kvm3")],
        maint=[maintenance("m1", "kvm1", ["g1"])],
    )
    stepper = make_stepper(tmp_path / "steps", {"g1": {"gate": str(never)}, "g2": {"gate": str(never)}})
    with Executor([str(plan_file), "--driver", "command", *stepper.run_options(), "--format", "json"]) as executor:
        try:
            pids = [wait_logged(stepper, "g1"), wait_logged(stepper, "g2")]
            executor.process.send_signal(signal.SIGINT)
            executor.wait_for("SIGINT: starting no more steps; waiting for 2 running")
            executor.process.send_signal(signal.SIGINT)
            executor.wait_for("SIGINT again: cancelling 2 running migrations")
            code, out = executor.finish()
        finally:
            never.touch()  # nothing of this test waits forever, whatever failed
    assert code == 130
    steps = {s["id"]: s for s in json.loads(out)["steps"]}
    assert steps["g1"]["state"] == steps["g2"]["state"] == "cancelled"
    assert steps["g1"]["detail"].startswith("cancelled")
    assert steps["m1"]["state"] == "not_started"
    assert all(wait_gone(pid) for pid in pids)
    ends = [r for r in read_journal(tmp_path / "plan.json.journal") if r["event"] == "end"]
    assert sorted(r["id"] for r in ends) == ["g1", "g2"] and not any(r["ok"] for r in ends)


def test_a_second_ctrl_c_cancels_migrations_and_waits_for_a_running_maintenance(tmp_path):
    """Cut short, a maintenance (a reboot, a configuration being applied) could leave its
    host half reconfigured: the second Ctrl-C cancels only the migration beside it."""
    never, gate = tmp_path / "never", tmp_path / "gate"
    plan_file = write_plan(
        tmp_path / "plan.json",
        migrations=[migration("g1", "vm1", "kvm1", "kvm3")],
        maint=[maintenance("m2", "kvm2"), maintenance("m1", "kvm1", ["g1"])],
    )
    stepper = make_stepper(tmp_path / "steps", {"g1": {"gate": str(never)}, "m2": {"gate": str(gate)}})
    with Executor([str(plan_file), "--driver", "command", *stepper.run_options(), "--format", "json"]) as executor:
        try:
            wait_logged(stepper, "g1")
            wait_logged(stepper, "m2")
            executor.process.send_signal(signal.SIGINT)
            executor.wait_for("SIGINT: starting no more steps; waiting for 2 running")
            executor.process.send_signal(signal.SIGINT)
            executor.wait_for("SIGINT again: cancelling 1 running migration; waiting for 1 running step")
            executor.wait_for("g1")  # its end: cancelled
            assert executor.process.poll() is None  # still waiting for m2
            gate.touch()
            code, out = executor.finish()
        finally:
            never.touch()
            gate.touch()
    assert code == 130
    steps = {s["id"]: s for s in json.loads(out)["steps"]}
    assert steps["g1"]["state"] == "cancelled" and steps["m2"]["state"] == "done"
    assert steps["m1"]["state"] == "not_started"


def test_a_stop_request_starts_no_more_hosts_of_a_hot_wave(tmp_path, capsys):
    """A hot wave runs its template host by host, 32 at a time: after Ctrl-C the hosts
    already changing finish and no other host starts (two Ctrl-Cs used to push the
    change to every host left). The wave is not done: --resume runs it again."""
    from netcfg.execute.process import FAN_OUT

    hosts = [f"web{i:02}" for i in range(FAN_OUT + 8)]
    plan_file = write_plan(tmp_path / "plan.json", waves=[hot("hot-0", hosts)], maint=[maintenance("m", "kvm1")])
    log, gate = tmp_path / "started", tmp_path / "gate"
    template = f"hot=sh -c 'echo $0 >> {log}; while [ ! -e {gate} ]; do sleep 0.05; done' {{host}}"
    args = [str(plan_file), "--driver", "command", "--run", template, "--run", "maintenance=true", "--format", "json"]
    with Executor(args) as executor:
        try:
            deadline = time.monotonic() + WAIT_S
            while (not log.exists() or len(log.read_text().split()) < FAN_OUT) and time.monotonic() < deadline:
                time.sleep(0.02)
            executor.process.send_signal(signal.SIGINT)
            executor.wait_for("SIGINT: starting no more steps")
        finally:
            gate.touch()
        code, out = executor.finish()
    assert code == 130
    assert len(log.read_text().split()) == FAN_OUT
    steps = {s["id"]: s for s in json.loads(out)["steps"]}
    assert steps["hot-0"]["state"] == "cancelled" and steps["hot-0"]["detail"] == "stopped; 8 not started"
    log.unlink()
    assert main(["rollout", "run", *args[:-2], "--resume"]) == 0
    assert sorted(log.read_text().split()) == hosts


def test_resume_refuses_a_journal_of_another_plan(tmp_path, capsys):
    plan_file = write_plan(tmp_path / "plan.json", maint=[maintenance("a", "kvm1")])
    assert main(["rollout", "run", str(plan_file), "--driver", "command", "--run", "maintenance=false"]) == 5
    journal_digest = read_journal(tmp_path / "plan.json.journal")[0]["plan_sha256"]
    write_plan(plan_file, maint=[maintenance("a", "kvm1"), maintenance("b", "kvm2")])
    capsys.readouterr()
    code = main(["rollout", "run", str(plan_file), "--driver", "command", "--run", "maintenance=true", "--resume"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"the journal is of another plan: journal plan sha256 '{journal_digest}'" in err
    import hashlib

    assert hashlib.sha256(plan_file.read_bytes()).hexdigest() in err


def test_journal_guards(tmp_path, capsys):
    plan_file = write_plan(tmp_path / "plan.json", maint=[maintenance("a", "kvm1")])
    args = ["rollout", "run", str(plan_file), "--driver", "command", "--run", "maintenance=true"]
    assert main([*args, "--resume"]) == 2
    assert "plan.json.journal: error: no journal to resume" in capsys.readouterr().err
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    assert "the journal exists: a run was started with it (--resume to continue it" in capsys.readouterr().err
    other = tmp_path / "other.journal"
    with open(other, "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        assert main([*args, "--journal", str(other)]) == 2
    assert "another `netcfg rollout run` is using this journal" in capsys.readouterr().err


def test_resume_drops_a_line_torn_by_a_crash(tmp_path, capsys):
    plan_file = write_plan(tmp_path / "plan.json", maint=[maintenance("a", "kvm1"), maintenance("b", "kvm2", ["a"])])
    stepper = make_stepper(tmp_path / "steps", {"b": {"fail": True}})
    assert main(["rollout", "run", str(plan_file), "--driver", "command", *stepper.run_options()]) == 5
    journal_file = tmp_path / "plan.json.journal"
    with open(journal_file, "a") as handle:
        handle.write('{"event": "start", "run": 1, "id": "b", "ki')  # the crash came mid-write
    stepper.configure({})
    code = main(["rollout", "run", str(plan_file), "--driver", "command", *stepper.run_options(), "--resume"])
    assert code == 0, capsys.readouterr().err
    journal = read_journal(journal_file)  # every line parses: the torn one is gone
    assert [(r["event"], r["id"], r["ok"]) for r in journal if r["run"] == 2 and r["event"] != "run"] == [
        ("start", "b", None),
        ("end", "b", True),
    ]
    assert starts(stepper) == ["a", "b", "b"]
