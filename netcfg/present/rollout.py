"""Plans and simulations in words, for the terminal."""

from __future__ import annotations

from netcfg.impact.model import Decision
from netcfg.rollout.model import Plan
from netcfg.rollout.pipeline import PlannedRollout
from netcfg.rollout.simulate import Simulation


def _clock(seconds: float) -> str:
    minutes = int(round(seconds / 60))
    return f"{minutes // 60}h{minutes % 60:02d}"


def planned_lines(planned: PlannedRollout) -> list[str]:
    lines = []
    if planned.decision is not None:
        note = " (the plan is what an approval would start)" if planned.decision is Decision.BLOCK else ""
        lines.append(
            f"impact: {planned.decision}, {planned.hosts_touched} of {planned.hosts_total} machines touched{note}"
        )
    return lines + plan_lines(planned.plan, planned.simulation)


def plan_lines(plan: Plan, sim: Simulation) -> list[str]:
    lines = []
    gib = sum(m.gib for m in plan.migrations)
    lines.append(
        f"plan: {len(plan.waves)} hot waves ({sum(len(w.hosts) for w in plan.waves)} hosts), "
        f"{len(plan.maintenance)} maintenance windows, {len(plan.evacuated)} hypervisors evacuated "
        f"({len(plan.migrations)} live migrations, {gib:,.0f} GiB)"
    )
    spans: dict[str, list[float]] = {}
    for m in plan.migrations:
        span = spans.setdefault(m.source, [m.start_s, m.end_s])
        span[0], span[1] = min(span[0], m.start_s), max(span[1], m.end_s)
    order = sorted(spans.items(), key=lambda item: (item[1][0], item[0]))
    if order:
        shown = ", ".join(f"{h} {_clock(s)}-{_clock(e)}" for h, (s, e) in order[:10])
        lines.append(f"  evacuations: {shown}" + (f" ... and {len(order) - 10} more" if len(order) > 10 else ""))
    for w in plan.waves:
        name = "canary" if w.index == 0 else f"wave {w.index}"
        lines.append(
            f"  {name}: {w.start_s:.0f}-{w.end_s:.0f} s, {len(w.hosts)} hosts: "
            + ", ".join(w.hosts[:8])
            + (" ..." if len(w.hosts) > 8 else "")
        )
    seconds = [p for p in plan.lower_bound_parts if not p[0].endswith("(GiB)")]
    bound = max(seconds, key=lambda p: p[1])[0] if seconds else "-"
    lines.append(
        f"makespan {plan.makespan_s:,.0f} s ({_clock(plan.makespan_s)}), lower bound "
        f"{plan.lower_bound_s:,.0f} s ({bound}), ratio {plan.ratio:.3f}"
    )
    lines.append(
        f"peak parallel evacuations {sim.peak_parallel_evacuations}, peak parallel migrations "
        f"{sim.peak_migrations}; simulator: " + ("clean" if sim.clean else f"{len(sim.violations)} violations")
    )
    if plan.non_converging:
        lines.append(
            f"{len(plan.non_converging)} VMs cannot be live-migrated (pre-copy does not converge); "
            f"their hypervisors are NOT scheduled: {', '.join(plan.unscheduled)}"
        )
        for n in plan.non_converging:
            lines.append(
                f"  {n.vm} on {n.host}: dirties {n.dirty_mib_s:g} MiB/s, a migration gets at most "
                f"{n.rate_mib_s:.0f} MiB/s: {n.advice}"
            )
    return lines


def simulation_lines(sim: Simulation) -> list[str]:
    lines = []
    for v in sim.violations:
        lines.append(
            f"VIOLATION {v.time_s:>10.1f} s  {v.host:<12} {v.invariant:<12} {v.amount:+.1f} {v.unit}: {v.message}"
        )
    lines.append("peak memory per host (resident + incoming / capacity):")
    for host in sorted(sim.peak_gib, key=lambda h: (-(sim.peak_gib[h] / (sim.capacity_gib[h] or 1)), h)):
        peak, cap = sim.peak_gib[host], sim.capacity_gib[host]
        mark = "  OVER" if peak > cap + 1e-9 else ""
        lines.append(f"  {host:<12} {peak:8.1f} / {cap:g} GiB{mark}")
    over = sim.overcommitted()
    lines.append(
        f"peak parallel evacuations {sim.peak_parallel_evacuations}, peak parallel migrations "
        f"{sim.peak_migrations}, makespan {sim.makespan_s:,.0f} s"
    )
    if sim.clean:
        lines.append("clean: no invariant violated")
    else:
        lines.append(
            f"{len(sim.violations)} violations; {len(over)} hosts overcommitted, by up to "
            f"{max(over.values(), default=0):.0f} GiB (total {sum(over.values()):.0f} GiB)"
        )
    return lines
