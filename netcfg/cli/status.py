"""`netcfg status`: drift between a machine's render and a namespace's live state."""

from __future__ import annotations

import json
from pathlib import Path

from netcfg.cli.app import app
from netcfg.cli.console import emit
from netcfg.cli.options import (
    DesignOption,
    HostArgument,
    InventoryOption,
    NetnsOption,
    OutputFormat,
    format_option,
    load,
    require_machine,
)
from netcfg.errors import DriftError
from netcfg.model.host import DesignName
from netcfg.words import plural


@app.command(rich_help_panel="Kernel (root)")
def status(
    host: str = HostArgument,
    inventory: Path = InventoryOption,
    netns: str = NetnsOption,
    fmt: OutputFormat = format_option(OutputFormat.TEXT, OutputFormat.JSON),
    design: DesignName | None = DesignOption,
) -> None:
    """Drift between HOST's desired config and the live owned state of a namespace:
    addresses, rules and routes that are missing, extra or different (same identity,
    other attributes). A desired entry already there but not netcfg's (unmarked) is
    no drift: it is listed as present. Exit 4 on drift, 0 when clean; read-only."""
    from netcfg.designs import render
    from netcfg.kernel.apply import observe
    from netcfg.kernel.reconcile import describe, drift
    from netcfg.kernel.state import ownership
    from netcfg.present.drift import drift_json, drift_lines

    inv = load(inventory)
    config = render(inv, design, [require_machine(inv, host)])[host]
    seen = observe(config, ownership(inv, config), netns)
    found = drift(seen.desired, seen.live)
    present = [describe(entry) for entry in seen.present]
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
