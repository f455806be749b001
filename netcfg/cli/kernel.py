"""`netcfg apply`, `netcfg status` and `netcfg lab up|check|down`: one machine's config
into a network namespace over netlink, drift against it, and a whole fleet as
namespaces proven with real packets. The logic lives in netcfg.kernel."""

from __future__ import annotations

import fnmatch
import json
import sys
from enum import Enum
from pathlib import Path

import typer

from netcfg.cli.app import app
from netcfg.cli.common import DEFAULT_INVENTORY, err, load
from netcfg.model.host import HostConfig
from netcfg.designs import render
from netcfg.errors import DriftError, InputError
from netcfg.model.inventory import DesignName, Inventory, Kind
from netcfg.lab import netns as lab_mod
from netcfg.lab import probe
from netcfg.kernel.apply import apply_host, live_state
from netcfg.kernel.reconcile import KINDS, Plan, describe, drift, drift_dict
from netcfg.kernel.state import ownership

HostArg = typer.Argument(..., help="The machine (inventory name) whose configuration to use.")
InventoryOption = typer.Option(
    DEFAULT_INVENTORY, "--inventory", help="Inventory directory (YAML files, merged) or a single YAML file."
)
NetnsOption = typer.Option(
    ..., "--netns", help="Existing network namespace to work in (never created; see `ip netns add`)."
)
DesignOption = typer.Option(None, "--design", help="Render with this design instead of the inventory's policy.")


class StatusFormat(str, Enum):
    text = "text"
    json = "json"


def _emit(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _host(inventory: Inventory, host: str, design: DesignName | None) -> HostConfig:
    machine = inventory.machines.get(host)
    if machine is None:
        raise InputError(f"machine {host!r} is not in the inventory ({inventory.source})")
    return render(inventory, design, [machine])[host]


def _plan_text(plan: Plan) -> str:
    lines = [str(step) for step in plan.steps]
    lines.append(f"{len(plan)} change{'s' if len(plan) != 1 else ''}")
    return "\n".join(lines) + "\n"


@app.command(rich_help_panel="Kernel (root)")
def apply(
    host: str = HostArg,
    inventory: Path = InventoryOption,
    netns: str = NetnsOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the changes and stop; touch nothing."),
    design: DesignName | None = DesignOption,
) -> None:
    """Install HOST's addresses, rules and routes into a network namespace over netlink.

    Reads the live state netcfg owns (routes with protocol 77, rules at the segments'
    priorities, inventory addresses and those it added on HOST's interfaces), prints
    the changes (`+` add, `-` remove, `~` replace) and the count to stdout, applies
    them in an order that never blackholes, reads back and verifies. On any failure (or Ctrl-C) the state read at
    the start is restored: exit 5. Foreign rules, routes and addresses are never
    touched; links are never created (a missing interface: exit 2, nothing changed).
    A second apply of the same config reports 0 changes. Another apply running on the
    same namespace: exit 5 at once, nothing changed."""
    inv = load(inventory)
    config = _host(inv, host, design)
    verb = "would change" if dry_run else "applying"
    err.print(f"{host} -> netns {netns} ({config.design}): {verb}", markup=False)
    outcome = apply_host(
        config, ownership(inv, config), netns, dry_run=dry_run,
        show=lambda plan: _emit(_plan_text(plan)),
    )
    if outcome.applied:
        err.print(f"{host} -> netns {netns}: {len(outcome.plan)} changes applied and verified",
                  markup=False)
    elif dry_run:
        err.print("dry run: nothing was changed", markup=False)


def _drift_lines(found) -> list[str]:
    lines = []
    for kind in KINDS:
        k = getattr(found, kind)
        lines += [f"missing   {describe(e)}" for e in k.missing]
        lines += [f"extra     {describe(e)}" for e in k.extra]
        lines += [f"different {describe(a)} (live: {describe(b)})" for a, b in k.different]
    return lines


@app.command(rich_help_panel="Kernel (root)")
def status(
    host: str = HostArg,
    inventory: Path = InventoryOption,
    netns: str = NetnsOption,
    fmt: StatusFormat = typer.Option(StatusFormat.text, "--format", help="Output format: text or json."),
    design: DesignName | None = DesignOption,
) -> None:
    """Drift between HOST's desired config and the live owned state of a namespace:
    addresses, rules and routes that are missing, extra or different (same identity,
    other attributes). Exit 4 on drift, 0 when clean; read-only."""
    inv = load(inventory)
    config = _host(inv, host, design)
    desired, live = live_state(config, ownership(inv, config), netns)
    found = drift(desired, live)
    if fmt is StatusFormat.json:
        data = {"host": host, "netns": netns, "design": config.design,
                "drift": bool(found), "count": found.count, **drift_dict(found)}
        _emit(json.dumps(data, indent=2) + "\n")
    else:
        lines = _drift_lines(found)
        lines.append(f"{host} in netns {netns}: "
                     + (f"{found.count} differences" if found else "no drift"))
        _emit("\n".join(lines) + "\n")
    if found:
        raise DriftError(f"{host}: the namespace {netns} has drifted ({found.count} differences)")


lab_app = typer.Typer(
    help="A fleet (or --hosts subset) as network namespaces, checked with real packets.",
    no_args_is_help=True,
)
app.add_typer(lab_app, name="lab", rich_help_panel="Kernel (root)")

LabInventoryArg = typer.Argument(
    DEFAULT_INVENTORY, help="Inventory directory (YAML files, merged) or a single YAML file."
)
LabNameOption = typer.Option(
    "netcfg", "--name",
    help="Lab name: prefixes its namespaces (NAME-sw, NAME-m-MACHINE), so labs never collide.",
)
HostsOption = typer.Option(
    None, "--hosts", help="Only machines matching this glob (routers are always included)."
)


def _say(text: str) -> None:
    err.print(text, markup=False)


@lab_app.command("up")
def lab_up(
    inventory: Path = LabInventoryArg,
    hosts: str | None = HostsOption,
    design: DesignName | None = DesignOption,
    name: str = LabNameOption,
) -> None:
    """Build the lab: a switch namespace with one bridge per segment, a namespace per
    machine with veth interfaces named as rendered, routers forwarding, and every
    machine's config installed by `apply`. A failed or interrupted `up` removes
    what it made. Prints the namespaces (machine and namespace per line)."""
    inv = load(inventory)
    state = lab_mod.up(inv, name, design, hosts, say=_say)
    _emit("".join(f"{m} {ns}\n" for m, ns in state.machines.items()))
    _say(f"lab {name} is up ({state.design}, {len(state.machines)} machines); "
         f"`netcfg lab check --name {name}` sends packets, `netcfg lab down --name {name}` removes it")


@lab_app.command("check")
def lab_check(
    inventory: Path | None = typer.Argument(
        None, help="Inventory directory or YAML file (default: the one the lab was built from)."
    ),
    hosts: str | None = typer.Option(None, "--hosts", help="Only probe from and to machines matching this glob."),
    design: DesignName | None = typer.Option(
        None, "--design", help="Expect this design's paths (default: the design the lab was built with)."
    ),
    name: str = LabNameOption,
) -> None:
    """Ping between machines of one segment with addresses in different networks and
    assert the path from the routers' forwarding counters: under policy-routing the
    reply comes directly over the segment and routers forward nothing; under flat the
    private IPv4 and IPv6 paths are direct and public-to-public traffic goes through
    the router. Also checks that every machine's addresses, rules and routes are still
    its render (a `FAIL state` line per difference). One line per probe; exit 4 if any
    probe fails or any machine differs, 2 if the lab is not up."""
    state = lab_mod.read_state(name)
    if state is None:
        raise InputError(f"lab {name!r} is not up; run `netcfg lab up --name {name}` first")
    inv = load(inventory if inventory is not None else Path(state.inventory))
    chosen = str(design) if design else state.design
    selected = [m for m in state.machines if m in inv.machines]
    configs = render(inv, chosen, [inv.machines[m] for m in selected])
    if hosts is not None:
        configs = {m: c for m, c in configs.items() if c.forwarding or fnmatch.fnmatchcase(m, hosts)}
    planned = probe.probes(inv, configs, chosen)
    if not planned:
        raise InputError(
            f"lab {name}: no two machines of one segment have addresses in different "
            "networks: nothing to probe (choose more --hosts)"
        )
    # Every machine's owned state must still be its render: policy routing's from and
    # to rules back each other up, so a missing rule rarely changes a probed path, and
    # only the first holders of each network send probes.
    drifted = []
    for machine, config in configs.items():
        try:
            desired, live = live_state(config, ownership(inv, config), state.machines[machine])
        except InputError as error:  # its namespace was removed behind the lab's back
            reason = "; ".join(p.message for p in error.problems)
            raise InputError(f"lab {name} is broken: {reason}") from None
        found = drift(desired, live)
        if found:
            drifted.append(machine)
            _emit("".join(f"FAIL state {machine} {state.machines[machine]}: {line}\n"
                          for line in _drift_lines(found)))
    routers = [m for m in selected if inv.machines[m].kind is Kind.ROUTER]
    results = probe.run(planned, state.machines, routers)
    _emit("".join(f"{r}\n" for r in results))
    failed = [r for r in results if not r.ok]
    if failed or drifted:
        parts = []
        if failed:
            parts.append(f"{len(failed)} of {len(results)} probes failed")
        if drifted:
            parts.append(f"{len(drifted)} machine(s) differ from the {chosen} render "
                         f"({', '.join(drifted)}; `netcfg status MACHINE --netns NS` shows how)")
        raise DriftError(f"lab {name}: " + "; ".join(parts))
    _say(f"lab {name}: {len(results)} probes, all paths as {chosen} promises; "
         f"{len(configs)} machines as rendered")


@lab_app.command("down")
def lab_down(
    inventory: Path = LabInventoryArg,
    hosts: str | None = typer.Option(
        None, "--hosts", help="Accepted like up/check; down always removes the whole lab."
    ),
    design: DesignName | None = typer.Option(
        None, "--design", help="Accepted like up/check; down always removes the whole lab."
    ),
    name: str = LabNameOption,
) -> None:
    """Remove every namespace the lab made (recorded in /run/netcfg/lab-NAME.json),
    also after a failed or interrupted `up`. A lab that is not up: nothing to do, exit 0.
    INVENTORY, --hosts and --design are accepted like up/check's and not used."""
    del inventory, hosts, design
    removed = lab_mod.down(name)
    _say(f"lab {name}: {len(removed)} namespaces removed" if removed else f"lab {name}: not up")
