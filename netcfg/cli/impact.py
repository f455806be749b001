"""`netcfg impact`: preview what a change touches, and what the seatbelt would say."""

from __future__ import annotations

import typer

from netcfg.cli.app import app
from netcfg.cli.console import emit, show_lines
from netcfg.cli.options import (
    BaseArgument,
    DesignOption,
    HeadArgument,
    InventoryDirOption,
    OutputFormat,
    format_option,
    whole_number,
)
from netcfg.model.host import DesignName


@app.command(rich_help_panel="Change impact")
def impact(
    base: str = BaseArgument,
    head: str | None = HeadArgument,
    inventory: str = InventoryDirOption,
    design: DesignName | None = DesignOption,
    fmt: OutputFormat = format_option(OutputFormat.TEXT, OutputFormat.JSON, OutputFormat.MARKDOWN),
    limit: int = typer.Option(
        100,
        "--limit",
        parser=whole_number("--limit"),
        metavar="N",
        help="Text format: show at most this many machines (0: all).",
    ),
) -> None:
    """Preview a change: machines touched of all, per segment and kind, hot and
    disruptive, VMs to evacuate, the seatbelt's decision and why, then the affected
    machines with the inventory changes that touched them. Exits 0 even when the
    change would be blocked: `netcfg check` is the gate.

    BASE and HEAD: each a directory or a git revision (origin/main), read from git
    without touching the work tree; HEAD defaults to the working tree's --inventory."""
    from netcfg.cli.progress import analyse_showing_progress
    from netcfg.files import report_json
    from netcfg.present import impact as present
    from netcfg.present.markdown import summary

    result = analyse_showing_progress(base, head, design, inventory)
    if fmt is OutputFormat.JSON:
        emit(report_json(result.to_json()))
    elif fmt is OutputFormat.MARKDOWN:
        emit(summary(result, title="netcfg impact"))
    else:
        show_lines([*present.summary_lines(result), *present.tables(result, limit)])
