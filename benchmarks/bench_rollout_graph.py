"""The rollout plan as a dependency graph, measured as whole `netcfg` processes:

- plan + 200-run jitter replay, 500 KVM hosts x 20 VMs, every machine disruptive (the
  2017 case): `netcfg plan --from-report` then `netcfg simulate --jitter 0.3:3.0 --runs
  200`: times, violations (target 0), planned makespan / lower bound (target <= 1.2),
  p95 jittered makespan / planned;
- `netcfg plan` of 2,000 KVM hosts x 20 VMs, all disruptive (issue: the planner
  indexed): time (target < 10 s, median), peak RSS (< 1 GiB), ratio (<= 1.02).

Fleets come from netcfg.testing.fleet (256 GiB hypervisors ~60 % full, 10 Gbit/s, VMs
in services of 8 spread over hosts, default rollout policy), written as an inventory
directory, with a report that names every machine disruptive (as `netcfg check
--report-json` would for a change under `reconfigure: restart`) and records the
inventory's digest. Every figure is a median over whole processes (min beside it);
peak RSS is the child's own (wait4). Nothing is left in /tmp.

    python benchmarks/bench_rollout_graph.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable as a script

from benchmarks.harness import Finished, run_once
from netcfg.inventory.digest import inventory_digest
from netcfg.model.inventory import Inventory
from netcfg.testing.fleet import fleet

VMS_PER_HOST = 20
JITTER = "0.3:3.0"


def write_inventory(inventory: Inventory, directory: Path) -> None:
    """The fleet as YAML (one flow mapping per machine, like `netcfg synth`), each
    machine with one private address on srv, so it loads like any inventory."""
    directory.mkdir(parents=True)
    lines = [
        "segments:",
        "  srv: {table: 3, priority: 30}",
        "networks:",
        "  - {prefix: 10.0.0.0/8, segment: srv, gateway: 10.0.0.1, private: true}",
        "policy:",
        "  reconfigure: restart",
        "machines:",
    ]
    for n, machine in enumerate(inventory.machines.values(), start=2):
        address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        fields = [f"kind: {machine.kind}"]
        for key in ("host", "memory_gib", "nic_gbit", "dirty_mib_s", "service"):
            value = getattr(machine, key)
            if value is not None:
                fields.append(f"{key}: {value}")
        fields.append(f"interfaces: {{srv: {{addresses: [{address}]}}}}")
        lines.append(f"  {machine.name}: {{{', '.join(fields)}}}")
    (directory / "fleet.yaml").write_text("\n".join(lines) + "\n")


def write_report(directory: Path, report: Path) -> None:
    from netcfg.inventory.load import load_inventory

    inventory = load_inventory(directory)
    hosts = [{"name": name, "change": "disruptive"} for name in inventory.machines]
    report.write_text(json.dumps({"hosts": hosts, "inventory_digest": inventory_digest(inventory)}))


def netcfg(*args: str, cwd: Path) -> Finished:
    """One whole `netcfg` process (CPU seconds beside the wall time: on a shared machine
    they move less)."""
    return run_once([sys.executable, "-m", "netcfg", "--quiet", *args], cwd=cwd)


def _timed(runs: int, *args: str, cwd: Path) -> tuple[list[float], list[float], list[float], str]:
    seconds, cpus, peaks, stdout = [], [], [], ""
    for _ in range(runs):
        done = netcfg(*args, cwd=cwd)
        if done.returncode not in (0, 3):
            raise RuntimeError(f"netcfg {' '.join(args)} exited {done.returncode}")
        seconds.append(done.seconds)
        cpus.append(done.cpu_s)
        peaks.append(done.peak_mib)
        stdout = done.stdout
    return seconds, cpus, peaks, stdout


def _fleet_dir(root: Path, hosts: int) -> tuple[Path, Path]:
    directory, report = root / f"fleet-{hosts}", root / f"report-{hosts}.json"
    write_inventory(fleet(hosts, VMS_PER_HOST), directory)
    write_report(directory, report)
    return directory, report


def graph_row(root: Path, quick: bool) -> dict[str, Any]:
    hosts, runs, replays = (100, 2, 50) if quick else (500, 5, 200)
    inventory, report = _fleet_dir(root, hosts)
    plan = root / f"plan-{hosts}.json"
    plan_s, plan_cpu, plan_peak, _ = _timed(
        runs, "plan", "--from-report", str(report), "-i", str(inventory), "--json", str(plan), cwd=root
    )
    data = json.loads(plan.read_text())
    sim_s, sim_cpu, sim_peak, stdout = _timed(
        runs,
        "simulate",
        str(plan),
        "-i",
        str(inventory),
        "--jitter",
        JITTER,
        "--runs",
        str(replays),
        "--seed",
        "1",
        "--format",
        "json",
        cwd=root,
    )
    result = json.loads(stdout)
    ratio = data["makespan_s"] / data["lower_bound_s"]
    figures = {
        "plan s (min)": round(min(plan_s), 2),
        "plan s (median)": round(statistics.median(plan_s), 2),
        "plan CPU s (median)": round(statistics.median(plan_cpu), 2),
        f"{replays}-run jitter replay s (min)": round(min(sim_s), 2),
        f"{replays}-run jitter replay s (median)": round(statistics.median(sim_s), 2),
        f"{replays}-run jitter replay CPU s (median)": round(statistics.median(sim_cpu), 2),
        "peak RSS MiB (plan, simulate)": [round(max(plan_peak)), round(max(sim_peak))],
        "live migrations": len(data["migrations"]),
        "violations": result["violations"],
        "makespan / lower bound": round(ratio, 4),
        "p50 jittered / planned": result["p50_ratio"],
        "p95 jittered / planned": result["p95_ratio"],
    }
    return {
        "name": f"plan + {replays}-run jitter {JITTER} replay, {hosts} KVM hosts x {VMS_PER_HOST} VMs, all disruptive",
        "figures": figures,
        "target": "violations 0, makespan / lower bound <= 1.2",
        "ok": result["violations"] == 0 and ratio <= 1.2,
    }


def plan_row(root: Path, quick: bool) -> dict[str, Any]:
    hosts, runs = (200, 2) if quick else (2000, 5)
    inventory, report = _fleet_dir(root, hosts)
    plan = root / f"plan-{hosts}.json"
    seconds, cpus, peaks, _ = _timed(
        runs, "plan", "--from-report", str(report), "-i", str(inventory), "--json", str(plan), cwd=root
    )
    # The same inventory only loaded and checked: how much of the plan is the loading.
    load_s, load_cpu, _, _ = _timed(runs, "validate", str(inventory), cwd=root)
    data = json.loads(plan.read_text())
    median, peak = statistics.median(seconds), max(peaks)
    ratio = data["makespan_s"] / data["lower_bound_s"]
    return {
        "name": f"plan, {hosts:,} KVM hosts x {VMS_PER_HOST} VMs, all disruptive (CLI, --json)",
        "figures": {
            "s (min)": round(min(seconds), 2),
            "s (median)": round(median, 2),
            "CPU s (median)": round(statistics.median(cpus), 2),
            "of which loading: validate s (median)": round(statistics.median(load_s), 2),
            "validate CPU s (median)": round(statistics.median(load_cpu), 2),
            "peak RSS MiB": round(peak),
            "makespan / lower bound": round(ratio, 4),
            "live migrations": len(data["migrations"]),
        },
        "target": "< 10 s (median), < 1 GiB, ratio <= 1.02",
        "ok": median < 10 and peak < 1024 and ratio <= 1.02,
    }


def run(quick: bool) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="netcfg-bench-graph-") as tmp:
        root = Path(tmp)
        return [graph_row(root, quick), plan_row(root, quick)]


def main() -> int:
    rows = run("--quick" in sys.argv[1:])
    for row in rows:
        verdict = "ok" if row["ok"] else "MISSED"
        print(f"{row['name']}: {verdict} (target {row['target']})")
        for key, value in row["figures"].items():
            print(f"  {key}: {value}")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
