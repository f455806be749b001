"""`netcfg diff`: the semantic difference of the rendered configurations."""

from __future__ import annotations

import json

from netcfg.cli import settings
from netcfg.cli.app import app
from netcfg.cli.console import emit, out, reader_may_leave
from netcfg.cli.options import BaseArgument, DesignOption, HeadArgument, InventoryDirOption, OutputFormat, format_option
from netcfg.model.host import DesignName


@app.command(rich_help_panel="Change impact")
def diff(
    base: str = BaseArgument,
    head: str | None = HeadArgument,
    inventory: str = InventoryDirOption,
    design: DesignName | None = DesignOption,
    fmt: OutputFormat = format_option(OutputFormat.TEXT, OutputFormat.JSON),
) -> None:
    """Per machine, the rules, routes, addresses and interfaces the change adds (+) and
    removes (-), and machines added or removed: the semantic difference of the rendered
    configurations, never of the YAML text.

    BASE and HEAD: each a directory or a git revision (origin/main), read from git
    without touching the work tree; HEAD defaults to the working tree's --inventory."""
    from rich.text import Text

    from netcfg.cli.progress import analyse_showing_progress
    from netcfg.present.diff import diff_json, diff_text

    impact = analyse_showing_progress(base, head, design, inventory)
    if fmt is OutputFormat.JSON:
        emit(json.dumps(diff_json(impact), indent=2) + "\n")
    elif out.is_terminal and settings.colour_allowed():
        # On a terminal: additions green, removals red, as `git diff` shows them.
        with reader_may_leave():
            for line in diff_text(impact).splitlines():
                style = {"  +": "green", "  -": "red"}.get(line[:3], "" if line[:1] == " " else "bold")
                out.print(Text(line, style=style))
    else:
        emit(diff_text(impact))
