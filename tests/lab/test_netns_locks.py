"""`lab down` removes the apply locks of the lab's namespaces, which are keyed on each
namespace's identity (device and inode), not its name (needs root)."""

from __future__ import annotations

import os
import subprocess
import uuid

from netcfg.kernel.lock import lock_path, namespace_lock
from netcfg.lab import netns as lab
from tests.requirements import needs

pytestmark = needs("ip", root=True)


def test_down_removes_the_identity_keyed_lock_files(tmp_path):
    name = f"t{uuid.uuid4().hex[:6]}"
    ns = f"{name}-sw"
    state_dir = str(tmp_path)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        lab.write_state(lab.LabState(name, "inv", "flat", {}, ns, (ns,)), state_dir)
        with namespace_lock(ns, state_dir):
            lock = lock_path(ns, state_dir)
        assert os.path.exists(lock) and ns not in lock
        assert lab.down(name, state_dir=state_dir) == [ns]
        assert not os.path.exists(lock)
        assert not os.path.exists(f"/run/netns/{ns}")
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
