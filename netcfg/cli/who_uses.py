"""`netcfg who-uses`: the machines a prefix, an address or a segment reaches, and why."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from netcfg.cli.app import app
from netcfg.cli.console import emit, out, reader_may_leave, say
from netcfg.cli.options import DesignOption, InventoryOption, OutputFormat, format_option, load
from netcfg.errors import InputError
from netcfg.model.host import DesignName


@app.command(name="who-uses", rich_help_panel="Change impact")
def who_uses(
    query: str = typer.Argument(..., metavar="QUERY", hidden=True),
    inventory: Path = InventoryOption,
    design: DesignName | None = DesignOption,
    fmt: OutputFormat = format_option(OutputFormat.TEXT, OutputFormat.JSON),
) -> None:
    """Which machines use a prefix, an address or a segment, and why: machines holding an
    address in it, and (policy-routing) every machine whose rules and routes list it.
    Answers "what does changing this touch?" before changing it.

    QUERY: a prefix (198.51.100.64/27), an address (203.0.113.10) or a segment (fe)."""
    from rich.table import Table

    from netcfg.impact.uses import who_uses as find_users

    inv = load(inventory)
    try:
        uses = find_users(inv, query, design)
    except ValueError as error:
        raise InputError(str(error)) from None
    machines = len({u.machine for u in uses})
    if fmt is OutputFormat.JSON:
        rows = [{"machine": u.machine, "kind": u.kind.value, "segment": u.segment, "why": u.why} for u in uses]
        emit(json.dumps({"query": query, "machines": machines, "uses": rows}, indent=2) + "\n")
        return
    if not uses:
        say(f"no machine uses {query}")
        return
    table = Table(title=f"who uses {query}: {machines} machine{'s' if machines != 1 else ''}", title_justify="left")
    for column in ("machine", "kind", "segment", "why"):
        table.add_column(column, overflow="fold")
    for u in uses:
        table.add_row(u.machine, str(u.kind), u.segment, u.why)
    with reader_may_leave():
        out.print(table)
