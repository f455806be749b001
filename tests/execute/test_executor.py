"""The executor with drivers that misbehave the way real ones can: a step that never ends
and ignores its cancel (a hung virsh), a driver that raises. The stop requests come from
the driver's own polls, so every test is deterministic."""

from __future__ import annotations

import pytest

from netcfg.errors import InputError
from netcfg.execute.driver import Step, StepResult
from netcfg.execute.executor import State, Stop, run
from netcfg.execute.graph import read_graph
from netcfg.execute.journal import Journal, read_state

from .helpers import hot, maintenance, migration, read_journal


class Hung:
    """A step that never ends and ignores its cancel."""

    def __init__(self, stop: Stop):
        self.stop = stop
        self.polls = 0
        self.cancelled = False

    def poll(self) -> StepResult | None:
        self.polls += 1
        if self.polls == 3:
            self.stop.requests = 1  # Ctrl-C: wait for what runs
        if self.polls == 6:
            self.stop.requests = 2  # again: cancel it
        if (self.cancelled and self.polls >= 9) or self.polls >= 1000:  # 1000: never hang the suite
            self.stop.requests = 3  # and once more: stop waiting
        return None

    def cancel(self) -> None:
        self.cancelled = True


class HungDriver:
    name = "hung"

    def __init__(self, stop: Stop):
        self.stop = stop
        self.started: list[Hung] = []
        self.closed = False

    def start(self, step: Step) -> Hung:
        running = Hung(self.stop)
        self.started.append(running)
        return running

    def recheck(self, step: Step) -> StepResult | None:
        return None

    def close(self) -> None:
        self.closed = True


class Broken:
    """A driver that raises where a real one might (a lost connection)."""

    name = "broken"

    def start(self, step: Step) -> Hung:
        raise ConnectionError("QMP socket closed")

    def recheck(self, step: Step) -> StepResult | None:
        raise ConnectionError("cannot ask")

    def close(self) -> None:
        pass


def graph(*steps):
    migrations = [s for s in steps if "vm" in s]
    maintenance = [s for s in steps if "vm" not in s]
    return read_graph({"waves": [], "migrations": migrations, "maintenance": maintenance}, "plan.json")


def journal(path, resume=False):
    opened = Journal(path, resume=resume)
    return opened


def test_a_third_stop_request_abandons_a_step_that_ignores_its_cancel(tmp_path):
    g = graph(migration("a", "vm1", "kvm1", "kvm3"), maintenance("b", "kvm1", ["a"]))
    stop = Stop()
    driver = HungDriver(stop)
    j = journal(tmp_path / "j")
    j.begin(1, "plan.json", "digest", "hung", False)
    outcome = run(g, driver, j, stop=stop)
    j.close()
    assert driver.started[0].cancelled and driver.closed
    states = {o.step.id: (o.state, o.detail) for o in outcome.steps}
    assert states["a"] == (State.CANCELLED, "abandoned: netcfg stopped waiting for it")
    assert states["b"][0] is State.NOT_STARTED
    assert outcome.interrupted and not outcome.failed
    lines = read_journal(tmp_path / "j")
    assert [(r["event"], r["id"], r["ok"]) for r in lines[1:]] == [("start", "a", None), ("end", "a", False)]


def test_a_driver_that_raises_fails_the_step_not_the_run(tmp_path):
    g = graph(maintenance("a", "kvm1"), maintenance("b", "kvm2"))
    j = journal(tmp_path / "j")
    j.begin(1, "plan.json", "digest", "broken", False)
    outcome = run(g, Broken(), j)
    j.close()
    assert outcome.failed == ("a", "b")  # both started in one pass, before either failed
    assert {o.detail for o in outcome.steps} == {"driver error: ConnectionError: QMP socket closed"}
    ends = [r for r in read_journal(tmp_path / "j") if r["event"] == "end"]
    assert [(r["id"], r["ok"]) for r in ends] == [("a", False), ("b", False)]

    # A recheck that raises means "do not know": the step is run again.
    data = (tmp_path / "j").read_bytes()
    j = journal(tmp_path / "j", resume=True)
    earlier = read_state(data, "j", "digest", {"a", "b"})
    j.begin(2, "plan.json", "digest", "broken", True)
    outcome = run(g, Broken(), j, earlier)
    j.close()
    assert [r["id"] for r in read_journal(tmp_path / "j") if r["run"] == 2 and r["event"] == "start"] == ["a", "b"]


class Instant:
    def poll(self) -> StepResult | None:
        return StepResult(True, "done")

    def cancel(self) -> None:
        pass


class FastClock:
    """Steps that end at once, on a clock 1000 times the plan's (as the VM lab's)."""

    name = "fast"

    def start(self, step: Step) -> Instant:
        return Instant()

    def recheck(self, step: Step) -> StepResult | None:
        return None

    def real_seconds(self, plan_seconds: float) -> float:
        return plan_seconds / 1000

    def close(self) -> None:
        pass


def test_the_steps_after_a_wave_wait_for_its_soak_on_the_drivers_clock(tmp_path):
    plan = read_graph(
        {
            "waves": [
                dict(hot("wave-0", ["a"]), soak_s=300.0),
                hot("wave-1", ["b"], after=["wave-0"], start=301, end=302),
            ],
            "migrations": [],
            "maintenance": [maintenance("maint-c", "c", after=["wave-1"], start=302, end=303)],
        },
        "plan.json",
    )
    assert plan.by_id()["wave-0"].soak_s == 300.0
    opened = journal(tmp_path / "j")
    opened.begin(1, "plan.json", "d", "fast", False)
    outcome = run(plan, FastClock(), opened)
    opened.close()
    assert outcome.complete
    at = {(r["event"], r["id"]): r["t"] for r in read_journal(tmp_path / "j") if "id" in r}
    assert at[("start", "wave-1")] - at[("end", "wave-0")] >= 0.3  # 300 s of the plan's clock
    assert at[("start", "maint-c")] >= at[("end", "wave-1")]


def test_a_negative_soak_is_refused():
    with pytest.raises(InputError, match="soak_s"):
        read_graph({"waves": [dict(hot("w", ["a"]), soak_s=-1)], "migrations": [], "maintenance": []}, "plan.json")


def test_resume_lets_a_finished_wave_soak_for_what_is_left_of_its_soak(tmp_path):
    # Ctrl-C during a canary's soak, then --resume: the next wave started at once.
    from netcfg.execute.journal import parse_wall

    plan = read_graph(
        {
            "waves": [
                dict(hot("wave-0", ["a"]), soak_s=300.0),
                hot("wave-1", ["b"], after=["wave-0"], start=301, end=302),
            ],
            "migrations": [],
            "maintenance": [],
        },
        "plan.json",
    )
    first = journal(tmp_path / "j")
    first.begin(1, "plan.json", "d", "fast", False)
    first.append("start", "wave-0", "hot")
    first.append("end", "wave-0", "hot", True, "done")
    first.close()
    earlier = read_state((tmp_path / "j").read_bytes(), "j", "d", {"wave-0", "wave-1"})
    again = journal(tmp_path / "j", resume=True)
    again.begin(2, "plan.json", "d", "fast", True)
    outcome = run(plan, FastClock(), again, earlier)
    again.close()
    assert outcome.complete
    wall = {(r["event"], r["id"]): parse_wall(r["wall"]) for r in read_journal(tmp_path / "j") if "id" in r}
    assert wall[("start", "wave-1")] - wall[("end", "wave-0")] >= 0.29  # 300 s of the plan's clock


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "j: error: the journal is empty: nothing to resume"),
        (b'{"event": "run", "run": 1, "jour', "j: error: the journal holds only a line cut short: nothing to resume"),
        (b'{"event": "run", "run": 1, "jour\n', "j:1:1: error: not a journal line"),
    ],
)
def test_a_journal_with_nothing_to_resume_says_what_it_holds(data, message):
    with pytest.raises(InputError) as caught:
        read_state(data, "j", "digest", {"a"})
    assert str(caught.value).startswith(message)
