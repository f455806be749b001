"""`netcfg render`, all four formats, to disk: a first run into an empty directory beside
`cp -r` of the very bytes it writes (the I/O floor), and an unchanged re-run beside the
first run (it must skip nearly everything)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.harness import Row, Run, at_most, netcfg, time_command, time_pair
from benchmarks.inventories import synth

NAME = "render"
FIRST_LIMIT, AGAIN_LIMIT = 1.3, 0.1


def run(quick: bool = False, scale: bool = False) -> list[Row]:
    del scale
    machines, networks = (1_000, 60) if quick else (10_000, 500)
    case = f"{machines:,} machines / {networks:,} networks, all formats"
    with tempfile.TemporaryDirectory(prefix="netcfg-bench-render-") as tmp:
        inventory = synth(Path(tmp) / "inventory", machines, networks)
        out, copy = Path(tmp) / "out", Path(tmp) / "copy"

        def empty(*paths: Path) -> None:
            for path in paths:
                shutil.rmtree(path, ignore_errors=True)
            subprocess.run(["sync"], check=False)  # earlier runs' dirty pages are not this run's

        # By turns: each copy is of the output the render just wrote.
        first, floor = time_pair(
            Run(netcfg("render", str(inventory), "--out", str(out)), setup=lambda: empty(out)),
            Run(["cp", "-r", str(out), str(copy)], setup=lambda: empty(copy)),
        )
        again = time_command(netcfg("render", str(inventory), "--out", str(out)))
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return [
        Row(
            NAME,
            f"{case} ({size / 2**30:.1f} GiB), first run",
            first,
            "cp -r of its output",
            floor,
            f"<= {FIRST_LIMIT} x cp -r",
            at_most(first.median / floor.median, FIRST_LIMIT),
        ),
        Row(
            NAME,
            f"{case}, unchanged re-run",
            again,
            "the first run",
            first,
            f"<= {AGAIN_LIMIT} x the first run",
            at_most(again.median / first.median, AGAIN_LIMIT),
        ),
    ]
