"""`netcfg render` (per-machine files in four formats) and `netcfg show` (one machine)."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich import box
from rich.table import Table

from netcfg.cli.app import app
from netcfg.cli.common import DEFAULT_INVENTORY, InventoryArg, err, load, out, show_progress
from netcfg.model.host import HostConfig, table_name
from netcfg.designs import render as render_design
from netcfg.errors import InputError, Location, Problem
from netcfg.formats import FORMAT_NAMES, get_format, write_rendered
from netcfg.formats.safe_names import safe_host_name
from netcfg.model.inventory import DesignName, Inventory

# Progress bars only where they help: a person waiting on a large fleet.
PROGRESS_ABOVE = 200

DesignOpt = typer.Option(
    None,
    "--design",
    "-d",
    help="Routing design to render: policy-routing or flat (default: the inventory's "
    "policy.design).",
)


def _design(value: str | None) -> DesignName | None:
    if value is None:
        return None
    try:
        return DesignName(value)
    except ValueError:
        known = ", ".join(str(d) for d in DesignName)
        raise InputError(
            [Problem(Location("--design"), f"unknown design {value!r}", f"known: {known}")]
        ) from None


def select_machines(inventory: Inventory, patterns: list[str]) -> list[str]:
    """Machine names matching any glob (all without globs); a glob matching nothing is
    an input error, so a typo never renders silently nothing."""
    if not patterns:
        return list(inventory.machines)
    problems = [
        Problem(Location("--host"), f"no machine matches {p!r}")
        for p in patterns
        if not fnmatch.filter(inventory.machines, p)
    ]
    if problems:
        raise InputError(problems)
    return [n for n in inventory.machines if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


@app.command(rich_help_panel="Render")
def render(
    inventory: Path = InventoryArg,
    out_dir: Path = typer.Option(
        ..., "--out", "-o", help="Directory to write the files into (created if missing)."
    ),
    formats: list[str] = typer.Option(
        [],
        "--format",
        "-f",
        help="Output format, repeatable: iproute2, networkd, netplan, json "
        "(default: all four).",
    ),
    design: str | None = DesignOpt,
    hosts: list[str] = typer.Option(
        [], "--host", help="Only machines whose name matches this glob; repeatable."
    ),
    templates: Path | None = typer.Option(
        None,
        "--templates",
        help="Directory of your own copies of the templates (same relative names); "
        "templates missing there come from the defaults.",
    ),
) -> None:
    """Write per-machine routing files: `DIR/iproute2/HOST.batch` and `HOST.6.batch`,
    `DIR/networkd/HOST/*.network`, `DIR/netplan/HOST.yaml`, `DIR/json/HOST.json`.

    Only files whose content changed are rewritten (atomically); files an earlier run
    wrote and this one no longer produces are removed (listed in `DIR/.netcfg-render.json`).
    Prints "N files written, M unchanged" to stderr. Same input, same bytes."""
    chosen = tuple(dict.fromkeys(formats)) or FORMAT_NAMES
    for name in chosen:
        get_format(name)
    picked = _design(design)
    source = inventory.resolve()
    target = out_dir.resolve()
    if source.is_dir() and (target == source or source in target.parents):
        # The netplan .yaml files would be read back as inventory files next time.
        raise InputError(
            [Problem(Location(str(out_dir)), "--out is inside the inventory directory")]
        )
    inv = load(inventory)
    names = select_machines(inv, hosts)
    for name in names:
        safe_host_name(name, inv.machines[name].location)
    configs = render_design(inv, picked, [inv.machines[n] for n in names])

    def covers(host: str) -> bool:
        return not hosts or any(fnmatch.fnmatchcase(host, p) for p in hosts)

    if show_progress() and len(configs) > PROGRESS_ABOVE:
        columns = (
            TextColumn("rendering"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("render", total=len(configs))
            report = write_rendered(
                out_dir,
                configs,
                chosen,
                templates,
                advance=lambda: progress.advance(task),
                covers=covers,
            )
    else:
        report = write_rendered(out_dir, configs, chosen, templates, covers=covers)
    err.print(str(report), markup=False)


def _table(title: str, columns: tuple[str, ...], right: tuple[str, ...] = ()) -> Table:
    # Light borders and folding rather than "…": an address cut short is worse than a
    # wrapped one, and an 80-column pipe must still show every character.
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in columns:
        table.add_column(column, overflow="fold", justify="right" if column in right else "left")
    return table


def _fit(table: Table) -> Table:
    """Columns at least as wide as their widest cell, so rich squeezes none of them
    while the table fits (one machine's table always does in 80 columns)."""
    for column in table.columns:
        cells = [str(c) for c in column.cells] + [str(column.header)]
        column.min_width = max(len(c) for c in cells)
    return table


def host_tables(config: HostConfig) -> list[Table]:
    """Addresses, rules and routes of one machine as rich tables."""
    addresses = _table("addresses", ("interface", "segment", "bridge", "address"))
    for iface in config.interfaces:
        if not iface.addresses:
            addresses.add_row(iface.name, iface.segment, "yes" if iface.bridge else "", "")
        for a in iface.addresses:
            addresses.add_row(iface.name, iface.segment, "yes" if iface.bridge else "", a.address)

    rules = _table("rules", ("v", "priority", "from", "to", "table"), ("priority",))
    for r in config.rules:
        rules.add_row(
            str(r.family), str(r.priority), r.src or "all", r.dst or "all", table_name(r.table)
        )

    routes = _table(
        "routes",
        ("v", "table", "destination", "via", "device", "scope", "metric", "proto"),
        ("metric",),
    )
    for r in config.routes:
        routes.add_row(
            str(r.family),
            table_name(r.table),
            "default" if r.is_default else r.dst,
            r.gateway or "",
            r.device or "",
            "" if r.scope == "global" else r.scope,
            "" if r.metric is None else str(r.metric),
            str(r.protocol),
        )
    return [_fit(addresses), _fit(rules), _fit(routes)]


@app.command(rich_help_panel="Render")
def show(
    host: str = typer.Argument(..., help="Machine name, as in the inventory."),
    inventory: Path = typer.Option(
        DEFAULT_INVENTORY,
        "--inventory",
        "-i",
        help="Inventory directory (YAML files, merged) or a single YAML file.",
    ),
    design: str | None = DesignOpt,
    as_json: bool = typer.Option(
        False, "--json", help="Print the machine's canonical model as JSON instead."
    ),
) -> None:
    """Print one machine's addresses, rules and routes as tables (exit 2 if unknown)."""
    picked = _design(design)
    inv = load(inventory)
    machine = inv.machines.get(host)
    if machine is None:
        close = [n for n in inv.machines if fnmatch.fnmatchcase(n, f"*{host}*")][:5]
        hint = f"did you mean: {', '.join(close)}" if close else ""
        raise InputError([Problem(Location(str(inventory)), f"unknown machine {host!r}", hint)])
    config = render_design(inv, picked, [machine])[host]
    if as_json:
        out.print(json.dumps(config.to_dict(), sort_keys=True, indent=2), markup=False)
        return
    out.print(
        f"{config.name}: {config.kind}, design {config.design}"
        + (", forwarding" if config.forwarding else ""),
        markup=False,
    )
    for table in host_tables(config):
        if table.row_count:
            out.print(table)
        else:
            out.print(f"{table.title}: none", markup=False)


__all__ = ["host_tables", "render", "select_machines", "show"]
