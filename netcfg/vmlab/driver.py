"""The qemu driver: `netcfg rollout run PLAN --driver qemu --lab NAME [--jitter LO:HI]`
executes a plan's steps on a VM lab.

- migration: a real live migration (migrate.py) at the link rate the planner assumes,
  min(nic of both ends) x migration_efficiency, scaled; tc shapes each hypervisor's
  link to its full nic, so migrations sharing a link share it. With --jitter LO:HI each
  migration's bandwidth is multiplied by a factor drawn uniformly from [LO, HI]: the
  durations change, the plan's dependencies do not.
- maintenance: the host's link (both ends) goes down for `reconfigure_s` of the plan's
  clock (divided by the lab's speedup), then up again. A machine that is not one of
  the lab's hypervisors (a VM, a router) has nothing in the lab to reconfigure: the
  step only takes its time, so the lab's makespan stays comparable with the plan's.
- hot: succeeds at once. A hot change touches no VM and no link; it is the namespace
  lab (`netcfg lab`) that proves rules and routes.

A step fails (StepResult ok=False, one line saying why) when a migration fails, does not
converge, times out, or when the OOM killer takes any VM on a hypervisor the step
touches, even if the migration itself completed.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from netcfg.errors import InputError, NetcfgError, quote
from netcfg.execute.driver import Step, StepKind, StepResult
from netcfg.problems import Location, Problem
from netcfg.vmlab import net
from netcfg.vmlab import proc as procs
from netcfg.vmlab import state as lab_state
from netcfg.vmlab.migrate import migrate, settle
from netcfg.vmlab.state import LabState

if TYPE_CHECKING:
    from netcfg.execute.drivers import DriverOptions

MIGRATION_TIMEOUT_FACTOR = 10.0  # a migration may take this many times its planned time
MIGRATION_TIMEOUT_MIN_S = 120.0  # ... and at least this long, in the lab


def make_driver(options: DriverOptions, run_dir: str | None = None) -> QemuDriver:
    """The driver registry's factory (netcfg/execute/drivers.py): `--lab NAME`, and
    `--jitter LO:HI` (parsed by the CLI)."""
    if run_dir is None:
        # The factory runs in the CLI, whose settings say where labs live.
        from netcfg.cli import settings

        run_dir = settings.run_dir()
    if not options.lab:
        raise InputError([Problem(Location("--lab"), "--driver qemu needs --lab NAME (a lab `netcfg vmlab up` made)")])
    return QemuDriver(options.lab, run_dir, options.jitter)


@dataclass(slots=True)
class _Running:
    cancelled: threading.Event = field(default_factory=threading.Event)
    result: StepResult | None = None
    thread: threading.Thread | None = None

    def poll(self) -> StepResult | None:
        return self.result

    def cancel(self) -> None:
        self.cancelled.set()


class QemuDriver:
    name = "qemu"

    def __init__(self, lab_name: str, run_dir: str, jitter: tuple[float, float] | None = None, seed: int | None = None):
        state = lab_state.read(lab_name, run_dir)
        if state is None:
            raise InputError(
                [
                    Problem(
                        Location("--lab"),
                        f"VM lab {lab_name!r} is not up",
                        f"netcfg vmlab up INVENTORY --name {lab_name}",
                    )
                ]
            )
        if jitter is not None and not 0 < jitter[0] <= jitter[1]:
            raise InputError([Problem(Location("--jitter"), f"{jitter[0]:g}:{jitter[1]:g} is not 0 < LO <= HI")])
        self.lab = lab_name
        self.run_dir = run_dir
        self.jitter = jitter
        self.scale = state.scale  # fixed for the lab's life (`vmlab up`)
        self._random = random.Random(seed)
        self._random_lock = threading.Lock()
        self._running: list[_Running] = []

    def check_plan(self, steps: Sequence[Step]) -> None:
        """Before anything starts: every migration moves a VM of the lab between its
        hypervisors (found only when the step started, independent steps had run)."""
        state = self._state()
        problems = []
        for step in steps:
            if step.kind is not StepKind.MIGRATION:
                continue
            if step.vm not in state.vms:
                problems.append(f"{step.id}: {quote(step.vm)} is not a VM of lab {self.lab}")
            for host in (step.source, step.target):
                if host is not None and host not in state.hosts:
                    problems.append(f"{step.id}: {quote(host)} is not a hypervisor of lab {self.lab}")
        if problems:
            raise InputError([Problem(Location("--lab"), problem) for problem in problems])

    def start(self, step: Step) -> _Running:
        running = _Running()
        work = {
            StepKind.MIGRATION: self._migration,
            StepKind.MAINTENANCE: self._maintenance,
            StepKind.HOT: self._hot,
        }[step.kind]

        def body() -> None:
            try:
                running.result = work(step, running.cancelled)
            except NetcfgError as error:
                running.result = StepResult(False, str(error).splitlines()[0])
            except Exception as error:  # a bug: the run must still end, saying so
                running.result = StepResult(False, f"internal error: {type(error).__name__}: {error}")

        running.thread = threading.Thread(target=body, name=f"vmlab-{step.id}", daemon=True)
        self._running.append(running)
        running.thread.start()
        return running

    def recheck(self, step: Step) -> StepResult | None:
        state = self._state()
        name = step.vm
        if step.kind is StepKind.MIGRATION and name is not None and name in state.vms and step.target:
            if settle(self.lab, self.run_dir, name):
                return StepResult(True, f"{name} was already arriving on {step.target}: now runs there")
            state = self._state()
            vm = state.vms[name]
            if vm.host == step.target and vm.proc is not None and procs.alive(vm.proc):
                return StepResult(True, f"{name} already runs on {step.target}")
        if step.kind is StepKind.MAINTENANCE:
            host = state.hosts.get(step.hosts[0]) if step.hosts else None
            if host is not None:
                net.set_link(host.netns, state.switch, host.index, up=True)  # interrupted while down
        return None

    def close(self) -> None:
        for running in self._running:
            running.cancel()
        for running in self._running:
            if running.thread is not None:
                running.thread.join(timeout=30)

    def real_seconds(self, plan_seconds: float) -> float:
        """The lab runs the plan's clock `speedup` times faster: a wave's soak too."""
        return self.scale.seconds(plan_seconds)

    def _state(self) -> LabState:
        state = lab_state.read(self.lab, self.run_dir)
        if state is None:
            raise InputError(f"VM lab {self.lab!r} is not up (taken down during the run?)")
        return state

    def _factor(self) -> float:
        if self.jitter is None:
            return 1.0
        with self._random_lock:
            return self._random.uniform(*self.jitter)

    def _migration(self, step: Step, cancelled: threading.Event) -> StepResult:
        state = self._state()
        vm, target = step.vm, step.target
        if vm is None or target is None:
            return StepResult(False, f"{step.id}: a migration without a VM or a target")
        if vm not in state.vms:
            return StepResult(False, f"{vm} is not a VM of lab {self.lab}")
        if target not in state.hosts:
            return StepResult(False, f"{target} is not a hypervisor of lab {self.lab}")
        source = state.vms[vm].host
        if step.source is not None and step.source != source:
            return StepResult(False, f"{vm} runs on {source}, not on {step.source} as the plan says")
        nic = min(state.hosts[source].nic_gbit, state.hosts[target].nic_gbit)
        factor = self._factor()
        rate = state.scale.nic_mib_s(nic) * state.efficiency * factor
        planned = state.scale.seconds(step.planned_duration_s)
        timeout = max(MIGRATION_TIMEOUT_MIN_S, MIGRATION_TIMEOUT_FACTOR * planned)
        outcome = migrate(self.lab, self.run_dir, vm, target, rate, cancel=cancelled, timeout_s=timeout)
        jittered = f" (bandwidth x{factor:.2f})" if self.jitter is not None else ""
        return StepResult(outcome.ok, outcome.detail + jittered)

    def _maintenance(self, step: Step, cancelled: threading.Event) -> StepResult:
        state = self._state()
        seconds = state.scale.seconds(state.reconfigure_s)
        machine = step.hosts[0] if step.hosts else "?"
        host = state.hosts.get(machine)
        if host is None:
            cancelled.wait(seconds)
            return StepResult(not cancelled.is_set(), f"{machine}: not a hypervisor of the lab; {seconds:.1f} s")
        lost_before = set(_lost_on(state, machine))
        net.set_link(host.netns, state.switch, host.index, up=False)
        try:
            cancelled.wait(seconds)
        finally:
            net.set_link(host.netns, state.switch, host.index, up=True)
        lost = sorted(set(_lost_on(self._state(), machine)) - lost_before)
        if lost:
            return StepResult(False, f"{machine}: lost {', '.join(lost)} during its maintenance")
        if cancelled.is_set():
            return StepResult(False, f"{machine}: maintenance cancelled; link up again")
        return StepResult(True, f"{machine}: link down for {seconds:.1f} s, up again")

    def _hot(self, step: Step, cancelled: threading.Event) -> StepResult:
        del cancelled
        return StepResult(True, f"{len(step.hosts)} hosts: a hot change moves no VM and takes no link down")


def _lost_on(state: LabState, host: str) -> list[str]:
    return [v.name for v in state.vms.values() if v.host == host and (v.proc is None or not procs.alive(v.proc))]
