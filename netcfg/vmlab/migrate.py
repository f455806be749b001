"""One live migration on the lab, as a hypervisor's agent does it:

1. reserve the VM's QEMU allowance on the target (its cgroup limit grows);
2. start the target QEMU with `-incoming` in the target's namespace and cgroup;
3. on the source's monitor: `migrate-set-parameters` (max-bandwidth, downtime-limit),
   `migrate`, then `query-migrate` every POLL_S, keeping the last statistics (QEMU
   drops them once a migration is cancelled or failed);
4. when the source says `completed`, wait until the *target* says `running` (with a
   shaped link the source finishes while data is still in flight), then quit the
   source and give its allowance back.

A migration that does not converge is cancelled (after NON_CONVERGING_SYNCS dirty
syncs, `remaining` no lower than two syncs before while the guest dirties at least
90 % of the rate sent), as one that fails or runs out of time: the target is killed and
the VM keeps running on its source. Whatever happens, any VM the OOM killer took on the
source or the target meanwhile is named in the outcome.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from netcfg.errors import InputError
from netcfg.vmlab import cgroup, lab
from netcfg.vmlab import proc as procs
from netcfg.vmlab import state as lab_state
from netcfg.vmlab import vm as qemu
from netcfg.vmlab.guest import heartbeats
from netcfg.vmlab.qmp import Qmp, QmpError
from netcfg.vmlab.state import Incoming, LabState
from netcfg.words import plural

POLL_S = 0.25
DOWNTIME_LIMIT_MS = 300  # QEMU's default, and the estimator's DOWNTIME_S
NON_CONVERGING_SYNCS = 4
RUNNING_TIMEOUT_S = 30.0  # from the source's `completed` to the target's `running`
# From `running` to the guest's first heartbeat on the target. TCG translates the guest's
# code afresh there; on 2 loaded cores that took over 15 s in CI.
GUEST_ALIVE_TIMEOUT_S = 40.0
# Heartbeats the guest writes on the target before its source is stopped: a guest broken
# by the transfer can beat once before its kernel trips (CI saw one go silent after).
STEADY_BEATS = 3
HUNG_RETRIES = 3  # a guest that hangs on the target: the migration is undone and run again
BASE_PORT = 10000


class Verdict(StrEnum):
    COMPLETED = "completed"
    NOT_CONVERGING = "not-converging"  # cancelled: the dirty rate keeps up with the link
    FAILED = "failed"  # QEMU gave up (a QEMU killed, the connection lost)
    CANCELLED = "cancelled"  # asked to stop
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    detail: str  # one line
    seconds: float = 0.0  # from `migrate` to the target running (or to the end)
    transferred_mib: float = 0.0
    syncs: int = 0  # QEMU's dirty-sync-count: the rounds of pre-copy
    downtime_ms: float | None = None
    lost: tuple[str, ...] = ()  # VMs the OOM killer took on the source or target meanwhile
    retries: int = 0  # transfers undone because the guest hung on the target

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.COMPLETED and not self.lost


@dataclass(slots=True)
class _Progress:
    """What the source's monitor said while the migration was active."""

    last: dict[str, Any]
    remaining_at_sync: dict[int, int]
    began: float = 0.0  # when `migrate` was issued

    def note(self, info: dict[str, Any]) -> None:
        ram = info.get("ram")
        if isinstance(ram, dict):
            self.last = info
            sync = int(ram.get("dirty-sync-count", 0))
            self.remaining_at_sync.setdefault(sync, int(ram.get("remaining", 0)))

    @property
    def ram(self) -> dict[str, Any]:
        ram = self.last.get("ram")
        return ram if isinstance(ram, dict) else {}

    def not_converging(self) -> bool:
        """After a few rounds, the dirty set no longer shrinks and the guest dirties about
        as fast as the link sends."""
        syncs = sorted(self.remaining_at_sync)
        if len(syncs) < NON_CONVERGING_SYNCS:
            return False
        best_before = min(self.remaining_at_sync[s] for s in syncs[:-2])
        recent = min(self.remaining_at_sync[s] for s in syncs[-2:])
        ram = self.ram
        dirty = float(ram.get("dirty-pages-rate", 0)) * float(ram.get("page-size", 4096))
        sent = float(ram.get("mbps", 0.0)) * 1e6 / 8
        return recent >= best_before and dirty >= 0.9 * sent > 0


def port(vm_index: int, generation: int) -> int:
    return BASE_PORT + vm_index * 16 + generation % 16


def migrate(
    name: str,
    run_dir: str,
    vm_name: str,
    target: str,
    rate_mib_s: float,
    *,
    cancel: threading.Event | None = None,
    timeout_s: float = 600.0,
) -> Outcome:
    """Live-migrate `vm_name` to `target` at most at `rate_mib_s` (lab MiB/s)."""
    stop = cancel or threading.Event()
    state = lab_state.read(name, run_dir)
    if state is None:
        raise InputError(f"VM lab {name!r} is not up")
    problem = _refuse(state, vm_name, target)
    if problem:
        return Outcome(Verdict.FAILED, problem)
    vm = state.vms[vm_name]
    _unpause(vm.qmp)  # a run killed mid-migration may have left the source paused
    source = vm.host
    version = cgroup.Version(state.cgroup_version)
    hosts = (source, target)
    kills_before = {h: cgroup.oom_kills(version, state.hosts[h].cgroup) for h in hosts}
    alive_before = _alive_on(state, hosts)

    attempt = _attempt(name, run_dir, vm_name, target, rate_mib_s, stop, timeout_s)
    retried = 0
    while attempt.hung and retried < HUNG_RETRIES and not stop.is_set():
        retried += 1
        attempt = _attempt(name, run_dir, vm_name, target, rate_mib_s, stop, timeout_s)
    verdict, detail, progress, seconds = attempt.verdict, attempt.detail, attempt.progress, attempt.seconds
    state = lab_state.read(name, run_dir)
    assert state is not None
    lab.apply_limits(state, list(hosts))
    ram = progress.ram
    transferred = float(ram.get("transferred", 0)) / 2**20
    syncs = int(ram.get("dirty-sync-count", 0))
    downtime = float(progress.last["downtime"]) if "downtime" in progress.last else None
    if verdict is Verdict.COMPLETED:
        detail = (
            f"{seconds:.1f} s, {transferred:.0f} MiB sent in {plural(syncs, 'round')} at {rate_mib_s:.1f} MiB/s"
            + (f", downtime {downtime:.0f} ms" if downtime is not None else "")
        )
    if retried:
        detail += f" (migrated again: the guest did not run on the target {plural(retried, 'time')}, docs/vmlab.md)"
    lost = tuple(sorted(set(alive_before) - set(_alive_on(state, hosts))))
    killed = {h: cgroup.oom_kills(version, state.hosts[h].cgroup) - kills_before[h] for h in hosts}
    notes = [f"{h}'s memory cgroup OOM-killed {plural(n, 'process', 'processes')}" for h, n in killed.items() if n > 0]
    if lost:
        notes.append(f"lost {', '.join(lost)}")
        if not any(killed.values()):
            # Not the OOM killer: say what the QEMU or its guest said last.
            notes += [f"{v}: {_last_words(state, v)}" for v in lost]
    line = "; ".join([detail, *notes])
    return Outcome(
        verdict,
        f"{vm_name} {source} -> {target}: {line}",
        seconds,
        transferred,
        syncs,
        downtime,
        lost,
        retried,
    )


@dataclass(slots=True)
class _Attempt:
    verdict: Verdict
    detail: str
    progress: _Progress
    seconds: float
    hung: bool = False  # the guest hung on the target; the source runs on, untouched


def _attempt(
    name: str, run_dir: str, vm_name: str, target: str, rate_mib_s: float, stop: threading.Event, timeout_s: float
) -> _Attempt:
    """One transfer to a new target QEMU. Completed, the VM is recorded on the target;
    otherwise it runs on its source as before."""

    def reserve(current: LabState) -> LabState:
        return current.with_vm(replace(current.vms[vm_name], incoming=Incoming(target, None)))

    state = lab_state.update(name, run_dir, reserve)
    lab.apply_limits(state, [target])
    vm = state.vms[vm_name]
    generation = vm.generation + 1
    host = state.hosts[target]
    uri = f"tcp:{host.address}:{port(vm.index, generation)}"
    child, incoming_proc, where = qemu.start(state, run_dir, vm, host, generation, incoming=uri)
    incoming = Incoming(target, incoming_proc, where.qmp, where.serial)

    def started(current: LabState) -> LabState:
        return current.with_vm(replace(current.vms[vm_name], incoming=incoming))

    lab_state.update(name, run_dir, started)
    version = cgroup.Version(state.cgroup_version)
    kills_before = cgroup.oom_kills(version, host.cgroup)
    progress = _Progress({}, {}, time.monotonic())
    hung = ""
    try:
        verdict, detail = _run(vm.qmp, vm.proc, incoming, uri, rate_mib_s, progress, stop, timeout_s)
    except QmpError as error:
        verdict, detail = Verdict.FAILED, str(error)
        # The target QEMU gone on its own (no OOM kill), its source alive: QEMU's
        # breakage like a guest hung there (docs/vmlab.md), the source still intact.
        if (
            not procs.alive(incoming_proc)
            and vm.proc is not None
            and procs.alive(vm.proc)
            and cgroup.oom_kills(version, host.cgroup) == kills_before
        ):
            hung = f"the target QEMU exited during the migration ({error})"
    seconds = time.monotonic() - progress.began
    if verdict is Verdict.COMPLETED:
        # The source is paused and intact until its guest is seen running on the target.
        hung = _guest_silent(incoming)
    if verdict is Verdict.COMPLETED and not hung:
        _finish(name, run_dir, vm_name, incoming, generation)
    else:
        _abandon(name, run_dir, vm_name, incoming)
        if hung:
            resumed = _resume(vm.qmp)
            verdict, detail = Verdict.FAILED, hung + ("" if resumed else "; the source did not resume either")
    child.poll()  # reaps the target if it died: a zombie is nobody's memory
    return _Attempt(verdict, detail, progress, seconds, hung=bool(hung))


def _resume(qmp: str) -> bool:
    """Run the source again after a completed migration (QEMU allows `cont` in its
    `postmigrate` state): the migration is undone."""
    try:
        with Qmp(qmp, 5.0) as monitor:
            monitor.execute("cont")
        return True
    except QmpError:
        return False


def _finish(name: str, run_dir: str, vm_name: str, incoming: Incoming, generation: int) -> LabState:
    """The VM runs on the target: stop its source, and record it where it now is."""
    before = lab_state.read(name, run_dir)
    assert before is not None
    record = before.vms[vm_name]
    if record.proc is not None:
        qemu.stop(record.proc, record.qmp)

    def moved(current: LabState) -> LabState:
        vm = current.vms[vm_name]
        return current.with_vm(
            replace(
                vm,
                host=incoming.target,
                proc=incoming.proc,
                qmp=incoming.qmp,
                serial=incoming.serial,
                generation=generation,
                incoming=None,
                oom_kills=lab_state.oom_kills(current, incoming.target),
            )
        )

    return lab_state.update(name, run_dir, moved)


def _abandon(name: str, run_dir: str, vm_name: str, incoming: Incoming) -> LabState:
    """The VM stays where it was: kill the target, forget it."""
    if incoming.proc is not None:
        procs.kill(incoming.proc)

    def forgotten(current: LabState) -> LabState:
        return current.with_vm(replace(current.vms[vm_name], incoming=None))

    return lab_state.update(name, run_dir, forgotten)


def settle(name: str, run_dir: str, vm_name: str) -> bool:
    """A migration left half done (its driver died): finish it when the target already
    runs the VM, else abandon it. Whether the VM now runs on the target."""
    state = lab_state.read(name, run_dir)
    if state is None or vm_name not in state.vms:
        return False
    incoming = state.vms[vm_name].incoming
    if incoming is None:
        return False
    running = False
    if incoming.proc is not None and procs.alive(incoming.proc):
        try:
            running = qemu.status(incoming.qmp) == "running"
        except QmpError:
            running = False
    source = state.vms[vm_name].host
    if running:
        state = _finish(name, run_dir, vm_name, incoming, state.vms[vm_name].generation + 1)
    else:
        state = _abandon(name, run_dir, vm_name, incoming)
        _unpause(state.vms[vm_name].qmp)
    lab.apply_limits(state, [source, incoming.target])
    return running


PAUSED_BY_MIGRATION = ("postmigrate", "paused", "finish-migrate")


def _unpause(qmp: str) -> None:
    """Run a source again that a migration left paused (its driver died between the
    transfer and the check on the target): the guest stays where it is, running."""
    try:
        if qemu.status(qmp) in PAUSED_BY_MIGRATION:
            _resume(qmp)
    except QmpError:
        pass  # gone or unresponsive: the migration's own checks say so


def _last_words(state: LabState, vm_name: str) -> str:
    vm = state.vms[vm_name]
    log = qemu.log_of(vm.serial)
    console = [line for line in qemu.console(vm.serial).splitlines() if line.strip()]
    said = qemu.last_words(log)
    return f"QEMU said {said!r}, its console {console[-1] if console else 'nothing'!r}"


def _refuse(state: LabState, vm_name: str, target: str) -> str:
    """Why this migration cannot start, or ''."""
    vm = state.vms.get(vm_name)
    if vm is None:
        return f"{vm_name} is not a VM of lab {state.name}"
    if target not in state.hosts:
        return f"{target} is not a hypervisor of lab {state.name}"
    if vm.proc is None or not procs.alive(vm.proc):
        return f"{vm_name} is lost (its QEMU on {vm.host} is gone)"
    if vm.host == target:
        return f"{vm_name} already runs on {target}"
    if vm.incoming is not None:
        return f"{vm_name} is already migrating to {vm.incoming.target}"
    return ""


def _alive_on(state: LabState, hosts: tuple[str, ...]) -> list[str]:
    return [v.name for v in state.vms.values() if v.host in hosts and v.proc is not None and procs.alive(v.proc)]


def _run(
    source_qmp: str,
    source: procs.Proc | None,
    incoming: Incoming,
    uri: str,
    rate_mib_s: float,
    progress: _Progress,
    stop: threading.Event,
    timeout_s: float,
) -> tuple[Verdict, str]:
    assert incoming.proc is not None and source is not None
    with Qmp(incoming.qmp, 30.0) as target, Qmp(source_qmp, 10.0) as monitor:
        monitor.execute(
            "migrate-set-parameters",
            {"max-bandwidth": max(int(rate_mib_s * 2**20), 1), "downtime-limit": DOWNTIME_LIMIT_MS},
        )
        progress.began = time.monotonic()
        monitor.execute("migrate", {"uri": uri})
        deadline = progress.began + timeout_s
        while True:
            time.sleep(POLL_S)
            info = monitor.execute("query-migrate")
            status = info.get("status")
            progress.note(info)
            if status == "completed":
                progress.last = {**info, "ram": {**progress.ram, **info.get("ram", {})}}
                return _wait_running(target, incoming)
            if status in ("failed", "cancelled"):
                why = info.get("error-desc", "QEMU cancelled it")
                if not procs.alive(incoming.proc):
                    why = f"the target QEMU died ({why})"
                if not procs.alive(source):
                    why = f"the source QEMU died ({why})"
                return (Verdict.FAILED, f"migration {status}: {why}")
            reason = None
            if stop.is_set():
                reason = (Verdict.CANCELLED, "cancelled")
            elif progress.not_converging():
                rate = progress.ram.get("dirty-pages-rate", 0) * progress.ram.get("page-size", 4096) / 2**20
                reason = (
                    Verdict.NOT_CONVERGING,
                    f"not converging after {progress.ram.get('dirty-sync-count')} rounds "
                    f"(dirtied {rate:.1f} MiB/s at {rate_mib_s:.1f} MiB/s): cancelled",
                )
            elif time.monotonic() >= deadline:
                reason = (Verdict.TIMEOUT, f"not done after {timeout_s:.0f} s: cancelled")
            if reason is not None:
                try:
                    monitor.execute("migrate_cancel")
                except QmpError:
                    pass
                return reason


def _guest_silent(incoming: Incoming) -> str:
    """Why the guest does not run on the target although QEMU says `running`, or ''.
    A guest runs when it writes STEADY_BEATS heartbeats on the target's console: QEMU's own state
    says nothing of a guest that hangs in its kernel (docs/vmlab.md, "Known issues")."""
    deadline = time.monotonic() + GUEST_ALIVE_TIMEOUT_S
    while len(beats := heartbeats(qemu.console(incoming.serial))) < STEADY_BEATS:
        if incoming.proc is not None and not procs.alive(incoming.proc):
            return "the target QEMU exited after the migration"
        if time.monotonic() >= deadline:
            after = f" after {plural(len(beats), 'beat')}" if beats else ""
            return f"the guest hangs on the target: no heartbeat{after} in {GUEST_ALIVE_TIMEOUT_S:.0f} s"
        time.sleep(0.1)
    return ""


def _wait_running(target: Qmp, incoming: Incoming) -> tuple[Verdict, str]:
    deadline = time.monotonic() + RUNNING_TIMEOUT_S
    while True:
        status = target.execute("query-status").get("status")
        if status == "running":
            return (Verdict.COMPLETED, "running on the target")
        if time.monotonic() >= deadline or (incoming.proc is not None and not procs.alive(incoming.proc)):
            return (Verdict.FAILED, f"the source completed but the target is {status}, not running")
        time.sleep(0.05)
