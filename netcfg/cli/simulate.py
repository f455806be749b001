"""`netcfg simulate`: replay a plan and check its invariants."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from netcfg.cli.app import app
from netcfg.cli.console import out, reader_may_leave, say
from netcfg.cli.options import InventoryOption, OutputFormat, format_option, load
from netcfg.errors import InputError, Location, Problem
from netcfg.files import read_json, write_file
from netcfg.present.rollout import simulation_lines
from netcfg.present.timeline import render_html
from netcfg.rollout.model import plan_from_dict
from netcfg.rollout.simulate import simulate as replay


@app.command(rich_help_panel="Rollout")
def simulate(
    plan_file: Path = typer.Argument(..., metavar="PLAN", hidden=True),
    inventory: Path = InventoryOption,
    fmt: OutputFormat = format_option(OutputFormat.TEXT, OutputFormat.JSON),
    html_file: Path | None = typer.Option(
        None, "--html", metavar="FILE", help="Also write the timeline page of this plan to this file."
    ),
) -> None:
    """Replay a plan event by event (independently of the planner) and check capacity,
    maintenance, parallelism and anti-affinity. Exit 0 when clean, 3 on any violation.

    PLAN: a plan JSON file (netcfg plan --json, or any plan in that format)."""
    data = read_json(plan_file, "plan")
    if not isinstance(data, dict):
        raise InputError([Problem(Location(str(plan_file)), "not a plan file: expected a JSON object")])
    inv = load(inventory)
    sim = replay(data, inv, source=str(plan_file))
    if html_file is not None:  # before stdout, which a reader may close early
        page = render_html(plan_from_dict(data, str(plan_file)), sim, title=f"netcfg simulate {plan_file.name}")
        write_file(html_file, page)
        say(f"wrote {html_file}")
    with reader_may_leave():
        if fmt is OutputFormat.JSON:
            out.print_json(json.dumps(sim.to_dict()))
        else:
            for line in simulation_lines(sim):
                out.print(line, markup=False)
    if not sim.clean:
        raise typer.Exit(3)
