"""Memory cgroups: one per lab hypervisor, its limit the hypervisor's capacity.

cgroup v1 (a `memory` hierarchy, as on this project's CI machine) and v2 (the unified
hierarchy with the memory controller) are both supported; `detect` finds which one
the kernel mounted. Every group lives under ROOT_GROUP/LAB/, so nothing outside the
lab's own subtree is ever written (v2 needs `+memory` in each parent's
`cgroup.subtree_control`, which adds the controller without limiting anything).
A process joins a group before it execs QEMU (see spawn.py): memory a process
faulted in before moving stays charged to its old group.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from dataclasses import dataclass
from enum import IntEnum

ROOT_GROUP = "netcfg-vmlab"
MOUNTS = "/proc/self/mounts"


class Version(IntEnum):
    V1 = 1
    V2 = 2


@dataclass(frozen=True, slots=True)
class Hierarchy:
    version: Version
    mount: str  # where the memory controller's hierarchy is mounted

    def group(self, lab: str, name: str = "") -> str:
        parts = [self.mount, ROOT_GROUP, lab] + ([name] if name else [])
        return os.path.join(*parts)

    def create(self, path: str, limit_bytes: int) -> None:
        """Make the group at `path` (and its parents) with `limit_bytes`."""
        if self.version is Version.V2:
            # Each level must hand the memory controller down to the next.
            relative = os.path.relpath(path, self.mount).split(os.sep)
            current = self.mount
            for part in relative:
                _enable_memory(current)
                current = os.path.join(current, part)
                os.makedirs(current, exist_ok=True)
        else:
            os.makedirs(path, exist_ok=True)
        set_limit(self.version, path, limit_bytes)


def _limit_file(version: Version) -> str:
    return "memory.limit_in_bytes" if version is Version.V1 else "memory.max"


def set_limit(version: Version, path: str, limit_bytes: int) -> bool:
    """Set the group's limit; False when the kernel refused to lower it below what the
    group uses now (v1 answers EBUSY), which leaves it where it was."""
    try:
        _write(os.path.join(path, _limit_file(version)), str(limit_bytes))
    except OSError as error:
        if error.errno == errno.EBUSY:
            return False
        raise
    return True


def limit(version: Version, path: str) -> int:
    text = _read(os.path.join(path, _limit_file(version))).strip()
    return 2**63 if text == "max" else int(text)


def usage(version: Version, path: str) -> int:
    name = "memory.usage_in_bytes" if version is Version.V1 else "memory.current"
    return int(_read(os.path.join(path, name)))


def oom_kills(version: Version, path: str) -> int:
    """How many processes the OOM killer killed in the group: a counter that never goes
    back, unlike `failcnt`, which plain reclaim raises too."""
    name = "memory.oom_control" if version is Version.V1 else "memory.events"
    try:
        text = _read(os.path.join(path, name))
    except FileNotFoundError:
        return 0
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return 0


def procs(path: str) -> list[int]:
    try:
        return [int(p) for p in _read(os.path.join(path, "cgroup.procs")).split()]
    except FileNotFoundError:
        return []


def remove(path: str, timeout_s: float = 10.0) -> bool:
    """Kill every process of the group at `path` and below, then remove the groups,
    deepest first; False when nothing was there."""
    if not os.path.isdir(path):
        return False
    groups = [root for root, _, _ in os.walk(path)]
    for group in reversed(groups):
        deadline = time.monotonic() + timeout_s
        while True:
            members = procs(group)
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.rmdir(group)
                break
            except FileNotFoundError:
                break
            except OSError:
                # Killed processes leave the group once the kernel has torn them down.
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)
    return True


def holds(group: str, pid: int, tree: Hierarchy) -> bool:
    """Whether process `pid` is in the memory cgroup `group` (a path under `tree`) or below."""
    relative = os.path.relpath(group, tree.mount)
    inside = "/" if relative == "." else "/" + relative
    try:
        lines = _read(f"/proc/{pid}/cgroup").splitlines()
    except OSError:
        return False
    for line in lines:
        _, controllers, path = line.split(":", 2)
        mine = "memory" in controllers.split(",") if tree.version is Version.V1 else controllers == ""
        if mine:
            return path == inside or path.startswith(inside.rstrip("/") + "/")
    return False


def detect() -> Hierarchy | None:
    """Where the memory controller is: a v1 `memory` hierarchy first (a hybrid system
    mounts a v2 tree without controllers beside it), else v2 with `memory` among its
    controllers; None when neither."""
    v1, v2 = memory_mounts(_read(MOUNTS))
    if v1 is not None:
        return Hierarchy(Version.V1, v1)
    if v2 is not None:
        try:
            controllers = _read(os.path.join(v2, "cgroup.controllers")).split()
        except OSError:
            controllers = []
        if "memory" in controllers:
            return Hierarchy(Version.V2, v2)
    return None


def memory_mounts(mounts: str) -> tuple[str | None, str | None]:
    """From /proc/mounts: the v1 hierarchy with the memory controller, and the v2 mount."""
    v1 = v2 = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        where, kind, options = _unescape(fields[1]), fields[2], fields[3].split(",")
        if kind == "cgroup" and "memory" in options and v1 is None:
            v1 = where
        elif kind == "cgroup2" and v2 is None:
            v2 = where
    return v1, v2


def _unescape(field: str) -> str:
    # /proc/mounts writes a space as \040, a tab as \011, a backslash as \134.
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def _enable_memory(group: str) -> None:
    control = os.path.join(group, "cgroup.subtree_control")
    if "memory" not in _read(control).split():
        _write(control, "+memory")


def _read(path: str) -> str:
    with open(path, encoding="ascii") as handle:
        return handle.read()


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(text)
