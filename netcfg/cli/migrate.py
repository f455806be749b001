"""`netcfg migrate`: move a fleet to another design in stages that drop no flow."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from netcfg.cli.app import app
from netcfg.cli.console import emit, say, show_lines
from netcfg.cli.options import (
    InventoryAlsoOption,
    InventoryArgument,
    OutputFormat,
    RpFilterOption,
    format_option,
    inventory_path,
    load,
    parse_design,
    whole_number,
)
from netcfg.files import write_file


@app.command(rich_help_panel="Rollout")
def migrate(
    inventory_argument: Path | None = InventoryArgument,
    inventory_option: Path | None = InventoryAlsoOption,
    to: str = typer.Option(..., "--to", metavar="DESIGN", help="The design to move every machine to: flat."),
    max_stage: int | None = typer.Option(
        None,
        "--max-stage",
        parser=whole_number("--max-stage", 1),
        metavar="N",
        help="At most N machines per stage (default: the most the seatbelt lets through without an approval).",
    ),
    fmt: OutputFormat = format_option(OutputFormat.TEXT, OutputFormat.JSON),
    html_file: Path | None = typer.Option(
        None, "--html", metavar="FILE", help="Also write a self-contained page of the plan to this file."
    ),
    rp_filter: str = RpFilterOption,
) -> None:
    """Plan the move of every machine to another design (--to flat) in stages: every
    intermediate fleet, some machines moved and some not, is verified like `netcfg
    verify` does, and no stage may drop a flow the fleet delivers today (rp_filter
    included). Each stage is a change like any other: classified, judged by the
    seatbelt, planned and simulated by the rollout planner. Prints per stage its
    machines, its verification, the seatbelt's verdict and its rollout time, then the
    total. Where no safe order exists, says which flows force it and what inventory
    change would help, and exits 3. The JSON (`stages`, `total_makespan_s`) is what
    `lab up --stage PLAN:K` and `verify --stage PLAN:K` read.

    INVENTORY (or --inventory): a directory of YAML files, merged, or one file;
    default inventory/."""
    from netcfg.cli.progress import progress_bar
    from netcfg.present.migrate import migration_lines, render_html
    from netcfg.rollout.migrate import plan_migration
    from netcfg.verify.fib import RpFilter

    target = parse_design(to, "--to")
    inv = load(inventory_path(inventory_argument, inventory_option))
    with progress_bar() as progress:
        migration = plan_migration(inv, target, max_stage, progress=progress, rp_filter=RpFilter(rp_filter))
    if html_file is not None:  # before stdout, which a reader may close early
        write_file(html_file, render_html(migration, f"netcfg migrate --to {target}"))
        say(f"wrote {html_file}")
    if fmt is OutputFormat.JSON:
        emit(json.dumps(migration.to_json(), indent=1) + "\n")
    else:
        show_lines(migration_lines(migration))
    if migration.refusal is not None:
        say(f"netcfg migrate: no safe order to {target} (exit 3)")
        raise typer.Exit(3)
