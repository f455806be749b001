"""`netcfg diff`: the semantic difference of the rendered configurations."""

from __future__ import annotations

import json

from netcfg.cli import settings
from netcfg.cli.app import app
from netcfg.cli.console import emit
from netcfg.cli.options import BaseArgument, DesignOption, HeadArgument, InventoryDirOption, OutputFormat, format_option
from netcfg.impact.analysis import analyse
from netcfg.model.host import DesignName
from netcfg.present.diff import diff_json, diff_text


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
    configurations, never of the YAML text."""
    impact = analyse(base, head, design=design, inventory_dir=inventory, jobs=settings.jobs()).impact
    emit(json.dumps(diff_json(impact), indent=2) + "\n" if fmt is OutputFormat.JSON else diff_text(impact))
