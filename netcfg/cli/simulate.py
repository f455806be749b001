"""`netcfg simulate`: replay a plan and check its invariants, exactly as timed or, with
--jitter, through its dependency graph with durations stretched and shrunk at random."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from netcfg.cli import settings
from netcfg.cli.app import app
from netcfg.cli.console import say, show_json, show_lines
from netcfg.cli.options import InventoryOption, OutputFormat, format_option, load, whole_number
from netcfg.errors import InputError, quote
from netcfg.files import json_value, positions_in, read_bytes, write_file
from netcfg.problems import Location, Problem

if TYPE_CHECKING:
    from netcfg.model.inventory import Inventory
    from netcfg.rollout.simulate import Simulation


MAX_FACTOR = 1000.0
MAX_RUNS = 100_000  # 200 runs prove a 500-hypervisor plan in under a minute; a typo must not run for days


def parse_jitter(value: str) -> tuple[float, float]:
    """--jitter LO:HI: two positive numbers, LO at most HI."""
    where = Location("--jitter")
    low_text, colon, high_text = value.partition(":")
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        low = high = math.nan
    if not colon or not (math.isfinite(low) and math.isfinite(high)):
        raise InputError([Problem(where, f"expected LO:HI, two numbers such as 0.3:3.0, not {quote(value)}")])
    if low <= 0 or high <= 0:
        raise InputError([Problem(where, f"the factors must be above 0 (a step takes some time), not {quote(value)}")])
    if low > high:
        raise InputError([Problem(where, f"LO ({low:g}) is above HI ({high:g}) in {quote(value)}")])
    if low < 1 / MAX_FACTOR or high > MAX_FACTOR:
        # Beyond this the replay says nothing more, and its sums could overflow to infinity.
        raise InputError([Problem(where, f"the factors must lie within 1/{MAX_FACTOR:g} and {MAX_FACTOR:g}")])
    return low, high


@app.command(rich_help_panel="Rollout")
def simulate(
    plan_file: Path = typer.Argument(..., metavar="PLAN", hidden=True),
    inventory: Path = InventoryOption,
    fmt: OutputFormat = format_option(OutputFormat.TEXT, OutputFormat.JSON),
    html_file: Path | None = typer.Option(
        None, "--html", metavar="FILE", help="Also write the timeline page of this plan to this file."
    ),
    jitter: str | None = typer.Option(
        None,
        "--jitter",
        metavar="LO:HI",
        help="Replay the plan's dependency graph instead of its times: every duration times a random factor "
        "in [LO, HI] (e.g. 0.3:3.0), every step started when the steps it waits for have ended.",
    ),
    runs: int | None = typer.Option(
        None,
        "--runs",
        parser=whole_number("--runs", 1, MAX_RUNS),
        metavar="N",
        help=f"Jittered replays, at most {MAX_RUNS:,} [default: 100].",
    ),
    seed: int | None = typer.Option(
        None, "--seed", parser=whole_number("--seed"), metavar="S", help="Random seed of --jitter [default: 0]."
    ),
) -> None:
    """Replay a plan event by event (independently of the planner) and check capacity,
    maintenance, parallelism and anti-affinity. Exit 0 when clean, 3 on any violation.

    PLAN: a plan JSON file (netcfg plan --json, or any plan in that format). Without
    --jitter the replay is exact (the plan's own times); with it, the plan's `after`
    dependencies are replayed --runs times and the makespan's p50 and p95 are reported
    against the planned one."""
    bounds = parse_jitter(jitter) if jitter is not None else None
    if bounds is None and (runs is not None or seed is not None):
        raise InputError([Problem(Location("--runs" if runs is not None else "--seed"), "only with --jitter LO:HI")])
    raw = read_bytes(plan_file, "plan")
    data = json_value(raw, plan_file, "plan")
    if not isinstance(data, dict):
        raise InputError([Problem(Location(str(plan_file)), "not a plan file: expected a JSON object")])
    inv = load(inventory)
    with positions_in(plan_file, raw):
        _simulated(data, inv, plan_file, bounds, runs, seed, fmt, html_file)


def _simulated(
    data: dict[str, Any],
    inv: Inventory,
    plan_file: Path,
    bounds: tuple[float, float] | None,
    runs: int | None,
    seed: int | None,
    fmt: OutputFormat,
    html_file: Path | None,
) -> None:
    if bounds is not None:
        _jittered(data, inv, plan_file, bounds, runs or 100, seed or 0, fmt, html_file)
        return
    from netcfg.present.rollout import simulation_lines
    from netcfg.rollout.jitter import simulate_plan

    sim = simulate_plan(data, inv, source=str(plan_file), jobs=settings.jobs())
    _page(data, plan_file, sim, html_file)
    if fmt is OutputFormat.JSON:
        show_json(sim.to_dict())
    else:
        show_lines(simulation_lines(sim))
    if not sim.clean:
        raise typer.Exit(3)


def _page(data: dict[str, Any], plan_file: Path, sim: Simulation, html_file: Path | None) -> None:
    if html_file is None:
        return
    from netcfg.present.timeline import render_html
    from netcfg.rollout.model import plan_from_dict

    # Before stdout, which a reader may close early.
    page = render_html(plan_from_dict(data, str(plan_file)), sim, title=f"netcfg simulate {plan_file.name}")
    write_file(html_file, page)
    say(f"wrote {html_file}")


def _jittered(
    data: dict[str, Any],
    inventory: Inventory,
    plan_file: Path,
    bounds: tuple[float, float],
    runs: int,
    seed: int,
    fmt: OutputFormat,
    html_file: Path | None,
) -> None:
    from netcfg.present.rollout import jitter_lines
    from netcfg.rollout.jitter import simulate_jittered
    from netcfg.rollout.simulate import simulate as replay

    result = simulate_jittered(data, inventory, bounds[0], bounds[1], runs, seed, source=str(plan_file))
    if html_file is not None:
        _page(data, plan_file, replay(data, inventory, source=str(plan_file)), html_file)
    if fmt is OutputFormat.JSON:
        show_json(result.to_dict())
    else:
        show_lines(jitter_lines(result))
    if not result.clean:
        raise typer.Exit(3)
