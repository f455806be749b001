"""`netcfg render`: per-machine files in four formats."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from netcfg.cli import settings
from netcfg.cli.app import app
from netcfg.cli.console import say
from netcfg.cli.options import (
    DesignOption,
    InventoryAlsoOption,
    InventoryArgument,
    inventory_path,
    load,
    output_directory,
)
from netcfg.errors import InputError, quote
from netcfg.model.host import DesignName
from netcfg.problems import Location, Problem
from netcfg.words import plural

if TYPE_CHECKING:
    from collections.abc import Mapping

    from netcfg.model.host import HostConfig
    from netcfg.model.inventory import Inventory

# Progress bars only where they help: a person waiting on a large fleet.
PROGRESS_ABOVE = 200


def select_machines(inventory: Inventory, patterns: list[str]) -> list[str]:
    """Machine names matching any glob (all without globs); a glob matching nothing is
    an input error, so a typo never renders silently nothing."""
    if not patterns:
        return list(inventory.machines)
    problems = [
        Problem(Location("--host"), f"no machine matches {quote(p)}")
        for p in patterns
        if not fnmatch.filter(inventory.machines, p)
    ]
    if problems:
        raise InputError(problems)
    return [n for n in inventory.machines if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


@app.command(rich_help_panel="Render")
def render(
    inventory_argument: Path | None = InventoryArgument,
    inventory_option: Path | None = InventoryAlsoOption,
    out_dir: Path = typer.Option(
        ...,
        "--out",
        "-o",
        parser=output_directory,
        metavar="DIR",
        help="Directory to write the files into (created if missing).",
    ),
    formats: list[str] = typer.Option(
        [],
        "--format",
        "-f",
        metavar="FORMAT",
        help="Output format, repeatable: iproute2, networkd, netplan, json (default: all four).",
    ),
    design: DesignName | None = DesignOption,
    hosts: list[str] = typer.Option(
        [], "--host", metavar="GLOB", help="Only machines whose name matches this glob; repeatable."
    ),
    create_links: bool = typer.Option(
        False,
        "--create-links",
        help="The iproute2 files also create each link (`link add ... type dummy|bridge`), for an empty"
        " namespace; by default they configure the links a host has.",
    ),
    templates: Path | None = typer.Option(
        None,
        "--templates",
        metavar="DIR",
        help="Directory of your own copies of the templates (same relative names); "
        "templates missing there come from the defaults.",
    ),
) -> None:
    """Write per-machine routing files: `DIR/iproute2/HOST.batch` and `HOST.6.batch`,
    `DIR/networkd/HOST/*.network`, `DIR/netplan/HOST.yaml`, `DIR/json/HOST.json`.

    Only files whose content changed are rewritten (atomically); files an earlier run
    wrote and this one no longer produces are removed (listed in `DIR/.netcfg-render.json`).
    Prints "N files written, M unchanged" to stderr. Same input, same bytes. Run again
    on the same inventory bytes with the same options, it loads nothing and only checks
    that the files are still as written.

    INVENTORY (or --inventory): a directory of YAML files, merged, or one file;
    default inventory/."""
    from netcfg.cli.progress import progress_bar
    from netcfg.designs import render as render_design
    from netcfg.formats import FORMAT_NAMES, WriteReport, get_format, write_rendered
    from netcfg.formats.inputs import fingerprint, run_key
    from netcfg.formats.output import OutputDir
    from netcfg.formats.safe_names import safe_host_name
    from netcfg.formats.sandbox import run_bounded

    inventory = inventory_path(inventory_argument, inventory_option)
    chosen = tuple(dict.fromkeys(formats)) or FORMAT_NAMES
    for name in chosen:
        get_format(name)
    source = inventory.resolve()
    target = out_dir.resolve()
    if source.is_dir() and (target == source or source in target.parents):
        # The netplan .yaml files would be read back as inventory files next time.
        raise InputError([Problem(Location(str(out_dir)), "--out is inside the inventory directory")])
    # The same inventory bytes, code and options as the last finished run, and its files
    # untouched: nothing to load, render or write.
    run_settings = repr((design.value if design else None, sorted(set(hosts))))
    key = run_key(inventory, fingerprint(chosen, templates, create_links), run_settings)

    def covers(host: str) -> bool:
        return not hosts or any(fnmatch.fnmatchcase(host, p) for p in hosts)

    output = OutputDir(out_dir, key)
    unchanged = output.unchanged_run(lambda fmt, host: fmt in chosen and covers(host))
    if unchanged is not None:
        say(str(unchanged))
        return
    inv = load(inventory)
    names = select_machines(inv, hosts)
    for name in names:
        safe_host_name(name, inv.machines[name].location)
    configs = render_design(inv, design, [inv.machines[n] for n in names])
    if "netplan" in chosen:
        netplan_tables(inv, configs)

    def write() -> WriteReport:
        if len(configs) <= PROGRESS_ABOVE:
            return write_rendered(
                out_dir,
                configs,
                chosen,
                templates,
                covers=covers,
                create_links=create_links,
                output=output,
                jobs=settings.jobs(),
            )
        stage, done = f"rendering {plural(len(configs), 'machine')}", 0
        with progress_bar() as progress:

            def advance() -> None:
                nonlocal done
                done += 1
                progress(stage, done, len(configs))

            return write_rendered(
                out_dir,
                configs,
                chosen,
                templates,
                advance=advance,
                covers=covers,
                create_links=create_links,
                output=output,
                jobs=settings.jobs(),
            )

    # A user's templates run in a child process with bounded memory.
    say(str(run_bounded(write) if templates is not None else write()))


def netplan_tables(inventory: Inventory, configs: Mapping[str, HostConfig]) -> None:
    """Refuse, at the segments themselves, the tables netplan cannot express that the
    rendered machines use (none under flat): its per-machine check could only name the
    first machine."""
    from netcfg.formats.netplan import MAX_TABLE, table_refused

    large = {s.table: s for s in inventory.segments.values() if s.table > MAX_TABLE}
    if not large:
        return
    used = {r.table for c in configs.values() for r in c.rules} | {r.table for c in configs.values() for r in c.routes}
    problems = [
        table_refused(segment.location, table, f"segment {segment.name}: ")
        for table, segment in sorted(large.items())
        if table in used
    ]
    if problems:
        raise InputError(problems)
