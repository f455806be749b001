"""A `lab up` stopped by SIGTERM or SIGHUP (a cancelled CI job, `timeout`) removes what
it made, as it does on Ctrl-C, and exits as that signal would (needs root)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.requirements import needs

pytestmark = needs("ip", root=True)

INVENTORY = Path(__file__).resolve().parents[2] / "inventory"


def namespaces_of(name: str) -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in listed.splitlines() if line.startswith(f"{name}-")]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_lab_up_stopped_by_a_signal_removes_what_it_made(tmp_path, signum):
    name = f"t{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "NETCFG_RUN_DIR": str(tmp_path)}
    up = subprocess.Popen(
        [sys.executable, "-m", "netcfg", "lab", "up", str(INVENTORY), "--name", name],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(namespaces_of(name)) < 3 and up.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert up.poll() is None, "the lab was up before it could be stopped"
        up.send_signal(signum)
        _, err = up.communicate(timeout=120)
        assert up.returncode == 128 + signum, err
        assert f"lab {name}: up failed, removing what was made" in err
        if signum != signal.SIGINT:
            assert f"lab {name}: up: stopped by {signal.Signals(signum).name}" in err
        assert namespaces_of(name) == []
    finally:
        if up.poll() is None:
            up.kill()
        subprocess.run([sys.executable, "-m", "netcfg", "lab", "down", "--name", name], env=env, capture_output=True)
