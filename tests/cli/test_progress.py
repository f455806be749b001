"""Progress on stderr: drawn for a person at a terminal, never into a pipe, a CI log or
under --quiet. Run through a real pseudo-terminal, as a person would see it."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

NETCFG = Path(sys.executable).parent / "netcfg"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def on_terminal(*args: str) -> tuple[int, str]:
    """Exit code and what the command drew on a terminal as its stderr."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR", "GITHUB_ACTIONS")}
    env["TERM"] = "xterm"
    main, secondary = pty.openpty()
    proc = subprocess.Popen(
        [str(NETCFG), *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=secondary, env=env
    )
    os.close(secondary)
    drawn = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the command closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(main)
    return proc.wait(), drawn.decode(errors="replace")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fleet") / "inv"
    subprocess.run([str(NETCFG), "synth", "--machines", "600", "--networks", "40", "--out", str(out)], check=True)
    return out


def test_render_draws_a_bar_on_a_terminal(fleet, tmp_path):
    code, drawn = on_terminal("render", str(fleet), "--out", str(tmp_path / "out"))
    assert code == 0
    assert "rendering 600 machines" in drawn and "600/600" in drawn


def test_check_and_plan_say_each_stage(tmp_path):
    before, after = EXAMPLES / "add-public-network" / "before", EXAMPLES / "add-public-network" / "after"
    code, drawn = on_terminal("impact", str(before), str(after))
    assert code == 0
    assert f"reading {before}" in drawn and "rendering and comparing 15 machines" in drawn
    code, drawn = on_terminal("plan", str(before), str(after), "--json", str(tmp_path / "plan.json"))
    assert "planning the rollout of 15 machines" in drawn and "simulating the plan" in drawn


def test_no_progress_under_quiet_or_into_a_pipe(fleet, tmp_path):
    code, drawn = on_terminal("--quiet", "render", str(fleet), "--out", str(tmp_path / "a"))
    assert code == 0 and "rendering" not in drawn
    piped = subprocess.run(
        [str(NETCFG), "render", str(fleet), "--out", str(tmp_path / "b")], capture_output=True, text=True
    )
    assert piped.returncode == 0 and "rendering" not in piped.stderr and "files written" in piped.stderr
