"""`netcfg vmlab up|status|down|calibrate|fetch`: hypervisors as namespaces and memory
cgroups, VMs as real QEMU guests, live migrations for real (docs/vmlab.md)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import typer

from netcfg.cli import settings
from netcfg.cli.app import app
from netcfg.cli.console import emit, say, show_json, show_lines
from netcfg.cli.options import (
    InventoryAlsoOption,
    InventoryArgument,
    OutputFormat,
    format_option,
    inventory_path,
    load,
)
from netcfg.errors import InputError, quote
from netcfg.problems import Location, Problem
from netcfg.words import plural

vmlab_app = typer.Typer(
    help="Hypervisors as namespaces with memory cgroups, VMs as QEMU guests: real live migrations (root).",
    no_args_is_help=True,
)
app.add_typer(vmlab_app, name="vmlab", rich_help_panel="Kernel (root)")

NameOption = typer.Option(
    "vmlab",
    "--name",
    metavar="NAME",
    help="Lab name: names its namespaces (vml-NAME-*), cgroups and run directory, so labs never collide.",
)


def positive(option: str) -> Callable[[str], float]:
    """A parser for a number above zero, its error worded like netcfg's other input errors."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not number > 0 or number == float("inf"):
            raise InputError([Problem(Location(option), f"expected a number above 0, not {quote(value)}")])
        return number

    return parse


def numbers(option: str) -> Callable[[str], list[float]]:
    """A comma-separated list of numbers above zero (0 allowed for --dirty)."""

    def parse(value: str) -> list[float]:
        found = []
        for part in value.split(","):
            try:
                number = float(part)
            except ValueError:
                number = float("nan")
            least_ok = number >= 0 if option == "--dirty" else number > 0
            if not least_ok or number == float("inf"):
                raise InputError(
                    [Problem(Location(option), f"expected numbers separated by commas, not {quote(value)}")]
                )
            found.append(number)
        return found

    return parse


@vmlab_app.command("up")
def vmlab_up(
    inventory_argument: Path | None = InventoryArgument,
    inventory_option: Path | None = InventoryAlsoOption,
    hosts: list[str] = typer.Option(
        [], "--host", "--hosts", metavar="GLOB", help="Only KVM hosts matching this glob (and their VMs); repeatable."
    ),
    scale: float = typer.Option(
        16.0, "--scale", metavar="MIB_PER_GIB", parser=positive("--scale"), help="Lab MiB per inventory GiB."
    ),
    speedup: float = typer.Option(
        16.0,
        "--speedup",
        metavar="FACTOR",
        parser=positive("--speedup"),
        help="The lab's clock runs this many times the plan's: rates x scale/1024 x FACTOR, waits / FACTOR.",
    ),
    name: str = NameOption,
) -> None:
    """Build the VM lab: per KVM host a network namespace, linked to a switch namespace
    and shaped with tc to its nic_gbit (scaled), and a memory cgroup limited to its
    memory_gib (scaled) plus a fixed allowance per VM for QEMU itself; per VM a QEMU
    guest in its host's namespace and cgroup that fills its memory with non-zero data
    and dirties it at its dirty_mib_s (scaled). Returns when every guest is running.
    Guest files are fetched from Debian's packages on first use (`vmlab fetch`). A
    failed or interrupted `up` removes what it made. Exit 2 without root or QEMU.

    INVENTORY (or --inventory): a directory of YAML files, merged, or one file;
    default inventory/."""
    from netcfg.vmlab import lab
    from netcfg.vmlab.scale import Scale

    inv = load(inventory_path(inventory_argument, inventory_option))
    state = lab.up(
        inv,
        name,
        hosts=hosts,
        scale=Scale(scale, speedup),
        run_dir=settings.run_dir(),
        cache_dir=settings.vmlab_cache(),
        say=say,
    )
    emit("".join(f"{v.name} {v.host}\n" for v in state.vms.values()))
    say(
        f"VM lab {name} is up ({plural(len(state.hosts), 'hypervisor')}, {plural(len(state.vms), 'VM')}); "
        f"`netcfg vmlab status --name {name}` shows them, `netcfg vmlab down --name {name}` removes it"
    )


@vmlab_app.command("status")
def vmlab_status(
    name: str = NameOption,
    fmt: OutputFormat = format_option(OutputFormat.TEXT, OutputFormat.JSON),
) -> None:
    """Where each VM runs and whether it is alive (running, migrating, or lost: its QEMU
    is gone, killed by the OOM killer for example; never restarted), and each
    hypervisor's memory against its cgroup limit. Exit 2 when the lab is not up."""
    from netcfg.present.vmlab import status_lines
    from netcfg.vmlab import lab

    if os.geteuid() != 0:
        # A lab's files are root's alone: to anyone else every lab looks like none.
        raise InputError("netcfg vmlab needs root: a lab's state, QEMU monitors and cgroups are root's")
    status = lab.status(name, settings.run_dir())
    if fmt is OutputFormat.JSON:
        show_json(status.to_dict())
    else:
        show_lines(status_lines(status))


@vmlab_app.command("down")
def vmlab_down(name: str = NameOption) -> None:
    """Remove the lab: every QEMU, cgroup, namespace and file it made, also after a crash
    or a kill -9 of anything. A lab that is not up: nothing to do, exit 0."""
    from netcfg.vmlab import lab

    if os.geteuid() != 0:
        raise InputError("netcfg vmlab needs root: it removes network namespaces, cgroups and QEMU processes")
    lab.down(name, run_dir=settings.run_dir(), say=say)


@vmlab_app.command("calibrate")
def vmlab_calibrate(
    name: str = typer.Option(
        "vmlab-calibrate",
        "--name",
        metavar="NAME",
        help="Name of the two-hypervisor lab calibration builds and removes.",
    ),
    memory: str = typer.Option("128,192,256", "--memory", metavar="MIB,...", help="Guest memory sizes (MiB)."),
    dirty: str = typer.Option("2,8,30", "--dirty", metavar="MIB_S,...", help="Dirty rates (MiB/s)."),
    bandwidth: str = typer.Option("24,48", "--bandwidth", metavar="MIB_S,...", help="Migration bandwidths (MiB/s)."),
    fmt: OutputFormat = format_option(OutputFormat.TEXT, OutputFormat.JSON),
) -> None:
    """Migrate real guests over a grid of memory sizes x dirty rates x bandwidths, one at
    a time on a lab of two hypervisors of its own, and compare each with the pre-copy
    estimator of `netcfg plan`: predicted against measured time and data, the median
    and worst error, and whether the model's "does not converge" is what QEMU did (a
    migration that does not converge is cancelled after a few rounds). The default grid
    is 3 x 3 x 2 with 3 cases that cannot converge; it takes about 5 minutes."""
    from netcfg.present.vmlab import calibration_lines
    from netcfg.vmlab.calibrate import EFFICIENCY, calibrate
    from netcfg.vmlab.guest import MIN_GUEST_MIB
    from netcfg.vmlab.lab import require_root_and_qemu
    from netcfg.vmlab.scale import MAX_LINK_MIB_S

    sizes = numbers("--memory")(memory)
    bad = [m for m in sizes if m < MIN_GUEST_MIB or m != int(m)]
    if bad:
        least = f"a lab guest needs a whole number of MiB, at least {MIN_GUEST_MIB}"
        raise InputError([Problem(Location("--memory"), f"{m:g} MiB: {least}") for m in bad])
    rates = numbers("--bandwidth")(bandwidth)
    most = MAX_LINK_MIB_S * EFFICIENCY  # each link is shaped to the bandwidth / efficiency
    if any(b > most for b in rates):
        raise InputError([Problem(Location("--bandwidth"), f"at most {most:,.0f} MiB/s, not {bandwidth}")])
    require_root_and_qemu()
    result = calibrate(
        name,
        memory=[int(m) for m in sizes],
        dirty=numbers("--dirty")(dirty),
        bandwidth=rates,
        run_dir=settings.run_dir(),
        cache_dir=settings.vmlab_cache(),
        say=say,
    )
    if fmt is OutputFormat.JSON:
        show_json(result.to_dict())
    else:
        show_lines(calibration_lines(result))


@vmlab_app.command("fetch")
def vmlab_fetch() -> None:
    """Fetch the guest's kernel and busybox from Debian's packages (apt-get download)
    into the cache (NETCFG_VMLAB_CACHE, default /var/cache/netcfg/vmlab), unless they
    are there; print the files. `vmlab up` does this on first use."""
    from netcfg.vmlab import artefacts

    found = artefacts.ensure(settings.vmlab_cache())
    emit(f"{found.kernel}\n{found.initramfs}\n")
