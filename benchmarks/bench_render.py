"""Rendering all four formats (iproute2, networkd, netplan, json) for synthetic fleets:
machines per second and peak memory. Target: 10,000 machines x 4 formats < 20 s.

The synthetic inventory is generated and loaded in the parent (not timed); the measured
child runs the design (policy-routing, the heavy one: every machine on fe carries a rule
and a route per fe network) and renders every file of every machine into memory, one
machine at a time as `netcfg render` does. A second case at 1,000 machines also writes
the files to disk and re-runs (nothing changed: every file is compared, none written).

    python benchmarks/bench_render.py [--quick]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable as a script

from benchmarks.harness import Result, measure
from netcfg.designs import render as render_design
from netcfg.formats import FORMAT_NAMES, iter_rendered, write_rendered
from netcfg.inventory.load import load_inventory_texts
from netcfg.inventory.synth import synth_texts
from netcfg.model.inventory import Inventory

NAME = "render 4 formats"
SEED = 2017
# (machines, networks, target seconds); None: measured, no target
CASES = [(1_000, 60, None), (10_000, 500, 20.0)]
QUICK_CASES = [(200, 20, None), (1_000, 60, None)]
WRITE_CASE = (1_000, 60)
QUICK_WRITE_CASE = (200, 20)


def _render(inventory: Inventory) -> tuple[int, int]:
    """(files, bytes) of every machine in every format; the texts are dropped at once."""
    configs = render_design(inventory)
    files = size = 0
    for _, rendered in iter_rendered(configs, FORMAT_NAMES):
        files += len(rendered)
        size += sum(map(len, rendered.values()))
    return files, size


def _write(inventory: Inventory, out: str) -> tuple[int, int]:
    report = write_rendered(Path(out), render_design(inventory))
    return report.written, report.unchanged


def _inventory(machines: int, networks: int) -> Inventory:
    return load_inventory_texts(synth_texts(machines, networks, SEED), "synth")


def run(quick: bool = False) -> list[Result]:
    results = []
    for machines, networks, max_s in QUICK_CASES if quick else CASES:
        case = f"{machines:,} machines / {networks} networks"
        inventory = _inventory(machines, networks)
        seconds, peak, (files, size) = measure(_render, inventory)
        results += [
            Result(
                NAME,
                case,
                "seconds",
                round(seconds, 3),
                f"< {max_s:g} s" if max_s else "",
                seconds < max_s if max_s else None,
            ),
            Result(NAME, case, "machines/s", round(machines / seconds)),
            Result(NAME, case, "peak MiB", round(peak, 1)),
            Result(NAME, case, "files", files),
            Result(NAME, case, "MB rendered", round(size / 1e6, 1)),
        ]
    machines, networks = QUICK_WRITE_CASE if quick else WRITE_CASE
    case = f"{machines:,} machines / {networks} networks, to disk"
    inventory = _inventory(machines, networks)
    tmp = tempfile.mkdtemp(prefix="netcfg-bench-render-")
    try:
        out = str(Path(tmp) / "out")
        first, peak, (written, _) = measure(_write, inventory, out)
        again, _, (rewritten, unchanged) = measure(_write, inventory, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if rewritten or unchanged != written:
        raise RuntimeError(f"{case}: second run rewrote {rewritten} of {written} files")
    results += [
        Result(NAME, case, "seconds (first run)", round(first, 3)),
        Result(NAME, case, "seconds (unchanged re-run)", round(again, 3)),
        Result(NAME, case, "peak MiB", round(peak, 1)),
    ]
    return results


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv[1:]):
        print(row)
