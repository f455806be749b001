"""`netcfg plan`: a staggered rollout with evacuations, checked by the simulator."""

from __future__ import annotations

from pathlib import Path

import typer

from netcfg.cli import settings
from netcfg.cli.app import app
from netcfg.cli.console import say, show_lines
from netcfg.cli.options import DesignOption, HeadArgument, InventoryDirOption
from netcfg.cli.progress import progress_bar
from netcfg.errors import InputError
from netcfg.files import json_value, positions_in, read_bytes, write_file
from netcfg.gc_tuning import rare_full_collections
from netcfg.model.host import DesignName
from netcfg.words import plural


@app.command(rich_help_panel="Rollout")
def plan(
    base: str | None = typer.Argument(None, metavar="BASE", hidden=True, show_default=False),
    head: str | None = HeadArgument,
    from_report: Path | None = typer.Option(
        None,
        "--from-report",
        metavar="FILE",
        help="Plan from an impact report JSON (netcfg check --report-json) instead of BASE/HEAD.",
    ),
    inventory: str = InventoryDirOption,
    design: DesignName | None = DesignOption,
    json_file: Path | None = typer.Option(
        None, "--json", metavar="FILE", help="Write the plan JSON to this file (atomically)."
    ),
    html_file: Path | None = typer.Option(
        None, "--html", metavar="FILE", help="Write the timeline page (self-contained HTML+SVG) to this file."
    ),
    allow_unscheduled: bool = typer.Option(
        False,
        "--allow-unscheduled",
        help="Exit 0 even when the plan leaves part of the change unscheduled (VMs that cannot live-migrate).",
    ),
) -> None:
    """Plan a staggered rollout: hot-change waves, maintenance slots, evacuations with a
    target and a time for every live migration, as a dependency graph that stays safe
    whatever the durations. Exit 2 when no safe plan exists (names the hosts and the
    memory missing) or when --from-report's report is of another inventory; exit 6 when
    the plan leaves part of the change unscheduled (listed), unless --allow-unscheduled.

    BASE and HEAD: each a directory or a git revision (origin/main), read from git
    without touching the work tree; HEAD defaults to the working tree's --inventory."""
    # Here, not at the top: `netcfg --help` must not load the planner or jinja2.
    from netcfg.present.rollout import planned_lines, unscheduled_lines
    from netcfg.present.timeline import render_html
    from netcfg.rollout.model import plan_text
    from netcfg.rollout.pipeline import plan_change, plan_from_report

    # Planning 2,000 hypervisors makes hundreds of thousands of objects beside the loaded
    # inventory; with Python's default thresholds every full collection walks them all
    # again, in the planner and in writing and printing the plan alike.
    with rare_full_collections():
        if from_report is not None:
            if base is not None:
                raise InputError("give BASE [HEAD] or --from-report, not both")
            from netcfg.inventory.load import load_inventory_beside

            raw = read_bytes(from_report, "impact report")
            report = json_value(raw, from_report, "impact report")
            jobs = settings.jobs()
            with progress_bar() as progress, positions_in(from_report, raw):
                # Planning needs one core for seconds: the inventory's checks take the other.
                planned = load_inventory_beside(
                    inventory, lambda inv: plan_from_report(report, inv, str(from_report), jobs, progress), jobs
                )
        elif base is not None:
            with progress_bar() as progress:
                planned = plan_change(
                    base, head, design=design, inventory_dir=inventory, jobs=settings.jobs(), progress=progress
                )
        else:
            raise InputError("give BASE [HEAD] (directories or git revisions) or --from-report REPORT.json")
        # Files first: a reader that closes stdout early (`| head`) must not cost them.
        if json_file is not None:
            data = dict(planned.data if planned.data is not None else planned.plan.to_dict())
            if planned.decision is not None:
                data["decision"] = planned.decision.value  # rollout run says so
            write_file(json_file, plan_text(data))
            say(f"wrote {json_file}")
        if html_file is not None:
            page = render_html(planned.plan, planned.simulation, "netcfg rollout plan", planned.decision)
            write_file(html_file, page)
            say(f"wrote {html_file}")
        for note in planned.notes:
            say(note)
        show_lines(planned_lines(planned))
        sim = planned.simulation
        if not sim.clean:
            # The planner broke an invariant its own simulator checks: a bug, not bad input.
            for v in sim.violations[:20]:
                say(f"violation: {v.time_s:.0f} s {v.host} {v.invariant}: {v.message}")
            raise RuntimeError(f"the planner produced a plan with {len(sim.violations)} invariant violations")
        left = planned.plan.unscheduled
        if left:
            for line in unscheduled_lines(planned.plan):
                say(line)
            if not allow_unscheduled:
                say(
                    f"netcfg plan: {plural(len(left), 'host')} of the change left unscheduled (exit 6): act on "
                    f"{'it' if len(left) == 1 else 'them'} and plan again, or accept the partial plan with "
                    "--allow-unscheduled"
                )
                raise typer.Exit(6)
