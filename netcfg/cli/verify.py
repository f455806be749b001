"""`netcfg verify`: every flow class of a fleet through a model of Linux forwarding."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from netcfg.cli.app import app
from netcfg.cli.console import emit, say, show_lines
from netcfg.cli.options import (
    DesignOption,
    InventoryAlsoOption,
    InventoryArgument,
    OutputFormat,
    RpFilterOption,
    StageOption,
    format_option,
    inventory_path,
    load,
    stage_alone,
)
from netcfg.model.host import DesignName


@app.command(rich_help_panel="Render")
def verify(
    inventory_argument: Path | None = InventoryArgument,
    inventory_option: Path | None = InventoryAlsoOption,
    design: DesignName | None = DesignOption,
    fmt: OutputFormat = format_option(OutputFormat.TEXT, OutputFormat.JSON),
    flow: tuple[str, str] | None = typer.Option(
        None,
        "--flow",
        metavar="MACHINE DESTINATION",
        help="Follow one flow hop by hop: from MACHINE (from the address its kernel would choose) to "
        "DESTINATION (an address, or a machine: its first address).",
    ),
    stage: str | None = StageOption,
    rp_filter: str = RpFilterOption,
) -> None:
    """Prove the forwarding: render every machine (each under its own design, or all
    under --design), then follow every flow class (a source machine class at one of its
    networks, to a destination class at one of its) through a model of Linux
    forwarding: policy rules by priority, tables, longest prefix, on-link delivery,
    gateways, routers forwarding, strict rp_filter on every IPv4 packet received. Lists
    every class of flows dropped (no route, a loop, a gateway not on-link, no neighbour,
    not forwarding, rp_filter) or breaking the design's promise (policy-routing: a
    segment's traffic never through a router; flat: machines sharing a network talk
    direct), with examples. Exit 3 when a promise breaks.

    INVENTORY (or --inventory): a directory of YAML files, merged, or one file;
    default inventory/."""
    from netcfg.designs import render
    from netcfg.present.verify import finding_lines, flow_lines, summary_lines
    from netcfg.verify.fib import RpFilter
    from netcfg.verify.report import flow_json, follow, verify_configs

    mode = RpFilter(rp_filter)

    stage_alone(stage, design)
    inv = load(inventory_path(inventory_argument, inventory_option))
    label = str(design) if design else inv.design_label
    if stage is not None:
        from netcfg.rollout.staged import staged_inventory

        inv, label, planned = staged_inventory(inv, stage)
        if planned != mode.value:
            say(f"note: the migration plan was verified under rp_filter {planned}; this models {mode} (--rp-filter)")
    configs = render(inv, design)
    if flow is not None:
        machine, destination = flow
        path, family, src, dst = follow(configs, machine, destination, mode)
        if fmt is OutputFormat.JSON:
            from netcfg.verify.prefix import format_address

            data = {"source": machine, "source_address": format_address(family, src)}
            data["destination_address"] = format_address(family, dst)
            emit(json.dumps({**data, **flow_json(path)}, indent=2) + "\n")
        else:
            show_lines(flow_lines(path, machine, family, src, dst))
        return
    result = verify_configs(configs, rp_filter=mode)
    if fmt is OutputFormat.JSON:
        emit(json.dumps({"design": label, **result.to_json()}, indent=2) + "\n")
    else:
        show_lines(summary_lines(result, label))
        show_lines(line for finding in result.findings for line in finding_lines(finding))
    if not result.ok:
        say(f"netcfg verify: {result.broken:,} flow classes break the design's promise (exit 3)")
        raise typer.Exit(3)
