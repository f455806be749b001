"""`netcfg apply`: one machine's configuration into a network namespace over netlink."""

from __future__ import annotations

from pathlib import Path

import typer

from netcfg.cli.app import app
from netcfg.cli.applying import apply_config, config_from_file
from netcfg.cli.options import DesignOption, InventoryOption, NetnsOption, machine_config
from netcfg.model.host import DesignName


@app.command(rich_help_panel="Kernel (root)")
def apply(
    host: str | None = typer.Argument(None, metavar="HOST", hidden=True),
    from_file: Path | None = typer.Option(
        None,
        "--from",
        metavar="FILE",
        help="A machine's rendered JSON (netcfg render -f json: DIR/json/HOST.json) instead of the inventory:"
        " nothing else is read; a pipe (/dev/stdin) is read once, waiting for its writer. HOST, if given,"
        " must be the name in it.",
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
    if from_file is not None:
        config, source = config_from_file(from_file, host, design)
    else:
        config, source = machine_config(inventory, host, design, "apply"), None
    apply_config(config, source, netns, dry_run)
