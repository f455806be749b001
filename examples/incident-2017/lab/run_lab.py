#!/usr/bin/env python3
"""The incident replayed on the VM lab (root, QEMU; docs/vmlab.md): the naive plan,
netcfg's plan, and netcfg's plan again with every migration's bandwidth throttled at
random to 50-100 %. Each runs on a lab of its own, with the commands a person types:

    netcfg vmlab up lab/inventory --name NAME
    netcfg rollout run PLAN --driver qemu --lab NAME [--jitter 0.5:1] --format json
    netcfg vmlab status --name NAME --format json
    netcfg vmlab down --name NAME

Prints one JSON object per run, then a table for the README:

    python examples/incident-2017/lab/run_lab.py [naive|netcfg|jitter ...]
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from netcfg.inventory.load import load_inventory
from netcfg.vmlab.replay import planned_hosts

HERE = Path(__file__).resolve().parent
SPEEDUP = 16.0  # `vmlab up`'s default: the lab runs 16 times the plan's clock
RUNS = ("naive", "netcfg", "jitter")


def netcfg(*args: str, ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run([sys.executable, "-m", "netcfg", *args], capture_output=True, text=True, check=False)
    if done.returncode not in ok:
        sys.exit(f"netcfg {' '.join(args[:2])} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def plan_file(run: str, work: Path) -> Path:
    path = work / "plan.json"
    if run == "naive":
        shutil.copy(HERE / "naive-plan.json", path)
    else:
        netcfg("--quiet", "plan", str(HERE / "inventory"), str(HERE / "after"), "--json", str(path))
    return path


def replay(run: str) -> dict[str, Any]:
    name = f"incident-{run}"
    with tempfile.TemporaryDirectory() as work:
        plan = plan_file(run, Path(work))
        netcfg("--quiet", "vmlab", "up", str(HERE / "inventory"), "--name", name, "--speedup", str(SPEEDUP))
        try:
            jitter = ["--jitter", "0.5:1"] if run == "jitter" else []
            report = json.loads(
                netcfg(
                    "--quiet",
                    "rollout",
                    "run",
                    str(plan),
                    "--driver",
                    "qemu",
                    "--lab",
                    name,
                    *jitter,
                    "--format",
                    "json",
                    ok=(0, 5),
                )
            )
            status = json.loads(netcfg("vmlab", "status", "--name", name, "--format", "json"))
        finally:
            netcfg("--quiet", "vmlab", "down", "--name", name)
        planned = planned_hosts(json.loads(plan.read_text()), load_inventory(HERE / "inventory"))
    lost = [v["name"] for v in status["vms"] if v["state"] == "lost"]
    return {
        "run": run,
        "steps": len(report["steps"]),
        "steps_ok": sum(1 for s in report["steps"] if s["state"] == "done"),
        "failed": report["failed"],
        "lost": lost,
        "misplaced": misplaced(status, lost, planned),
        "measured_makespan_s": report["makespan_s"],
        "planned_makespan_s": round(report["planned_makespan_s"], 1),  # on the lab's clock
    }


def misplaced(status: dict[str, Any], lost: list[str], planned: dict[str, str]) -> list[str]:
    """VMs alive on another host than the plan puts them on."""
    return sorted(v["name"] for v in status["vms"] if v["name"] not in lost and v["host"] != planned[v["name"]])


def main(which: list[str]) -> int:
    rows = []
    for run in which or RUNS:
        rows.append(replay(run))
        print(json.dumps(rows[-1]), flush=True)
    print("| run | steps done | VMs lost | VMs alive elsewhere than planned | measured makespan | planned makespan |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['run']} | {r['steps_ok']} of {r['steps']} | {len(r['lost'])} | {len(r['misplaced'])} "
            f"| {r['measured_makespan_s']:.0f} s | {r['planned_makespan_s']:.0f} s |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
