"""`netcfg show`: one machine's addresses, rules and routes."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from netcfg.cli.app import app
from netcfg.cli.console import out
from netcfg.cli.options import (
    DesignOption,
    HostArgument,
    InventoryOption,
    OutputFormat,
    format_option,
    load,
    require_machine,
)
from netcfg.model.host import DesignName


@app.command(rich_help_panel="Render")
def show(
    host: str = HostArgument,
    inventory: Path = InventoryOption,
    design: DesignName | None = DesignOption,
    fmt: OutputFormat = format_option(OutputFormat.TEXT, OutputFormat.JSON),
    as_json: bool = typer.Option(False, "--json", hidden=True, help="The same as --format json."),
) -> None:
    """Print one machine's addresses, rules and routes as tables, or (--format json) its
    canonical model (exit 2 if the machine is unknown). HOST: the machine's name."""
    from netcfg.designs import render
    from netcfg.present.host import host_tables

    inv = load(inventory)
    config = render(inv, design, [require_machine(inv, host)])[host]
    if as_json or fmt is OutputFormat.JSON:
        out.print(json.dumps(config.to_dict(), sort_keys=True, indent=2), markup=False)
        return
    out.print(
        f"{config.name}: {config.kind}, design {config.design}" + (", forwarding" if config.forwarding else ""),
        markup=False,
    )
    for table in host_tables(config):
        if table.row_count:
            out.print(table)
        else:
            out.print(f"{table.title}: none", markup=False)
