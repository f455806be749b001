"""Rollout planning for synthetic fleets of hypervisors, every machine disruptive (the
2017 case): planning time, makespan against the lower bound, and invariant violations
found by the independent simulator. Plus the effect of 1 vs 10 Gbit/s links.

Fleets are built in code (netcfg.testing.fleet: 256 GiB hypervisors ~60 % full with 20
VMs each, services of 8 spread across hosts, default rollout policy); only the planner
call is timed (in a forked child, see harness.measure).

    python benchmarks/bench_plan.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable as a script

from benchmarks.harness import Result, measure
from netcfg.impact.model import ChangeClass
from netcfg.rollout.model import Change
from netcfg.testing.fleet import fleet

DISRUPTIVE = ChangeClass.DISRUPTIVE
from netcfg.rollout.plan import plan_rollout  # noqa: E402
from netcfg.rollout.simulate import simulate  # noqa: E402

NAME = "plan"
VMS_PER_HOST = 20
CASES = [(50, None), (500, 30.0)]  # (hypervisors, planning-time target in s)
QUICK_CASES = [(10, None), (50, None)]
SYNTH_CASES = [(1_100, None), (10_600, 30.0)]  # about 50 and 500 hypervisors
SYNTH_QUICK = [(1_100, None)]
RATIO_TARGET = 1.5


def _plan(inventory):
    changes = [Change(name, DISRUPTIVE) for name in inventory.machines]
    return plan_rollout(inventory, changes).to_dict()


def _synth(machines: int):
    """The bundled data centre's shape (netcfg.inventory.synth): ~1 hypervisor per 20
    VMs, mixed 1/10 Gbit/s links, 128-512 GiB hosts, VMs of 2-128 GiB."""
    from netcfg.inventory.load import load_inventory_texts
    from netcfg.inventory.synth import synth_texts

    return load_inventory_texts(synth_texts(machines, 40, 1), source=f"synth:{machines}")


def run(quick: bool = False) -> list[Result]:
    rows: list[Result] = []
    cases = [
        (lambda h=h: fleet(h, VMS_PER_HOST), f"{h} hypervisors x {VMS_PER_HOST} VMs, all disruptive", t)
        for h, t in (QUICK_CASES if quick else CASES)
    ]
    cases += [
        (lambda m=m: _synth(m), f"synth {m:,} machines, all disruptive", t)
        for m, t in (SYNTH_QUICK if quick else SYNTH_CASES)
    ]
    for build, case, time_target in cases:
        inventory = build()
        seconds, peak, plan = measure(_plan, inventory)
        sim = simulate(plan, inventory)
        ratio = plan["makespan_s"] / plan["lower_bound_s"]
        rows += [
            Result(
                NAME,
                case,
                "planning seconds",
                round(seconds, 2),
                f"< {time_target:g} s" if time_target else "",
                seconds < time_target if time_target else None,
            ),
            Result(NAME, case, "planning peak MiB", round(peak, 1)),
            Result(NAME, case, "makespan hours", round(plan["makespan_s"] / 3600, 2)),
            Result(NAME, case, "makespan / lower bound", round(ratio, 3), f"<= {RATIO_TARGET}", ratio <= RATIO_TARGET),
            Result(NAME, case, "live migrations", len(plan["migrations"])),
            Result(NAME, case, "simulator violations", len(sim.violations), "0", not sim.violations),
        ]
    # What faster links buy: the same fleet at 1 and at 10 Gbit/s (dirty rates up to
    # 80 MiB/s, so every VM converges on the slow link too).
    hosts = 10 if quick else 50
    for nic in (1, 10):
        inventory = fleet(hosts, VMS_PER_HOST, nic_gbit=nic, dirty_rates=(5, 10, 20, 40, 80))
        plan = _plan(inventory)
        rows.append(
            Result(NAME, f"{hosts} hypervisors at {nic} Gbit/s", "makespan hours", round(plan["makespan_s"] / 3600, 2))
        )
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(
            f"{row.case:<45} {row.metric:<24} {row.value:>10} {row.target:>8} "
            f"{'' if row.ok is None else ('ok' if row.ok else 'FAIL')}"
        )
