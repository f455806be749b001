"""`netcfg synth`: write a synthetic inventory of the bundled shape at any size."""

from __future__ import annotations

from pathlib import Path

import typer

from netcfg.cli.app import app
from netcfg.cli.console import say
from netcfg.cli.options import output_directory, whole_number
from netcfg.limits import MAX_MACHINES, MAX_NETWORKS, MIN_MACHINES, MIN_NETWORKS
from netcfg.words import plural


@app.command(rich_help_panel="Inventory")
def synth(
    machines: int = typer.Option(
        ...,
        "--machines",
        parser=whole_number("--machines", MIN_MACHINES, MAX_MACHINES),
        metavar="N",
        help=f"Number of machines ({MIN_MACHINES}-{MAX_MACHINES:,}): 2 routers, a few physical"
        " hosts, about one KVM host per 20 VMs, the rest VMs.",
    ),
    networks: int = typer.Option(
        ...,
        "--networks",
        parser=whole_number("--networks", MIN_NETWORKS, MAX_NETWORKS),
        metavar="N",
        help=f"Number of networks ({MIN_NETWORKS}-{MAX_NETWORKS:,}): all but four (at least one) are public"
        " IPv4 networks on fe.",
    ),
    seed: int = typer.Option(
        0,
        "--seed",
        parser=whole_number("--seed"),
        metavar="N",
        help="Random seed: the same arguments give the same bytes.",
    ),
    out_dir: Path = typer.Option(
        ...,
        "--out",
        "-o",
        parser=output_directory,
        metavar="DIR",
        help="Directory to write the YAML files into: new, empty, or written by synth before.",
    ),
) -> None:
    """Write a deterministic synthetic inventory (segments fe, srv, mgm; many public
    networks on fe; routers, KVM hosts, VMs in services, physical hosts) that validates
    cleanly, for tests and benchmarks."""
    from netcfg.inventory.synth import write_synth  # netaddr: not for `netcfg --help`

    files = write_synth(out_dir, machines, networks, seed)
    say(f"wrote {plural(len(files), 'file')} to {out_dir}: {machines:,} machines, {networks:,} networks (seed {seed})")
