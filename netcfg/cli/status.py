"""`netcfg status`: drift between a machine's render and a namespace's live state."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from netcfg.cli.app import app
from netcfg.cli.applying import config_from_file
from netcfg.cli.console import emit
from netcfg.cli.options import (
    DesignOption,
    InventoryOption,
    NetnsOption,
    OutputFormat,
    format_option,
    machine_config,
)
from netcfg.errors import DriftError
from netcfg.model.host import DesignName
from netcfg.words import plural


@app.command(rich_help_panel="Kernel (root)")
def status(
    host: str | None = typer.Argument(None, metavar="HOST", hidden=True),
    from_file: Path | None = typer.Option(
        None,
        "--from",
        metavar="FILE",
        help="A machine's rendered JSON (netcfg render -f json: DIR/json/HOST.json) instead of the inventory,"
        " as apply --from reads it: nothing else is read. HOST, if given, must be the name in it.",
    ),
    inventory: Path = InventoryOption,
    netns: str = NetnsOption,
    fmt: OutputFormat = format_option(OutputFormat.TEXT, OutputFormat.JSON),
    design: DesignName | None = DesignOption,
) -> None:
    """Drift between HOST's desired config and the live owned state of a namespace:
    addresses, rules and routes that are missing, extra or different (same identity,
    other attributes). A desired entry already there but not netcfg's (unmarked) is
    no drift: it is listed as present. Exit 4 on drift, 0 when clean; read-only.

    With --from FILE the config comes from a rendered JSON file (checked field by field;
    a bad one is exit 2) and no inventory is read."""
    from netcfg.kernel.observe import observe
    from netcfg.kernel.reconcile import describe_provided, drift
    from netcfg.kernel.state import ownership
    from netcfg.present.drift import drift_json, drift_lines

    if from_file is not None:
        config = config_from_file(from_file, host, design)[0]
    else:
        config = machine_config(inventory, host, design, "status")
    host = config.name
    seen = observe(config, ownership(None, config), netns)
    found = drift(seen.desired, seen.live)
    present = [describe_provided(entry) for entry in seen.present]
    if fmt is OutputFormat.JSON:
        data = {
            "host": host,
            "netns": netns,
            "design": config.design.value,
            "drift": bool(found),
            "count": found.count,
            **drift_json(found),
            "present": present,
        }
        emit(json.dumps(data, indent=2) + "\n")
    else:
        lines = [f"present   {text} (not netcfg's: left alone)" for text in present]
        lines += drift_lines(found)
        lines.append(f"{host} in netns {netns}: " + (plural(found.count, "difference") if found else "no drift"))
        emit("\n".join(lines) + "\n")
    if found:
        raise DriftError(f"{host}: the namespace {netns} has drifted ({plural(found.count, 'difference')})")
