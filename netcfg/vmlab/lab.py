"""`vmlab up`, `status`, `down`: the lab as a whole.

Per KVM host of the inventory: a network namespace whose link is shaped to its
`nic_gbit` (scaled), and a memory cgroup whose limit is its `memory_gib` (scaled) plus
ALLOWANCE_MIB for every VM it holds or receives: what QEMU itself charges to the
cgroup (TCG code cache, heap, page tables; 42-50 MiB measured, its libraries being
shared page cache), which a real hypervisor's capacity does not count. The limit
follows the VMs: a migration's target gets the allowance when the migration starts,
its source gives it back when the VM has left. What the guests
hold is exactly the inventory's memory, scaled, so a host that receives more VM
memory than it has runs out of memory as in 2017, and the kernel's OOM killer
picks a VM. A VM whose QEMU died is `lost`, and stays lost: the lab never restarts one.
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType

from netcfg import terminations
from netcfg.errors import InputError
from netcfg.model.host import Kind
from netcfg.model.inventory import Inventory
from netcfg.problems import Problem
from netcfg.rollout.estimate import nic_of
from netcfg.vmlab import artefacts, cgroup, net
from netcfg.vmlab import proc as procs
from netcfg.vmlab import state as lab_state
from netcfg.vmlab import vm as qemu
from netcfg.vmlab.guest import MIN_GUEST_MIB, QEMU
from netcfg.vmlab.scale import MAX_LINK_MIB_S, Scale
from netcfg.vmlab.state import Host, LabState, Vm, check_name, lab_dir
from netcfg.words import plural

ALLOWANCE_MIB = 64  # per VM held or received: QEMU's own memory, 42-50 MiB measured
SILENT_S = 60.0  # a guest whose console is silent this long is hung (it beats every second)
BOOT_BATCH = 4  # guests booting at once: 2 cores are the limit (docs/vmlab.md)
Say = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


class VmState(StrEnum):
    RUNNING = "running"
    MIGRATING = "migrating"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class VmStatus:
    name: str
    host: str
    state: VmState
    reason: str = ""  # why a lost VM is lost: its QEMU gone, or its guest silent


@dataclass(frozen=True, slots=True)
class HostStatus:
    name: str
    used_mib: int
    limit_mib: int


@dataclass(frozen=True, slots=True)
class Status:
    vms: tuple[VmStatus, ...]
    hosts: tuple[HostStatus, ...]

    def to_dict(self) -> dict[str, list[dict[str, object]]]:
        return {
            "vms": [
                {"name": v.name, "host": v.host, "state": v.state.value, **({"reason": v.reason} if v.reason else {})}
                for v in self.vms
            ],
            "hosts": [{"name": h.name, "used_mib": h.used_mib, "limit_mib": h.limit_mib} for h in self.hosts],
        }


def require_root_and_qemu() -> None:
    if os.geteuid() != 0:
        raise InputError("netcfg vmlab needs root: it creates network namespaces, cgroups and QEMU processes")
    if shutil.which(QEMU) is None:
        raise InputError(f"{QEMU} is not installed (apt-get install qemu-system-x86)")
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            raise InputError(f"{tool} is not installed (apt-get install iproute2)")


def hierarchy() -> cgroup.Hierarchy:
    found = cgroup.detect()
    if found is None:
        raise InputError("no memory cgroup controller is mounted (cgroup v1 `memory` or v2 with `memory`)")
    return found


def up(
    inventory: Inventory,
    name: str,
    *,
    hosts: Sequence[str] = (),
    scale: Scale = Scale(),
    run_dir: str,
    cache_dir: str,
    say: Say = _quiet,
) -> LabState:
    """Build the lab and boot every VM; on any failure or interrupt remove what was made."""
    check_name(name)
    require_root_and_qemu()
    tree = hierarchy()
    if lab_state.read(name, run_dir) is not None:
        raise InputError(f"VM lab {name!r} is already up; run `netcfg vmlab down --name {name}` first")
    chosen = _select(inventory, hosts, scale)
    files = artefacts.ensure(cache_dir)
    leftovers = [ns for ns in _lab_namespaces(name) if ns]
    if leftovers:
        raise InputError(f"namespaces of an earlier VM lab {name!r} remain ({', '.join(leftovers)}); run down first")
    _check_memory(inventory, chosen, scale)
    directory = lab_dir(name, run_dir)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    switch = net.switch_netns(name)
    host_records = {
        h: Host(
            name=h,
            index=i,
            netns=net.host_netns(name, i),
            cgroup=tree.group(name, f"h{i}"),
            address=net.address(i),
            memory_mib=scale.memory_mib(inventory.machines[h].memory_gib or 0.0),
            nic_gbit=nic_of(inventory.machines[h]),
            link_mib_s=scale.nic_mib_s(nic_of(inventory.machines[h])),
        )
        for i, h in enumerate(chosen)
    }
    vm_names = [v.name for h in chosen for v in inventory.vms_of(h)]
    vm_records = {
        v: Vm(
            name=v,
            index=i,
            host=inventory.machines[v].host or "",
            memory_mib=scale.memory_mib(inventory.machines[v].memory_gib or 0.0),
            dirty_mib_s=scale.rate_mib_s(inventory.machines[v].dirty_mib_s or 0.0),
            generation=0,
        )
        for i, v in enumerate(vm_names)
    }
    state = LabState(
        name=name,
        # Absolute, so the lab's inventory is found from anywhere.
        inventory=os.path.abspath(inventory.source) if os.path.exists(inventory.source) else inventory.source,
        scale=scale,
        allowance_mib=ALLOWANCE_MIB,
        efficiency=inventory.policy.rollout.migration_efficiency,
        reconfigure_s=float(inventory.policy.rollout.reconfigure_s),
        cgroup_version=int(tree.version),
        cgroup_root=tree.group(name),
        kernel=files.kernel,
        initramfs=files.initramfs,
        switch=switch,
        hosts=MappingProxyType(host_records),
        vms=MappingProxyType(vm_records),
    )
    # Recorded before anything is created: `down` finds everything even if `up` is
    # killed half way.
    with lab_state.locked(name, run_dir):
        lab_state.write(state, run_dir)
    try:
        with terminations.raised(f"VM lab {name}: up"):
            _build(state, tree, say)
            _boot(state, run_dir, say)
    except BaseException:
        say(f"VM lab {name}: up failed, removing what was made")
        with terminations.deferred():
            down(name, run_dir=run_dir)
        raise
    final = lab_state.read(name, run_dir)
    assert final is not None
    return final


def _select(inventory: Inventory, globs: Sequence[str], scale: Scale) -> list[str]:
    chosen = [
        m.name
        for m in inventory.machines.values()
        if m.kind is Kind.KVM_HOST and (not globs or any(fnmatch.fnmatchcase(m.name, g) for g in globs))
    ]
    if not chosen:
        what = f"matching {' '.join(map(repr, globs))}" if globs else "in the inventory"
        raise InputError(f"no KVM host {what}: nothing to build a VM lab of")
    if len(chosen) > net.MAX_HOSTS:
        raise InputError(f"{len(chosen)} KVM hosts: the VM lab holds at most {net.MAX_HOSTS}")
    problems = []
    for h in chosen:
        host = inventory.machines[h]
        link = scale.nic_mib_s(nic_of(host))
        if link > MAX_LINK_MIB_S:
            problems.append(
                Problem(
                    host.location,
                    f"KVM host '{h}' would get a {link:,.0f} MiB/s link at --scale {scale.mib_per_gib:g} and"
                    f" --speedup {scale.speedup:g}; the lab shapes links up to {MAX_LINK_MIB_S:,} MiB/s",
                    "choose a smaller --scale or --speedup",
                )
            )
        if not host.memory_gib:
            problems.append(Problem(host.location, f"KVM host '{h}' has no memory_gib: its lab cgroup needs a limit"))
        for v in inventory.vms_of(h):
            mib = scale.memory_mib(v.memory_gib or 0.0)
            if mib < MIN_GUEST_MIB:
                least = math.ceil(MIN_GUEST_MIB / v.memory_gib) if v.memory_gib else None
                hint = f"--scale {least} or more" if least else "give it memory_gib"
                problems.append(
                    Problem(
                        v.location,
                        f"VM '{v.name}' would get {mib} MiB at {scale.mib_per_gib:g} MiB per GiB; "
                        f"a lab guest needs at least {MIN_GUEST_MIB} MiB",
                        hint,
                    )
                )
    if problems:
        raise InputError(problems)
    return chosen


def _check_memory(inventory: Inventory, chosen: Sequence[str], scale: Scale) -> None:
    """Refuse a lab this machine cannot hold, before booting half of it."""
    need = sum(scale.memory_mib(v.memory_gib or 0.0) + ALLOWANCE_MIB for h in chosen for v in inventory.vms_of(h))
    available = _available_mib()
    if available is not None and need > 0.8 * available:
        raise InputError(
            f"the VM lab needs about {need} MiB for its {plural(sum(len(inventory.vms_of(h)) for h in chosen), 'VM')}"
            f" but this machine has {available} MiB available; choose a smaller --scale or fewer --hosts"
        )


def _available_mib() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def _build(state: LabState, tree: cgroup.Hierarchy, say: Say) -> None:
    net.create_switch(state.switch)
    for host in state.hosts.values():
        net.create_host(host.netns, state.switch, host.index, host.link_mib_s)
        tree.create(host.cgroup, limit_mib(state, host.name) << 20)
    say(
        f"VM lab {state.name}: {plural(len(state.hosts), 'hypervisor')} as namespaces and memory cgroups "
        f"(cgroup v{state.cgroup_version})"
    )


def _boot(state: LabState, run_dir: str, say: Say) -> None:
    vms = list(state.vms.values())
    for first in range(0, len(vms), BOOT_BATCH):
        batch = vms[first : first + BOOT_BATCH]
        started = []
        for vm in batch:
            _, begun, where = qemu.start(state, run_dir, vm, state.hosts[vm.host], 0)
            kills = lab_state.oom_kills(state, vm.host)
            record_vm(state.name, run_dir, replace(vm, proc=begun, qmp=where.qmp, serial=where.serial, oom_kills=kills))
            started.append((vm, begun, where))
        for vm, begun, where in started:
            try:
                qemu.wait_ready(vm.name, begun, where)
            except qemu.VmError as error:
                raise InputError(f"VM lab {state.name}: {error}") from None
        say(f"VM lab {state.name}: {first + len(batch)} of {plural(len(vms), 'VM')} running")


def add_vm(name: str, run_dir: str, vm_name: str, host: str, memory_mib: int, dirty_mib_s: float) -> Vm:
    """Boot one more VM on `host` (lab units, not the inventory's): calibrate's guests,
    one at a time."""
    state = lab_state.read(name, run_dir)
    if state is None:
        raise InputError(f"VM lab {name!r} is not up")
    if vm_name in state.vms:
        raise InputError(f"VM lab {name}: {vm_name} exists already")
    # Never an index a removed VM had: its files (console, log) stay for a post-mortem.
    used = [int(m.group(1)) for f in os.listdir(lab_dir(name, run_dir)) if (m := re.match(r"vm(\d+)-g", f))]
    index = max([v.index for v in state.vms.values()] + used, default=-1) + 1
    vm = Vm(vm_name, index, host, memory_mib, dirty_mib_s, 0)
    state = record_vm(name, run_dir, vm)  # its allowance first, then its QEMU
    apply_limits(state, [host])
    _, begun, where = qemu.start(state, run_dir, vm, state.hosts[host], 0)
    vm = replace(vm, proc=begun, qmp=where.qmp, serial=where.serial, oom_kills=lab_state.oom_kills(state, host))
    record_vm(name, run_dir, vm)
    try:
        qemu.wait_ready(vm_name, begun, where)
    except qemu.VmError as error:
        raise InputError(f"VM lab {name}: {error}") from None
    return vm


def remove_vm(name: str, run_dir: str, vm_name: str) -> None:
    """Stop a VM and forget it."""
    state = lab_state.read(name, run_dir)
    if state is None or vm_name not in state.vms:
        return
    vm = state.vms[vm_name]
    if vm.proc is not None:
        qemu.stop(vm.proc, vm.qmp)

    def forgotten(current: LabState) -> LabState:
        return replace(current, vms=MappingProxyType({k: v for k, v in current.vms.items() if k != vm_name}))

    state = lab_state.update(name, run_dir, forgotten)
    apply_limits(state, [vm.host])


def record_vm(name: str, run_dir: str, vm: Vm) -> LabState:
    """Write `vm`'s new record into the lab's state."""

    def change(current: LabState) -> LabState:
        return current.with_vm(vm)

    return lab_state.update(name, run_dir, change)


def limit_mib(state: LabState, host: str) -> int:
    """The host's cgroup limit: its memory plus the allowance of every VM it holds (a lost
    one holds nothing) or receives."""
    held = sum(1 for v in state.vms.values() if v.host == host and (v.proc is None or procs.alive(v.proc)))
    arriving = sum(1 for v in state.vms.values() if v.incoming is not None and v.incoming.target == host)
    return state.hosts[host].memory_mib + state.allowance_mib * (held + arriving)


def apply_limits(state: LabState, hosts: Sequence[str]) -> None:
    """Set the limits of `hosts` to what their VMs need now."""
    version = cgroup.Version(state.cgroup_version)
    for h in hosts:
        cgroup.set_limit(version, state.hosts[h].cgroup, limit_mib(state, h) << 20)


def status(name: str, run_dir: str) -> Status:
    state = lab_state.read(name, run_dir)
    if state is None:
        raise InputError(f"VM lab {name!r} is not up; run `netcfg vmlab up INVENTORY --name {name}` first")
    return status_of(state)


def status_of(state: LabState) -> Status:
    version = cgroup.Version(state.cgroup_version)
    vms = []
    for v in state.vms.values():
        reason = ""
        if v.proc is None or not procs.alive(v.proc):
            vm_state, reason = VmState.LOST, _gone(state, v)
        elif v.incoming is not None:
            vm_state = VmState.MIGRATING
        elif _silent(v.serial):
            # Its QEMU runs, its guest does not (docs/vmlab.md, "Known issues").
            vm_state, reason = VmState.LOST, f"its guest is silent: {qemu.last_words(v.serial)!r}"
        else:
            vm_state = VmState.RUNNING
        vms.append(VmStatus(v.name, v.host, vm_state, reason))
    hosts = []
    for h in state.hosts.values():
        try:
            used, limit = cgroup.usage(version, h.cgroup), cgroup.limit(version, h.cgroup)
        except OSError:
            used = limit = 0
        hosts.append(HostStatus(h.name, round(used / 2**20), round(limit / 2**20)))
    return Status(tuple(vms), tuple(hosts))


def _gone(state: LabState, vm: Vm) -> str:
    """Why a VM's QEMU is gone, as far as the lab can tell: the OOM killer (a kill on its
    host since it began to run there), or QEMU's own last words and its guest's (QEMU runs
    -no-reboot, so a guest kernel that panics takes its QEMU with it, and only the
    console says so)."""
    kills = lab_state.oom_kills(state, vm.host) - vm.oom_kills
    if kills > 0:
        return (
            f"its QEMU is gone; {vm.host}'s memory cgroup OOM-killed {plural(kills, 'process', 'processes')}"
            " since it began to run there"
        )
    return (
        f"its QEMU is gone; its log's last line: {qemu.last_words(qemu.log_of(vm.serial))!r},"
        f" its console's: {qemu.last_words(vm.serial)!r}"
    )


def _silent(console: str) -> bool:
    """Whether a guest has written nothing on its console for SILENT_S: a live guest
    writes its heartbeat every second."""
    try:
        return time.time() - os.stat(console).st_mtime > SILENT_S
    except FileNotFoundError:
        return False


def down(name: str, *, run_dir: str, say: Say = _quiet) -> list[str]:
    """Remove the lab: its processes, cgroups, namespaces and run directory; what was
    removed. Works from the state file, and by the lab's names when that is damaged or
    gone, so a crash at any point leaves nothing behind."""
    check_name(name)
    removed = []
    try:
        state = lab_state.read(name, run_dir)
    except InputError:
        state = None  # damaged: the names below still find everything
    tree = cgroup.detect()
    if state is not None and tree is not None:
        for v in state.vms.values():
            for p in (v.proc, v.incoming.proc if v.incoming is not None else None):
                # Only a process of the lab's own cgroups: a pid reused by another.
                if p is not None and procs.alive(p) and cgroup.holds(state.cgroup_root, p.pid, tree):
                    procs.kill(p)
                    removed.append(f"process {p.pid}")
    groups = {state.cgroup_root} if state is not None else set()
    if tree is not None:
        groups.add(tree.group(name))
    for group in sorted(groups):
        if cgroup.remove(group):
            removed.append(f"cgroup {group}")
    for ns in _lab_namespaces(name):
        if net.delete_netns(ns):
            removed.append(f"namespace {ns}")
    directory = lab_dir(name, run_dir)
    if os.path.isdir(directory):
        shutil.rmtree(directory)
        removed.append(f"directory {directory}")
    say(f"VM lab {name}: {'removed ' + plural(len(removed), 'item') if removed else 'not up'}")
    return removed


def _lab_namespaces(name: str) -> list[str]:
    """The namespaces named like lab `name`'s, exactly: another lab's ("a-h1" against
    "a") never matches."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    pattern = re.compile(rf"vml-{re.escape(name)}-(sw|h\d+)")
    names = [line.split()[0] for line in listed.splitlines() if line.split()]
    # Hosts first, the switch last: deleting a namespace deletes its veth ends.
    return sorted((n for n in names if pattern.fullmatch(n)), key=lambda n: n.endswith("-sw"))
