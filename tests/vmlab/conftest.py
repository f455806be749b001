"""What the VM lab's real tests need: root, QEMU, iproute2 and the guest files (which
`.ci/run` fetches with `netcfg vmlab fetch`); without them they skip, saying which.
Every lab a test makes is taken down afterwards, whatever happened, and checked gone."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from netcfg.cli.settings import vmlab_cache
from netcfg.vmlab import artefacts, cgroup
from netcfg.vmlab import lab as vmlab
from netcfg.vmlab.guest import QEMU


def lab_requirements() -> list[pytest.MarkDecorator]:
    reasons = []
    if os.geteuid() != 0:
        reasons.append("needs root (namespaces, cgroups, QEMU)")
    if shutil.which(QEMU) is None:
        reasons.append(f"{QEMU} is not installed (apt-get install qemu-system-x86)")
    if shutil.which("ip") is None or shutil.which("tc") is None:
        reasons.append("ip and tc are not installed (apt-get install iproute2)")
    elif os.geteuid() == 0 and cgroup.detect() is None:
        reasons.append("no memory cgroup controller is mounted")
    if artefacts.find(vmlab_cache()) is None:
        reasons.append(f"the guest files are not in {vmlab_cache()} (run `netcfg vmlab fetch`; .ci/run does)")
    return [pytest.mark.root, pytest.mark.skipif(bool(reasons), reason="; ".join(reasons))]


def needs_lab(test: Callable[..., None]) -> Callable[..., None]:
    """lab_requirements() as one decorator, for a module whose other tests need none."""
    for mark in lab_requirements():
        test = mark(test)
    return test


@pytest.fixture
def run_dir(monkeypatch) -> Iterator[str]:
    # Short: QEMU's monitor sockets live below it (108 bytes at most for a socket path).
    path = tempfile.mkdtemp(prefix="vml", dir="/tmp")
    monkeypatch.setenv("NETCFG_RUN_DIR", path)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def lab_leftovers(name: str, run_dir: str) -> list[str]:
    """Anything of lab `name` still there: namespaces, its cgroup, QEMU processes whose
    files are in `run_dir`."""
    found = [
        ns
        for ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
        if ns.startswith(f"vml-{name}-")
    ]
    tree = cgroup.detect()
    if tree is not None and os.path.exists(tree.group(name)):
        found.append(tree.group(name))
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(QEMU.encode()) and any(run_dir.encode() in a for a in argv):
            found.append(f"process {entry.name}")
    return found


@pytest.fixture
def lab_names(run_dir) -> Iterator[Callable[[], str]]:
    """Fresh lab names; every lab made is taken down (`down`, as after a crash) and
    checked gone, also when the test failed."""
    made: list[str] = []

    def new() -> str:
        made.append(f"t{uuid.uuid4().hex[:6]}")
        return made[-1]

    try:
        yield new
    finally:
        for name in made:
            vmlab.down(name, run_dir=run_dir)
        left = [thing for name in made for thing in lab_leftovers(name, run_dir)]
        assert not left, f"left behind: {left}"
