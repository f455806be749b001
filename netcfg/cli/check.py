"""`netcfg check`: the CI gate for inventory pull requests."""

from __future__ import annotations

from pathlib import Path

import typer

from netcfg.cli.app import app
from netcfg.cli.console import complain, emit, say
from netcfg.cli.options import DesignOption, InventoryDirOption
from netcfg.errors import InputError
from netcfg.model.host import DesignName


@app.command(rich_help_panel="Change impact")
def check(
    base: str = typer.Option(
        ..., "--base", metavar="REV|DIR", help="Base to compare against: a git revision (origin/main) or a directory."
    ),
    inventory: str = InventoryDirOption,
    report_json: Path | None = typer.Option(
        None, "--report-json", metavar="FILE", help="Write the JSON report to this file."
    ),
    report_md: Path | None = typer.Option(
        None,
        "--report-md",
        metavar="FILE",
        help="Write the Markdown summary to this file (default: print it to stdout).",
    ),
    design: DesignName | None = DesignOption,
) -> None:
    """The CI gate for inventory pull requests: analyse the change from --base to the
    working tree's inventory, write a Markdown summary (for a PR comment) and a JSON
    report. Exit 0 pass or stagger, 3 blocked by the seatbelt (until an approvals/*.yaml
    names the change's digest), 2 invalid inventory (its errors in the summary)."""
    from netcfg.cli.progress import analyse_showing_progress
    from netcfg.files import report_json as report_json_text
    from netcfg.files import write_file
    from netcfg.impact.model import Decision, Impact
    from netcfg.present.markdown import summary

    try:
        impact = analyse_showing_progress(base, None, design, inventory)
        code = 3 if impact.decision is Decision.BLOCK else 0
    except InputError as error:
        impact = Impact.invalid(error.problems)
        for problem in error.problems:
            complain(str(problem))
        code = 2
    markdown = summary(impact)
    if report_json is not None:
        write_file(report_json, report_json_text(impact.to_json()))
    if report_md is not None:
        write_file(report_md, markdown)
    else:
        emit(markdown)
    say(f"netcfg check: {impact.decision} (exit {code})")
    raise typer.Exit(code)
