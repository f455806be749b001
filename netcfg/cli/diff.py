"""`netcfg diff`: the semantic difference of the rendered configurations."""

from __future__ import annotations

import json
from enum import StrEnum

import typer

from netcfg.cli import settings
from netcfg.cli.app import app
from netcfg.cli.console import emit
from netcfg.cli.options import BaseArgument, DesignOption, HeadArgument, InventoryDirOption
from netcfg.impact.analysis import analyse
from netcfg.model.host import DesignName
from netcfg.present.diff import diff_json, diff_text


class DiffFormat(StrEnum):
    text = "text"
    json = "json"


@app.command(rich_help_panel="Change impact")
def diff(
    base: str = BaseArgument,
    head: str | None = HeadArgument,
    inventory: str = InventoryDirOption,
    design: DesignName | None = DesignOption,
    fmt: DiffFormat = typer.Option(DiffFormat.text, "--format", help="Output format: text or json."),
) -> None:
    """Per machine, the rules, routes, addresses and interfaces the change adds (+) and
    removes (-), and machines added or removed: the semantic difference of the rendered
    configurations, never of the YAML text."""
    impact = analyse(base, head, design=design, inventory_dir=inventory, jobs=settings.jobs()).impact
    emit(json.dumps(diff_json(impact), indent=2) + "\n" if fmt is DiffFormat.json else diff_text(impact))
