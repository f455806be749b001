"""`netcfg lab up|check|down`: a fleet as network namespaces, proven with real packets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from netcfg.cli import settings
from netcfg.cli.app import app
from netcfg.cli.console import emit, say
from netcfg.cli.options import (
    DesignOption,
    InventoryAlsoOption,
    InventoryArgument,
    LabNameOption,
    StageOption,
    inventory_path,
    load,
    stage_alone,
)
from netcfg.errors import DriftError, InputError
from netcfg.model.host import DesignName
from netcfg.words import plural

lab_app = typer.Typer(
    help="A fleet (or --hosts subset) as network namespaces, checked with real packets.", no_args_is_help=True
)
app.add_typer(lab_app, name="lab", rich_help_panel="Kernel (root)")


def hosts_option(help: str) -> Any:
    """--host GLOB, repeatable like render's (--hosts, the older spelling, still works)."""
    return typer.Option([], "--host", "--hosts", metavar="GLOB", help=help)


@lab_app.command("up")
def lab_up(
    inventory_argument: Path | None = InventoryArgument,
    inventory_option: Path | None = InventoryAlsoOption,
    hosts: list[str] = hosts_option("Only machines whose name matches this glob; repeatable (routers always)."),
    design: DesignName | None = DesignOption,
    name: str = LabNameOption,
    stage: str | None = StageOption,
) -> None:
    """Build the lab: a switch namespace with one bridge per segment, a namespace per
    machine with veth interfaces named as rendered, routers forwarding, strict
    rp_filter, and every machine's config installed by `apply`. A failed or
    interrupted `up` removes what it made. Prints the namespaces (machine and
    namespace per line). --stage PLAN:K builds the fleet half migrated, as it is after
    stage K of a `netcfg migrate --format json` plan; `lab check` then probes it.

    INVENTORY (or --inventory): a directory of YAML files, merged, or one file;
    default inventory/."""
    from netcfg.cli.progress import progress_bar
    from netcfg.lab import netns

    stage_alone(stage, design)
    inv = load(inventory_path(inventory_argument, inventory_option))
    spec = ""
    if stage is not None:
        from netcfg.rollout.staged import parse_stage, staged_inventory

        path, k = parse_stage(stage)
        spec = f"{os.path.abspath(path)}:{k}"  # `lab check` reads it from anywhere
        inv, label, planned = staged_inventory(inv, spec)
        say(f"lab {name}: the fleet {label}")
        if planned != "strict":
            say(f"note: the migration plan was verified under rp_filter {planned}; the lab sets strict")
    with progress_bar() as progress:
        state = netns.up(inv, name, design, hosts, state_dir=settings.run_dir(), say=say, progress=progress, stage=spec)
    emit("".join(f"{m} {ns}\n" for m, ns in state.machines.items()))
    say(
        f"lab {name} is up ({state.design or inv.design_label}, {len(state.machines)} machines); "
        f"`netcfg lab check --name {name}` sends packets, `netcfg lab down --name {name}` removes it"
    )


@lab_app.command("check")
def lab_check(
    inventory_argument: Path | None = InventoryArgument,
    inventory_option: Path | None = InventoryAlsoOption,
    hosts: list[str] = hosts_option("Only probe from and to machines matching this glob; repeatable."),
    design: DesignName | None = DesignOption,
    name: str = LabNameOption,
) -> None:
    """Ping between machines of one segment and assert, from the routers' forwarding
    counters, the path the forwarding model (`netcfg verify`) expects: a reply or none,
    through a router or direct. Under policy-routing every network of a segment is
    direct and routers forward nothing; under flat a shared network (private IPv4,
    IPv6) is direct and different public networks meet at the router; a lab built
    --stage is checked half migrated, router included. Also checks that
    every machine's addresses, rules and routes are still its render (a `FAIL state`
    line per difference). One line per probe; exit 4 if any probe fails or any machine
    differs, 2 if the lab is not up.

    INVENTORY (or --inventory): default, the one the lab was built from."""
    from netcfg.lab import netns
    from netcfg.lab.check import check_lab
    from netcfg.present.drift import drift_lines

    state = netns.read_state(name, settings.run_dir())
    if state is None:
        raise InputError(f"lab {name!r} is not up; run `netcfg lab up --name {name}` first")
    given = inventory_argument or inventory_option
    inv = load(inventory_path(inventory_argument, inventory_option) if given else Path(state.inventory))
    if state.stage:
        from netcfg.rollout.staged import staged_inventory

        inv, _, _ = staged_inventory(inv, state.stage)
    result = check_lab(state, inv, design, hosts)
    for d in result.drifted:
        emit("".join(f"FAIL state {d.machine} {d.netns}: {line}\n" for line in drift_lines(d.drift)))
    emit("".join(f"{r}\n" for r in result.results))
    if not result.ok:
        parts = []
        if result.failed:
            parts.append(f"{len(result.failed)} of {plural(len(result.results), 'probe')} failed")
        if result.drifted:
            names = ", ".join(d.machine for d in result.drifted)
            parts.append(
                f"{plural(len(result.drifted), 'machine')} {'differs' if len(result.drifted) == 1 else 'differ'}"
                f" from the {result.design} render ({names}; "
                f"`netcfg status MACHINE --netns NS --inventory {inv.source}"
                + ("" if inv.mixed and not state.design else f" --design {result.design}")
                + "` shows how)"
            )
        raise DriftError(f"lab {name}: " + "; ".join(parts))
    probed = (
        f"{plural(len(result.results), 'probe')}, all paths as the model expects ({result.design})"
        if result.results
        else "nothing to probe (no two machines of one segment have addresses in different networks;"
        " choose more --host)"
    )
    say(f"lab {name}: {probed}; {plural(result.machines, 'machine')} as rendered")


@lab_app.command("down")
def lab_down(
    inventory_argument: Path | None = InventoryArgument,
    inventory_option: Path | None = InventoryAlsoOption,
    hosts: list[str] = hosts_option("Accepted like up/check; down always removes the whole lab."),
    design: DesignName | None = DesignOption,
    name: str = LabNameOption,
) -> None:
    """Remove every namespace the lab made (recorded in its state file), also after a
    failed or interrupted `up`. A lab that is not up: nothing to do, exit 0.
    INVENTORY, --hosts and --design are accepted like up/check's and not used."""
    from netcfg.lab import netns

    del inventory_argument, inventory_option, hosts, design
    removed = netns.down(name, state_dir=settings.run_dir())
    say(f"lab {name}: {plural(len(removed), 'namespace')} removed" if removed else f"lab {name}: not up")
