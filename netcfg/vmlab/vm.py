"""One QEMU process of a lab VM: its files, starting it in its hypervisor's namespace and
cgroup, waiting for its guest, stopping it."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

from netcfg.vmlab import proc as procs
from netcfg.vmlab.guest import Guest, qemu_argv, ready
from netcfg.vmlab.proc import Proc
from netcfg.vmlab.qmp import Qmp, QmpError
from netcfg.vmlab.state import Host, LabState, Vm, lab_dir

BOOT_TIMEOUT_S = 240.0  # under TCG on 2 busy cores a guest filling 256 MiB can take a minute


class VmError(Exception):
    """A VM's QEMU failed to start, boot or stop as expected."""


@dataclass(frozen=True, slots=True)
class Files:
    qmp: str
    serial: str
    log: str


def files(directory: str, vm: Vm, generation: int) -> Files:
    base = os.path.join(directory, f"vm{vm.index}-g{generation}")
    return Files(f"{base}.qmp", f"{base}.serial", f"{base}.log")


def guest_of(vm: Vm) -> Guest:
    return Guest(vm.memory_mib, vm.dirty_mib_s)


def start(
    state: LabState, run_dir: str, vm: Vm, host: Host, generation: int, incoming: str | None = None
) -> tuple[subprocess.Popen[bytes], Proc, Files]:
    """Start `vm`'s QEMU on `host` (as a migration target when `incoming` is given)."""
    where = files(lab_dir(state.name, run_dir), vm, generation)
    for stale in (where.qmp, where.serial):
        try:
            os.unlink(stale)
        except FileNotFoundError:
            pass
    argv = qemu_argv(
        guest_of(vm),
        kernel=state.kernel,
        initramfs=state.initramfs,
        serial=where.serial,
        qmp=where.qmp,
        name=f"vml-{vm.index}-g{generation}",
        incoming=incoming,
    )
    child, started = procs.spawn(
        argv, netns=host.netns, cgroup_procs=os.path.join(host.cgroup, "cgroup.procs"), log=where.log
    )
    return child, started, where


def console(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def last_words(path: str) -> str:
    """The last line written to a QEMU log or a guest's console, for a message."""
    lines = console(path).strip().splitlines()
    return lines[-1] if lines else "no message"


def log_of(serial: str) -> str:
    """The QEMU log beside a guest's console (`files`: vmN-gG.serial, vmN-gG.log)."""
    return serial.removesuffix(".serial") + ".log"


def wait_ready(name: str, started: Proc, where: Files, timeout_s: float = BOOT_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready(console(where.serial)):
        if not procs.alive(started):
            raise VmError(
                f"the QEMU of {name} exited while booting: {last_words(where.log)}"
                f" (its guest's console: {last_words(where.serial)})"
            )
        if time.monotonic() >= deadline:
            raise VmError(f"{name} did not fill its memory within {timeout_s:.0f} s (console: {where.serial})")
        time.sleep(0.2)


def status(qmp: str, timeout_s: float = 5.0) -> str:
    """QEMU's run state (`running`, `inmigrate`, `postmigrate`, ...)."""
    with Qmp(qmp, timeout_s) as monitor:
        return str(monitor.execute("query-status").get("status", ""))


def stop(started: Proc, qmp: str, timeout_s: float = 5.0) -> None:
    """Ask QEMU to quit; kill it when it does not within `timeout_s`."""
    if not procs.alive(started):
        return
    try:
        with Qmp(qmp, 2.0) as monitor:
            monitor.execute("quit")
    except QmpError:
        pass
    deadline = time.monotonic() + timeout_s
    while procs.alive(started) and time.monotonic() < deadline:
        time.sleep(0.05)
    procs.kill(started)  # waits until its memory is free, also when it quit by itself
