"""Plans and simulations in words, for the terminal."""

from __future__ import annotations

from netcfg.impact.model import Decision
from netcfg.rollout.jitter import JitteredReplay
from netcfg.rollout.model import Plan
from netcfg.rollout.pipeline import PlannedRollout
from netcfg.rollout.simulate import Simulation, Violation
from netcfg.words import clock, plural

BLOCKED = (
    "BLOCKED by the seatbelt: this change may not roll out until an approver approves it "
    "(an approvals/*.yaml naming its digest); the plan below is what would run then"
)


def planned_lines(planned: PlannedRollout) -> list[str]:
    lines = []
    if planned.decision is Decision.BLOCK:
        lines.append(BLOCKED)
    if planned.decision is not None:
        lines.append(f"impact: {planned.decision}, {planned.hosts_touched} of {planned.hosts_total} machines touched")
    return lines + plan_lines(planned.plan, planned.simulation)


def unscheduled_lines(plan: Plan) -> list[str]:
    """What a plan leaves out, one line each: the hosts not scheduled and why."""
    why: dict[str, list[str]] = {}
    for n in plan.non_converging:
        why.setdefault(n.host, []).append(n.vm)
    return [
        f"unscheduled: {host}"
        + (f" ({', '.join(why[host])} cannot be live-migrated: pre-copy never converges)" if host in why else "")
        for host in plan.unscheduled
    ]


def jitter_lines(result: JitteredReplay) -> list[str]:
    """A jittered replay: the violations grouped like simulation_lines, then the makespans."""
    lines = [
        f"jitter {result.low:g}-{result.high:g} x every planned duration, {plural(result.runs, 'run')} "
        f"(seed {result.seed}): each step starts when the steps it waits for have ended"
    ]
    groups: dict[tuple[str, str], list[tuple[int, Violation]]] = {}
    for run, v in result.examples:
        groups.setdefault((v.invariant, v.host), []).append((run, v))
    for (invariant, host), found in sorted(groups.items()):
        run, worst = max(found, key=lambda item: item[1].amount)
        lines.append(
            f"VIOLATION {invariant:<12} {host:<12} in run {run} at {clock(worst.time_s)}, worst {_amount(worst)}: "
            f"{worst.message}"
        )
    planned = result.planned_makespan_s
    lines.append(
        f"makespan: planned {clock(planned)} ({planned:,.0f} s); jittered p50 {clock(result.percentile(50))} "
        f"({result.ratio(50):.2f} x), p95 {clock(result.percentile(95))} ({result.ratio(95):.2f} x), "
        f"range {clock(min(result.makespans, default=0.0))} to {clock(max(result.makespans, default=0.0))}"
    )
    if result.clean:
        lines.append(f"clean: no invariant violated in any of {plural(result.runs, 'run')}")
    else:
        lines.append(
            f"{plural(result.violations, 'violation')} in {result.failed_runs} of {plural(result.runs, 'run')}"
            + (f" (the first {len(result.examples)} shown)" if result.violations > len(result.examples) else "")
        )
    return lines


def plan_lines(plan: Plan, sim: Simulation) -> list[str]:
    lines = []
    gib = sum(m.gib for m in plan.migrations)
    lines.append(
        f"plan: {plural(len(plan.waves), 'hot wave')} ({plural(sum(len(w.hosts) for w in plan.waves), 'host')}), "
        f"{plural(len(plan.maintenance), 'maintenance window')}, {plural(len(plan.evacuated), 'hypervisor')} evacuated "
        f"({plural(len(plan.migrations), 'live migration')}, {gib:,.0f} GiB)"
    )
    spans: dict[str, list[float]] = {}
    for m in plan.migrations:
        span = spans.setdefault(m.source, [m.start_s, m.end_s])
        span[0], span[1] = min(span[0], m.start_s), max(span[1], m.end_s)
    order = sorted(spans.items(), key=lambda item: (item[1][0], item[0]))
    if order:
        shown = ", ".join(f"{h} {clock(s)}-{clock(e)}" for h, (s, e) in order[:10])
        lines.append(f"  evacuations: {shown}" + (f" ... and {len(order) - 10} more" if len(order) > 10 else ""))
    for w in plan.waves:
        lines.append(
            f"  {w.name}: {w.start_s:.0f}-{w.end_s:.0f} s, {plural(len(w.hosts), 'host')}: "
            + ", ".join(w.hosts[:8])
            + (" ..." if len(w.hosts) > 8 else "")
        )
    seconds = [p for p in plan.lower_bound_parts if not p[0].endswith("(GiB)")]
    bound = max(seconds, key=lambda p: p[1])[0] if seconds else "-"
    lines.append(
        f"makespan {plan.makespan_s:,.0f} s ({clock(plan.makespan_s)}), lower bound "
        f"{plan.lower_bound_s:,.0f} s ({bound}), ratio {plan.ratio:.3f}"
    )
    lines.append(
        f"peak parallel evacuations {sim.peak_parallel_evacuations}, peak parallel migrations "
        f"{sim.peak_migrations}; simulator: " + ("clean" if sim.clean else plural(len(sim.violations), "violation"))
    )
    if plan.non_converging:
        lines.append(
            f"{plural(len(plan.non_converging), 'VM')} cannot be live-migrated (pre-copy does not converge); "
            f"their hypervisors are NOT scheduled: {', '.join(plan.unscheduled)}"
        )
        for n in plan.non_converging:
            lines.append(
                f"  {n.vm} on {n.host}: dirties {n.dirty_mib_s:g} MiB/s, a migration gets at most "
                f"{n.rate_mib_s:.0f} MiB/s: {n.advice}"
            )
    return lines


def _amount(violation: Violation) -> str:
    """How far over: a quantity (`+12.0 GiB`) or a count (`+1 host`, `+22 migrations`)."""
    if violation.unit in ("GiB", "s"):
        return f"{violation.amount:+.1f} {violation.unit}"
    noun = violation.unit[:-1] if violation.unit.endswith("s") else violation.unit
    return "+" + plural(round(violation.amount), noun)


def simulation_lines(sim: Simulation) -> list[str]:
    """One line per violated invariant and host (its worst moment, when it began, how
    many events), not one per event: the naive 2017 plan breaks capacity 487 times."""
    groups: dict[tuple[str, str], list[Violation]] = {}
    for v in sim.violations:
        groups.setdefault((v.invariant, v.host), []).append(v)
    lines = []
    for (invariant, host), found in sorted(groups.items(), key=lambda item: (item[1][0].time_s, item[0])):
        worst = max(found, key=lambda v: v.amount)
        events = f", {len(found)} events" if len(found) > 1 else ""
        lines.append(
            f"VIOLATION {invariant:<12} {host:<12} from {clock(found[0].time_s)}, worst {_amount(worst)}"
            f" at {clock(worst.time_s)}{events}: {worst.message}"
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
            f"{plural(len(sim.violations), 'violation')}; {plural(len(over), 'host')} overcommitted, by up to "
            f"{max(over.values(), default=0):.0f} GiB (total {sum(over.values()):.0f} GiB)"
        )
    return lines
