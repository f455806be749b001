"""benchmarks/run.py refuses what it cannot do before running anything (a run takes minutes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--only", "nosuch"], "no benchmark named nosuch (known: apply, check"),
        (["--runs", "0"], "--runs must be at least 1"),
        (["--runs", "-3"], "--runs must be at least 1"),
        (["--json", "/nonexistent/x.json"], "--json: cannot write /nonexistent/x.json"),
    ],
)
def test_bad_arguments_are_refused_at_once(args, said):
    done = subprocess.run([sys.executable, str(RUNNER), *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and said in done.stderr and "running" not in done.stderr
