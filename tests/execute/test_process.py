"""Steps as real child processes: their verdict and detail, what they leave behind, and a
wave run once per host a few at a time."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from netcfg.execute.process import FanOutRunning, ProcessRunning

from .helpers import make_stepper

WAIT_S = 60.0


def finish(running):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        result = running.poll()
        if result is not None:
            return result
        time.sleep(0.005)
    raise AssertionError("the step never ended")


def python(code: str) -> list[str]:
    return [sys.executable, "-S", "-c", code]


def test_verdicts_and_details():
    assert finish(ProcessRunning(["true"])).ok
    failed = finish(
        ProcessRunning(python("import sys; print('out'); print('last words', file=sys.stderr); sys.exit(4)"))
    )
    assert (failed.ok, failed.detail) == (False, "exit status 4: last words")
    quiet = finish(ProcessRunning(python("import sys; print('only stdout'); sys.exit(1)")))
    assert quiet.detail == "exit status 1: only stdout"
    killed = finish(ProcessRunning(python("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")))
    assert killed.detail == "killed by SIGKILL"
    missing = finish(ProcessRunning(["/nonexistent/netcfg-step"]))
    assert missing.detail == "cannot run /nonexistent/netcfg-step: No such file or directory"
    noisy = finish(ProcessRunning(python("import sys; sys.stderr.write('\\x1b[31mred\\n'); sys.exit(2)")))
    assert noisy.detail == "exit status 2: \\x1b[31mred"  # escaped: a detail cannot drive a terminal


def test_a_step_has_ended_when_nothing_of_it_runs(tmp_path):
    pid_file = tmp_path / "pid"
    code = (
        "import subprocess, sys; "
        f"p = subprocess.Popen(['sleep', '300']); open({str(pid_file)!r}, 'w').write(str(p.pid))"
    )
    assert finish(ProcessRunning(python(code))).ok
    left = int(pid_file.read_text())
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            os.kill(left, 0)
        except ProcessLookupError:
            break
        # Reaped by init once killed; until then it may linger as a zombie.
        try:
            if Path(f"/proc/{left}/stat").read_text().split(")")[1].split()[0] == "Z":
                break
        except FileNotFoundError:
            break
        time.sleep(0.02)
    else:
        raise AssertionError("what the step left in its session still runs")


def test_cancel_ends_the_step_as_cancelled(tmp_path):
    running = ProcessRunning(python("import time; time.sleep(300)"))
    running.cancel()
    result = finish(running)
    assert (result.ok, result.detail) == (False, "cancelled")


def test_a_wave_runs_a_few_hosts_at_a_time(tmp_path):
    stepper = make_stepper(tmp_path, {f"h{n}": {"sleep": 0.05} for n in range(5)})
    wave = FanOutRunning([(f"h{n}", [sys.executable, "-S", str(stepper.script), f"h{n}"]) for n in range(5)], at_once=2)
    assert finish(wave).ok
    log = sorted(stepper.log(), key=lambda row: row[2])
    assert sorted(step for event, step, _, _ in log if event == "start") == [f"h{n}" for n in range(5)]
    running = peak = 0
    for event, _, _, _ in log:
        running += 1 if event == "start" else -1
        peak = max(peak, running)
    assert peak <= 2


def test_a_wave_starts_no_more_hosts_after_a_failure(tmp_path):
    stepper = make_stepper(tmp_path, {"h1": {"fail": True}})
    hosts = ["h0", "h1", "h2", "h3"]
    wave = FanOutRunning([(h, [sys.executable, "-S", str(stepper.script), h]) for h in hosts], at_once=1)
    result = finish(wave)
    assert (result.ok, result.detail) == (
        False,
        "1 of 4 failed; h1: exit status 3: step h1 failed on purpose; 2 not started",
    )
    assert [step for event, step, _, _ in stepper.log() if event == "start"] == ["h0", "h1"]
