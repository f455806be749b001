"""The driver registry: a name (`--driver NAME`) to a factory taking the parsed options.

Adding a driver: a module with a class following `driver.Driver`, and an entry in
`DRIVERS`. A factory checks every option it is given before anything starts (an
InputError lists what is wrong) and touches nothing, so `--dry-run` builds it too: to
check its options and the plan (`check_plan`), and to show what each step would run
(`preview`). What only a real run needs (the libvirt driver's virsh) it checks in
`check_tools`, called before the first step, never for a dry run.

The qemu driver lives with the VM lab: `netcfg.vmlab.driver.make_driver(options)`,
imported only when asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from netcfg.errors import InputError, quote
from netcfg.execute.command import CommandDriver
from netcfg.execute.driver import Driver, Step, StepKind
from netcfg.execute.libvirt import DEFAULT_CONNECT, LibvirtDriver, parse_uri_template
from netcfg.execute.template import Template, parse_template
from netcfg.problems import Location, Problem


@dataclass(frozen=True, slots=True)
class DriverOptions:
    """`netcfg rollout run`'s options, as every driver's factory receives them."""

    run: Mapping[StepKind, str] = field(default_factory=dict)  # --run KIND=TEMPLATE
    kinds: frozenset[StepKind] = frozenset()  # the kinds of step the plan holds
    connect: str | None = None  # libvirt: --connect URI template
    dest_uri: str | None = None  # libvirt: --dest-uri URI template
    migrate_options: tuple[str, ...] = ()  # libvirt: --migrate-option, split like a shell
    lab: str | None = None  # qemu: --lab NAME
    jitter: tuple[float, float] | None = None  # qemu: --jitter LO:HI


@runtime_checkable
class Previewing(Protocol):
    def preview(self, step: Step) -> list[str]:
        """What `step` would run, one line per process (for --dry-run)."""
        ...


Factory = Callable[[DriverOptions], Driver]


def _templates(
    options: DriverOptions, refused: frozenset[StepKind], why: Mapping[StepKind, str]
) -> dict[StepKind, Template]:
    """Every --run template parsed (a typo is caught even for a kind the plan lacks); one
    is required for each kind of step the plan holds that the driver does not run itself."""
    problems: list[Problem] = []
    templates: dict[StepKind, Template] = {}
    for kind, text in sorted(options.run.items(), key=lambda item: item[0].value):
        if kind in refused:
            problems.append(
                Problem(Location(f"--run {kind.value}"), f"{kind.value} steps are not run by a template here")
            )
            continue
        try:
            templates[kind] = parse_template(kind, text)
        except InputError as error:
            problems.extend(error.problems)
    for kind in sorted(options.kinds - refused - set(options.run), key=lambda k: k.value):
        problems.append(
            Problem(
                Location("--run"),
                f"the plan has {kind.value} steps and no --run {kind.value}=TEMPLATE",
                why.get(kind, ""),
            )
        )
    if problems:
        raise InputError(problems)
    return templates


def _unused(options: DriverOptions, driver: str, allowed: set[str]) -> None:
    given = {
        "--connect": options.connect is not None,
        "--dest-uri": options.dest_uri is not None,
        "--migrate-option": bool(options.migrate_options),
        "--lab": options.lab is not None,
        "--jitter": options.jitter is not None,
    }
    wrong = [name for name, present in given.items() if present and name not in allowed]
    if wrong:
        raise InputError([Problem(Location(name), f"is not an option of --driver {driver}") for name in wrong])


def command_driver(options: DriverOptions) -> CommandDriver:
    _unused(options, "command", set())
    return CommandDriver(_templates(options, frozenset(), {}))


def libvirt_driver(options: DriverOptions) -> LibvirtDriver:
    _unused(options, "libvirt", {"--connect", "--dest-uri", "--migrate-option"})
    why = {
        StepKind.MAINTENANCE: "libvirt moves VMs; what reconfigures a host is the site's own command",
        StepKind.HOT: "libvirt moves VMs; a hot change is pushed by the site's own command (ssh, Ansible)",
    }
    templates = _templates(options, frozenset({StepKind.MIGRATION}), why)
    connect = parse_uri_template("--connect", options.connect or DEFAULT_CONNECT)
    dest = parse_uri_template("--dest-uri", options.dest_uri) if options.dest_uri is not None else None
    own = ("--domain", "--desturi", "--live")
    bad = [o for o in options.migrate_options if o.partition("=")[0] in own]
    if options.migrate_options and not options.migrate_options[0].startswith("--"):
        bad.append(options.migrate_options[0])
    if bad:
        raise InputError(
            [
                Problem(
                    Location("--migrate-option"),
                    f"{quote(b)}: netcfg writes --live, --domain and --desturi itself; options start with --",
                )
                for b in bad
            ]
        )
    return LibvirtDriver(templates, connect, dest, options.migrate_options)


def qemu_driver(options: DriverOptions) -> Driver:
    try:
        module = importlib.import_module("netcfg.vmlab.driver")
    except ModuleNotFoundError as error:
        if error.name not in ("netcfg.vmlab", "netcfg.vmlab.driver"):
            raise  # the lab is there and broken: a bug, not the user's input
        raise InputError(
            [Problem(Location("--driver qemu"), "the qemu driver needs the VM lab (netcfg vmlab)")]
        ) from None
    driver: Driver = module.make_driver(options)
    return driver


@dataclass(frozen=True, slots=True)
class DriverEntry:
    factory: Factory
    summary: str


DRIVERS: dict[str, DriverEntry] = {
    "command": DriverEntry(command_driver, "each step runs its kind's --run template"),
    "libvirt": DriverEntry(libvirt_driver, "migrations through virsh migrate --live; --run for the rest"),
    "qemu": DriverEntry(qemu_driver, "the VM lab over QMP (netcfg vmlab)"),
}


def driver_entry(name: str) -> DriverEntry:
    entry = DRIVERS.get(name)
    if entry is None:
        known = ", ".join(DRIVERS)
        raise InputError([Problem(Location("--driver"), f"unknown driver {quote(name)}", f"known: {known}")])
    return entry
