"""`netcfg apply`: one machine's configuration into a network namespace over netlink."""

from __future__ import annotations

from pathlib import Path

import typer

from netcfg.cli import settings
from netcfg.cli.app import app
from netcfg.cli.console import emit, say
from netcfg.cli.options import DesignOption, HostArgument, InventoryOption, NetnsOption, load, require_machine
from netcfg.designs import render
from netcfg.kernel.apply import apply_host
from netcfg.kernel.reconcile import Plan, describe
from netcfg.kernel.state import ownership
from netcfg.model.host import DesignName
from netcfg.words import plural


def _plan_text(plan: Plan) -> str:
    lines = [f"= {describe(entry)} (present, not netcfg's: left alone)" for entry in plan.present]
    lines += [str(step) for step in plan.steps]
    lines.append(f"{len(plan)} change{'s' if len(plan) != 1 else ''}")
    return "\n".join(lines) + "\n"


@app.command(rich_help_panel="Kernel (root)")
def apply(
    host: str = HostArgument,
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
    names: exit 5 at once, nothing changed."""
    inv = load(inventory)
    config = render(inv, design, [require_machine(inv, host)])[host]
    verb = "would change" if dry_run else "applying"
    say(f"{host} -> netns {netns} ({config.design}): {verb}")
    outcome = apply_host(
        config,
        ownership(inv, config),
        netns,
        dry_run=dry_run,
        show=lambda plan: emit(_plan_text(plan)),
        lock_dir=settings.run_dir(),
    )
    if outcome.applied:
        say(f"{host} -> netns {netns}: {plural(len(outcome.plan), 'change')} applied and verified")
    elif dry_run:
        say("dry run: nothing was changed")
