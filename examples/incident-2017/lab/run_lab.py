#!/usr/bin/env python3
"""The incident replayed on the VM lab (root, QEMU; see docs/vmlab.md): the naive plan,
netcfg's plan, and netcfg's plan again with the bandwidth of every migration throttled
at random to 50-100 %. Each runs on a lab of its own, built from `inventory/` and taken
down afterwards; prints one JSON object per run and a table for the README.

    python examples/incident-2017/lab/run_lab.py [naive|netcfg|jitter ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from netcfg.cli.settings import run_dir, vmlab_cache
from netcfg.files import read_json
from netcfg.inventory.load import load_inventory
from netcfg.rollout.pipeline import plan_change
from netcfg.vmlab.replay import run_on_lab

HERE = Path(__file__).resolve().parent
JITTER = (0.5, 1.0)
SEED = 1


def main(which: list[str]) -> int:
    inventory = load_inventory(HERE / "inventory")
    planned = plan_change(str(HERE / "inventory"), str(HERE / "after")).plan.to_dict()
    plans = {"naive": read_json(HERE / "naive-plan.json", "plan"), "netcfg": planned, "jitter": planned}
    rows = []
    for run in which or list(plans):
        jitter = JITTER if run == "jitter" else None
        result = run_on_lab(
            inventory,
            plans[run],
            f"incident-{run}",
            run_dir=run_dir(),
            cache_dir=vmlab_cache(),
            jitter=jitter,
            seed=SEED,
            say=lambda line: print(line, file=sys.stderr, flush=True),
        )
        summary = {"run": run, **result.to_dict()}
        print(json.dumps(summary), flush=True)
        rows.append(summary)
    print("| run | steps ok | VMs lost | VMs not on their planned host | measured makespan | planned makespan |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['run']} | {r['steps_ok']} of {r['steps']} | {len(r['lost'])} | {len(r['misplaced'])} "
            f"| {r['measured_makespan_s']:.0f} s | {r['planned_makespan_s']:.0f} s |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
