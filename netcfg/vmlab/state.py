"""The VM lab's state file: what the lab made and where every VM runs.

RUN_DIR/vmlab/NAME/state.json (RUN_DIR: /run/netcfg, `NETCFG_RUN_DIR`) sits beside the
QEMU monitors, consoles and logs of the lab, in that same directory. It is written
before anything is created and after every change, atomically and under a lock
(`state.lock`, one flock per update, so threads of one driver and separate commands
serialise alike), so `status` and `down` work after any crash.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from netcfg import limits
from netcfg.errors import InputError, damage, quote
from netcfg.files import read_json, write_atomic
from netcfg.problems import Location, Problem
from netcfg.vmlab import cgroup, net
from netcfg.vmlab.proc import Proc
from netcfg.vmlab.scale import Scale

UNIX_PATH_MAX = 107  # a unix socket's path, without its terminating NUL


@dataclass(frozen=True, slots=True)
class Host:
    name: str  # the inventory's
    index: int  # names the namespace and the cgroup: inventory strings never reach the kernel
    netns: str
    cgroup: str  # the memory cgroup's directory
    address: str
    memory_mib: int  # capacity, scaled
    nic_gbit: float  # the inventory's link speed
    link_mib_s: float  # what tc shapes its link to


@dataclass(frozen=True, slots=True)
class Incoming:
    """A migration in flight: the target QEMU waiting for or receiving the VM."""

    target: str
    proc: Proc | None  # None while the target's memory is reserved and its QEMU not started
    qmp: str = ""
    serial: str = ""


@dataclass(frozen=True, slots=True)
class Vm:
    name: str
    index: int
    host: str
    memory_mib: int  # the guest's RAM (-m)
    dirty_mib_s: float  # scaled
    generation: int  # how many times it moved: names its monitor and console files
    proc: Proc | None = None  # None until its QEMU is started
    qmp: str = ""
    serial: str = ""
    incoming: Incoming | None = None
    # Its host cgroup's OOM kills when it began to run there: a later one may be its death.
    oom_kills: int = 0


@dataclass(frozen=True, slots=True)
class LabState:
    name: str
    inventory: str
    scale: Scale
    allowance_mib: int  # per VM resident or arriving: QEMU's own memory
    efficiency: float  # migration_efficiency of the inventory's rollout policy
    reconfigure_s: float  # the inventory's, on the plan's clock
    cgroup_version: int
    cgroup_root: str  # the lab's own group: every host's group is below it
    kernel: str
    initramfs: str
    switch: str
    hosts: Mapping[str, Host] = field(default_factory=dict)
    vms: Mapping[str, Vm] = field(default_factory=dict)

    def with_vm(self, vm: Vm) -> LabState:
        return replace(self, vms=MappingProxyType({**self.vms, vm.name: vm}))

    def namespaces(self) -> list[str]:
        return [self.switch, *(h.netns for h in self.hosts.values())]

    def to_json(self) -> str:
        def proc(p: Proc | None) -> dict[str, int] | None:
            return p.to_json() if p else None

        data = {
            "name": self.name,
            "inventory": self.inventory,
            "scale": {"mib_per_gib": self.scale.mib_per_gib, "speedup": self.scale.speedup},
            "allowance_mib": self.allowance_mib,
            "efficiency": self.efficiency,
            "reconfigure_s": self.reconfigure_s,
            "cgroup": {"version": self.cgroup_version, "root": self.cgroup_root},
            "kernel": self.kernel,
            "initramfs": self.initramfs,
            "switch": self.switch,
            "hosts": [
                {
                    "name": h.name,
                    "index": h.index,
                    "netns": h.netns,
                    "cgroup": h.cgroup,
                    "address": h.address,
                    "memory_mib": h.memory_mib,
                    "nic_gbit": h.nic_gbit,
                    "link_mib_s": h.link_mib_s,
                }
                for h in self.hosts.values()
            ],
            "vms": [
                {
                    "name": v.name,
                    "index": v.index,
                    "host": v.host,
                    "memory_mib": v.memory_mib,
                    "dirty_mib_s": v.dirty_mib_s,
                    "generation": v.generation,
                    "proc": proc(v.proc),
                    "qmp": v.qmp,
                    "serial": v.serial,
                    "oom_kills": v.oom_kills,
                    "incoming": None
                    if v.incoming is None
                    else {
                        "target": v.incoming.target,
                        "proc": proc(v.incoming.proc),
                        "qmp": v.incoming.qmp,
                        "serial": v.incoming.serial,
                    },
                }
                for v in self.vms.values()
            ],
        }
        return json.dumps(data, indent=1) + "\n"


def from_json(data: Any) -> LabState:
    """The state a lab wrote; ValueError, KeyError or TypeError when it is not one."""

    def text(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not text")
        return value

    def number(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{value!r} is not a number")
        return float(value)

    def whole(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{value!r} is not a whole number")
        return value

    def proc(value: Any) -> Proc | None:
        return None if value is None else Proc(whole(value["pid"]), whole(value["start"]))

    def incoming(value: Any) -> Incoming | None:
        if value is None:
            return None
        return Incoming(text(value["target"]), proc(value["proc"]), text(value["qmp"]), text(value["serial"]))

    hosts = [
        Host(
            text(h["name"]),
            whole(h["index"]),
            text(h["netns"]),
            text(h["cgroup"]),
            text(h["address"]),
            whole(h["memory_mib"]),
            number(h["nic_gbit"]),
            number(h["link_mib_s"]),
        )
        for h in data["hosts"]
    ]
    vms = [
        Vm(
            text(v["name"]),
            whole(v["index"]),
            text(v["host"]),
            whole(v["memory_mib"]),
            number(v["dirty_mib_s"]),
            whole(v["generation"]),
            proc(v["proc"]),
            text(v["qmp"]),
            text(v["serial"]),
            incoming(v["incoming"]),
            whole(v["oom_kills"]),
        )
        for v in data["vms"]
    ]
    scale = data["scale"]
    return LabState(
        name=text(data["name"]),
        inventory=text(data["inventory"]),
        scale=Scale(number(scale["mib_per_gib"]), number(scale["speedup"])),
        allowance_mib=whole(data["allowance_mib"]),
        efficiency=number(data["efficiency"]),
        reconfigure_s=number(data["reconfigure_s"]),
        cgroup_version=whole(data["cgroup"]["version"]),
        cgroup_root=text(data["cgroup"]["root"]),
        kernel=text(data["kernel"]),
        initramfs=text(data["initramfs"]),
        switch=text(data["switch"]),
        hosts=MappingProxyType({h.name: h for h in hosts}),
        vms=MappingProxyType({v.name: v for v in vms}),
    )


def check_name(name: str) -> str:
    if not limits.LAB_NAME.fullmatch(name):
        raise InputError(f"invalid VM lab name {quote(name)}: 1-32 characters of letters, digits, '_', '-', '.'")
    return name


def lab_dir(name: str, run_dir: str) -> str:
    path = os.path.join(run_dir, "vmlab", check_name(name))
    # QEMU's monitor is a unix socket in this directory ("vm123-g45.qmp").
    if len(path) + len("/vm9999-g9999.qmp") > UNIX_PATH_MAX:
        raise InputError(
            f"the run directory {quote(run_dir)} is too long for QEMU's monitor sockets; set a shorter NETCFG_RUN_DIR"
        )
    return path


def state_path(directory: str) -> str:
    return os.path.join(directory, "state.json")


def oom_kills(state: LabState, host: str) -> int:
    """How many processes `host`'s memory cgroup has had OOM-killed (0 when unreadable)."""
    try:
        return cgroup.oom_kills(cgroup.Version(state.cgroup_version), state.hosts[host].cgroup)
    except OSError:
        return 0


def _check_own_names(state: LabState) -> None:
    """The cgroups and namespaces a state names are the lab's own, as `up` named them:
    `down` kills every process of its cgroups and deletes its namespaces, so a damaged
    file must not point it at anyone else's."""
    tree = cgroup.detect()
    root = tree.group(state.name) if tree is not None else state.cgroup_root
    if state.cgroup_root != root or state.switch != net.switch_netns(state.name):
        raise ValueError("foreign cgroups or namespaces")
    for host in state.hosts.values():
        if host.cgroup != os.path.join(root, f"h{host.index}") or host.netns != net.host_netns(state.name, host.index):
            raise ValueError(f"foreign cgroup or netns of {host.name}")


def read(name: str, run_dir: str) -> LabState | None:
    """The lab's state; None when it is not up; a damaged file is an input error saying
    how to recover."""
    path = state_path(lab_dir(name, run_dir))
    if not os.path.exists(path):
        return None
    data = read_json(path, "VM lab state file", limits.STATE_FILE_BYTES)
    try:
        state = from_json(data)
        if state.name != name:
            raise ValueError(f"the state of lab {state.name!r}")
        _check_own_names(state)
        return state
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise InputError(
            [
                Problem(
                    Location(path),
                    f"the VM lab state file is damaged ({damage(error)})",
                    f"`netcfg vmlab down --name {name}` still removes the lab's namespaces (vml-{name}-*), "
                    "cgroups and processes by their names",
                )
            ]
        ) from None


def write(state: LabState, run_dir: str) -> None:
    write_atomic(Path(state_path(lab_dir(state.name, run_dir))), state.to_json().encode(), mode=0o600)


@contextmanager
def locked(name: str, run_dir: str) -> Iterator[None]:
    """Hold the lab's lock: one open file description per holder, so threads exclude
    each other as processes do."""
    directory = lab_dir(name, run_dir)
    try:
        # Never made here: a lab taken down meanwhile must not get its directory back.
        fd = os.open(os.path.join(directory, "state.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        raise InputError(f"VM lab {name!r} is not up (it was taken down meanwhile)") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def update(name: str, run_dir: str, change: Callable[[LabState], LabState]) -> LabState:
    """Read, change and write the state under the lock; the new state."""
    with locked(name, run_dir):
        current = read(name, run_dir)
        if current is None:
            raise InputError(f"VM lab {name!r} is not up (it was taken down meanwhile)")
        new = change(current)
        write(new, run_dir)
        return new
