"""`netcfg apply`: one machine's configuration into a network namespace over netlink."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from netcfg.cli import settings
from netcfg.cli.app import app
from netcfg.cli.console import emit, say
from netcfg.cli.options import DesignOption, InventoryOption, NetnsOption, load, require_machine
from netcfg.errors import InputError, Location, Problem
from netcfg.model.host import DesignName, HostConfig
from netcfg.words import plural

if TYPE_CHECKING:
    from netcfg.kernel.reconcile import Plan


def _plan_text(plan: Plan) -> str:
    from netcfg.kernel.reconcile import describe

    lines = [f"= {describe(entry)} (present, not netcfg's: left alone)" for entry in plan.present]
    lines += [str(step) for step in plan.steps]
    lines.append(f"{len(plan)} change{'s' if len(plan) != 1 else ''}")
    return "\n".join(lines) + "\n"


@app.command(rich_help_panel="Kernel (root)")
def apply(
    host: str | None = typer.Argument(None, metavar="HOST", hidden=True),
    from_file: Path | None = typer.Option(
        None,
        "--from",
        metavar="FILE",
        help="A machine's rendered JSON (netcfg render -f json: DIR/json/HOST.json) instead of the inventory:"
        " nothing else is read. HOST, if given, must be the name in it.",
    ),
    inventory: Path = InventoryOption,
    netns: str = NetnsOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the changes and stop; touch nothing."),
    design: DesignName | None = DesignOption,
) -> None:
    """Install HOST's addresses, rules and routes into a network namespace over netlink.

    Reads the live state netcfg owns (what it marked with protocol 77: routes, rules,
    and addresses on HOST's interfaces), prints the changes (`+` add, `-` remove, `~`
    replace; `=` a desired entry already there unmarked, left alone) and the count to
    stdout, applies them in an order that never blackholes, reads back and verifies.
    On any failure, Ctrl-C, SIGTERM or SIGHUP the state read at the start is restored:
    exit 5. Foreign rules, routes and addresses are never touched; one holding a
    desired entry's place is exit 2, nothing changed. Links are never created (a
    missing interface: exit 2, nothing changed). A second apply of the same config
    reports 0 changes. Another apply running on the same namespace, under any of its
    names: exit 5 at once, nothing changed.

    With --from FILE the config comes from a rendered JSON file (checked field by
    field; a bad one is exit 2) and no inventory is read."""
    from netcfg.kernel.apply import apply_host
    from netcfg.kernel.state import ownership

    config = _from_file(from_file, host, design) if from_file is not None else _rendered(inventory, host, design)
    host = config.name
    verb = "would change" if dry_run else "applying"
    say(f"{host} -> netns {netns} ({config.design}): {verb}")
    outcome = apply_host(
        config,
        ownership(None, config),
        netns,
        dry_run=dry_run,
        show=lambda plan: emit(_plan_text(plan)),
        lock_dir=settings.run_dir(),
    )
    if outcome.applied:
        say(f"{host} -> netns {netns}: {plural(len(outcome.plan), 'change')} applied and verified")
    elif dry_run:
        say("dry run: nothing was changed")


def _rendered(inventory: Path, host: str | None, design: DesignName | None) -> HostConfig:
    from netcfg.designs import render

    if host is None:
        raise InputError([Problem(Location("netcfg apply"), "which machine? Give HOST, or --from FILE")])
    inv = load(inventory)
    return render(inv, design, [require_machine(inv, host)])[host]


def _from_file(path: Path, host: str | None, design: DesignName | None) -> HostConfig:
    from netcfg.files import read_json
    from netcfg.model.host_file import host_config_from_json

    config = host_config_from_json(read_json(path, "rendered machine"), str(path))
    if host is not None and host != config.name:
        raise InputError([Problem(Location(str(path)), f"is the config of {config.name!r}, not of {host!r}")])
    if design is not None and design != config.design:
        raise InputError([Problem(Location(str(path)), f"was rendered under {config.design}, not {design}")])
    return config
