"""`netcfg plan` (staggered rollout with evacuations) and `netcfg simulate` (replay a plan
and check its invariants). Thin: the logic lives in netcfg.rollout."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from netcfg.cli.app import app
from netcfg.cli.common import err, load, out, reader_may_leave
from netcfg.errors import InputError, Location, Problem
from netcfg.files import write_atomic
from netcfg.model.inventory import DesignName
from netcfg.rollout.model import DISRUPTIVE, HOT, Change, Plan
from netcfg.rollout.plan import plan_rollout
from netcfg.rollout.simulate import Simulation
from netcfg.rollout.simulate import simulate as replay
from netcfg.present.timeline import render_html


class SimFormat(str, Enum):
    text = "text"
    json = "json"


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError([Problem(Location(str(path)), f"cannot read the {what}: {error.strerror}")]) from None
    except json.JSONDecodeError as error:
        raise InputError([Problem(Location(str(path), error.lineno, error.colno),
                                  f"the {what} is not JSON: {error.msg}")]) from None


def changes_from_report(report: Any, source: str) -> list[Change]:
    """The touched hosts of an impact report (`hosts` [{name, change}])."""
    if isinstance(report, dict) and report.get("decision") == "invalid":
        raise InputError([Problem(Location(source), "the report is of an inventory that does not load: "
                                  "nothing to plan", "fix the errors it lists, then run netcfg check again")])
    try:
        hosts = report["hosts"]
        # A machine the change removes has nothing left to roll out.
        changes = [Change(str(h["name"]), str(h["change"])) for h in hosts if h.get("state") != "removed"]
    except (KeyError, TypeError) as error:
        raise InputError([Problem(Location(source), f"not an impact report: bad or missing {error}",
                                  "expected hosts [{name, change}] as `netcfg check --report-json` writes")]) from None
    bad = [c for c in changes if c.change not in (HOT, DISRUPTIVE)]
    if bad:
        raise InputError([Problem(Location(source), f"{c.host}: change {c.change!r} is neither hot nor disruptive")
                          for c in bad])
    return changes


def _clock(seconds: float) -> str:
    minutes = int(round(seconds / 60))
    return f"{minutes // 60}h{minutes % 60:02d}"


def _summary(plan: Plan, sim: Simulation) -> list[str]:
    lines = []
    gib = sum(m.gib for m in plan.migrations)
    evacuated = plan.evacuated
    lines.append(
        f"plan: {len(plan.waves)} hot waves ({sum(len(w.hosts) for w in plan.waves)} hosts), "
        f"{len(plan.maintenance)} maintenance windows, {len(evacuated)} hypervisors evacuated "
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
        lines.append(f"  {name}: {w.start_s:.0f}-{w.end_s:.0f} s, {len(w.hosts)} hosts: "
                     + ", ".join(w.hosts[:8]) + (" ..." if len(w.hosts) > 8 else ""))
    seconds = [p for p in plan.lower_bound_parts if not p[0].endswith("(GiB)")]
    bound = max(seconds, key=lambda p: p[1])[0] if seconds else "-"
    lines.append(f"makespan {plan.makespan_s:,.0f} s ({_clock(plan.makespan_s)}), lower bound "
                 f"{plan.lower_bound_s:,.0f} s ({bound}), ratio {plan.ratio:.3f}")
    lines.append(f"peak parallel evacuations {sim.peak_parallel_evacuations}, peak parallel migrations "
                 f"{sim.peak_migrations}; simulator: "
                 + ("clean" if sim.clean else f"{len(sim.violations)} violations"))
    if plan.non_converging:
        lines.append(f"{len(plan.non_converging)} VMs cannot be live-migrated (pre-copy does not converge); "
                     f"their hypervisors are NOT scheduled: {', '.join(plan.unscheduled)}")
        for n in plan.non_converging:
            lines.append(f"  {n.vm} on {n.host}: dirties {n.dirty_mib_s:g} MiB/s, a migration gets at most "
                         f"{n.rate_mib_s:.0f} MiB/s: {n.advice}")
    return lines


@app.command(rich_help_panel="Rollout")
def plan(
    base: str | None = typer.Argument(None, help="Base inventory: a directory or a git revision (e.g. origin/main)."),
    head: str | None = typer.Argument(
        None, help="Head inventory: a directory or a git revision (default: the working tree's --inventory)."
    ),
    from_report: Path | None = typer.Option(
        None, "--from-report", help="Plan from an impact report JSON (netcfg check --report-json) instead of BASE/HEAD."
    ),
    inventory: str = typer.Option(
        "inventory", "--inventory",
        help="Inventory directory: the head (and the one read with --from-report), and the directory read inside git revisions.",
    ),
    design: DesignName | None = typer.Option(None, "--design", help="Render both sides with this design (BASE/HEAD mode)."),
    json_file: Path | None = typer.Option(None, "--json", help="Write the plan JSON to this file (atomically)."),
    html_file: Path | None = typer.Option(None, "--html", help="Write the timeline page (self-contained HTML+SVG) to this file."),
) -> None:
    """Plan a staggered rollout: hot-change waves, maintenance slots, evacuations with a
    target and a time for every live migration. Exit 2 when no safe plan exists (names
    the hosts and the memory missing)."""
    if from_report is not None:
        if base is not None:
            raise InputError("give BASE [HEAD] or --from-report, not both")
        report = _read_json(from_report, "impact report")
        changes = changes_from_report(report, str(from_report))
        head_inventory = load(Path(inventory))
    elif base is not None:
        try:
            from netcfg.impact.analysis import analyse
        except ImportError:  # the impact layer is optional for planning from a report
            raise InputError("impact analysis is unavailable: use --from-report REPORT.json") from None
        analysis = analyse(base, head, design=design, inventory_dir=inventory)
        report = analysis.report
        changes = changes_from_report(report, "impact analysis")
        head_inventory = analysis.head
    else:
        raise InputError("give BASE [HEAD] (directories or git revisions) or --from-report REPORT.json")

    result = plan_rollout(head_inventory, changes)
    data = result.to_dict()
    sim = replay(data, head_inventory, source="<plan>")
    # Files first: a reader that closes stdout early (`| head`) must not cost them.
    if json_file is not None:
        write_atomic(json_file, json.dumps(data, indent=1) + "\n")
        err.print(f"wrote {escape(str(json_file))}")
    if html_file is not None:
        write_atomic(html_file, render_html(data, sim, title="netcfg rollout plan"))
        err.print(f"wrote {escape(str(html_file))}")
    with reader_may_leave():
        if isinstance(report.get("decision"), str) and "hosts_touched" in report:
            out.print(escape(f"impact: {report['decision']}, {report['hosts_touched']} of "
                             f"{report.get('hosts_total', '?')} machines touched"
                             + (" (the plan is what an approval would start)" if report["decision"] == "block" else "")))
        for line in _summary(result, sim):
            out.print(escape(line))
    if not sim.clean:
        # The planner broke an invariant its own simulator checks: a bug, not bad input.
        for v in sim.violations[:20]:
            err.print(escape(f"violation: {v.time_s:.0f} s {v.host} {v.invariant}: {v.message}"))
        raise RuntimeError(f"the planner produced a plan with {len(sim.violations)} invariant violations")


@app.command(rich_help_panel="Rollout")
def simulate(
    plan_file: Path = typer.Argument(..., help="Plan JSON file (netcfg plan --json, or any plan in that format)."),
    inventory: Path = typer.Option(Path("inventory"), "--inventory", help="Inventory the plan applies to (directory or file)."),
    fmt: SimFormat = typer.Option(SimFormat.text, "--format", help="Output format: text or json."),
    html_file: Path | None = typer.Option(None, "--html", help="Also write the timeline page of this plan to this file."),
) -> None:
    """Replay a plan event by event (independently of the planner) and check capacity,
    maintenance, parallelism and anti-affinity. Exit 0 when clean, 3 on any violation."""
    data = _read_json(plan_file, "plan")
    if not isinstance(data, dict):
        raise InputError([Problem(Location(str(plan_file)), "not a plan file: expected a JSON object")])
    inv = load(inventory)
    sim = replay(data, inv, source=str(plan_file))
    if html_file is not None:  # before stdout, which a reader may close early
        write_atomic(html_file, render_html(data, sim, title=f"netcfg simulate {plan_file.name}"))
        err.print(f"wrote {escape(str(html_file))}")
    with reader_may_leave():
        if fmt is SimFormat.json:
            out.print_json(json.dumps(sim.to_dict()))
        else:
            for line in _sim_text(sim):
                out.print(escape(line))
    if not sim.clean:
        raise typer.Exit(3)


def _sim_text(sim: Simulation) -> list[str]:
    lines = []
    for v in sim.violations:
        lines.append(f"VIOLATION {v.time_s:>10.1f} s  {v.host:<12} {v.invariant:<12} "
                     f"{v.amount:+.1f} {v.unit}: {v.message}")
    lines.append("peak memory per host (resident + incoming / capacity):")
    for host in sorted(sim.peak_gib, key=lambda h: (-(sim.peak_gib[h] / (sim.capacity_gib[h] or 1)), h)):
        peak, cap = sim.peak_gib[host], sim.capacity_gib[host]
        mark = "  OVER" if peak > cap + 1e-9 else ""
        lines.append(f"  {host:<12} {peak:8.1f} / {cap:g} GiB{mark}")
    over = sim.overcommitted()
    lines.append(f"peak parallel evacuations {sim.peak_parallel_evacuations}, peak parallel migrations "
                 f"{sim.peak_migrations}, makespan {sim.makespan_s:,.0f} s")
    if sim.clean:
        lines.append("clean: no invariant violated")
    else:
        lines.append(f"{len(sim.violations)} violations; {len(over)} hosts overcommitted, by up to "
                     f"{max(over.values(), default=0):.0f} GiB (total {sum(over.values()):.0f} GiB)")
    return lines
