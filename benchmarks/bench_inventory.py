"""Load + validate time and peak memory of synthetic inventories.

The synthetic files are written in the parent (not timed); only load_inventory (parse,
build the model, run every check) runs in the measured child.

    python benchmarks/bench_inventory.py [--quick]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable as a script

from benchmarks.harness import Result, measure
from netcfg.inventory.load import load_inventory
from netcfg.inventory.synth import write_synth

NAME = "inventory load+validate"
SEED = 2017
# (machines, networks, target seconds, target peak MiB); None: measured, no target
CASES = [(1_000, 60, None, None), (10_000, 500, 3.0, 500.0)]
QUICK_CASES = [(200, 20, None, None), (1_000, 60, None, None)]


def _load(path: str) -> int:
    return len(load_inventory(path).machines)


def run(quick: bool = False) -> list[Result]:
    results = []
    for machines, networks, max_s, max_mib in QUICK_CASES if quick else CASES:
        case = f"{machines:,} machines / {networks} networks"
        with tempfile.TemporaryDirectory(prefix="netcfg-bench-") as tmp:
            write_synth(Path(tmp) / "inventory", machines, networks, SEED)
            seconds, peak, loaded = measure(_load, str(Path(tmp) / "inventory"))
        if loaded != machines:
            raise RuntimeError(f"{case}: loaded {loaded} machines")
        results.append(
            Result(
                NAME,
                case,
                "seconds",
                round(seconds, 3),
                f"< {max_s:g} s" if max_s else "",
                seconds < max_s if max_s else None,
            )
        )
        results.append(
            Result(
                NAME,
                case,
                "peak MiB",
                round(peak, 1),
                f"< {max_mib:g} MiB" if max_mib else "",
                peak < max_mib if max_mib else None,
            )
        )
        results.append(Result(NAME, case, "machines/s", round(machines / seconds)))
    return results


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv[1:]):
        print(row)
