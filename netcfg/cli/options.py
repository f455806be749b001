"""Arguments and options shared by several commands, each defined once."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from netcfg.errors import InputError, quote
from netcfg.model.host import DesignName
from netcfg.problems import Location, Problem

if TYPE_CHECKING:
    from netcfg.model.host import HostConfig
    from netcfg.model.inventory import Inventory, Machine

DEFAULT_INVENTORY = Path("inventory")

INVENTORY_HELP = "Inventory directory (YAML files, merged) or a single YAML file."
# Where the inventory is a command's main object, it may be named either way.
# Arguments are described in their command's help text: typer would print a type
# placeholder (<path>, <str>) beside each in an "Arguments" list.
InventoryArgument = typer.Argument(None, metavar="INVENTORY", hidden=True, show_default=False)
InventoryAlsoOption = typer.Option(
    None, "--inventory", "-i", metavar="PATH", help="The inventory, like INVENTORY.", show_default=False
)
InventoryOption = typer.Option(DEFAULT_INVENTORY, "--inventory", "-i", metavar="PATH", help=INVENTORY_HELP)
# For BASE/HEAD commands the inventory is also the directory read inside git revisions.
InventoryDirOption = typer.Option(
    "inventory",
    "--inventory",
    "-i",
    metavar="PATH",
    help="Inventory directory: the head when HEAD is omitted, and the directory read inside git revisions.",
)


def parse_design(value: str, option: str = "--design") -> DesignName:
    """A design option's value; an unknown one is an input error worded the same everywhere."""
    try:
        return DesignName(value)
    except ValueError:
        known = ", ".join(d.value for d in DesignName)
        raise InputError([Problem(Location(option), f"unknown design {quote(value)}", f"known: {known}")]) from None


def output_directory(value: str) -> Path:
    """--out: an empty value (an unset variable) names no directory; the current one
    must be asked for as `.`."""
    if not value:
        raise InputError([Problem(Location("--out"), "is empty: name a directory ('.' for the current one)")])
    return Path(value)


def whole_number(option: str, minimum: int = 0, maximum: int = 2**64 - 1) -> Callable[[str], int]:
    """A parser for an integer option, its error worded like netcfg's other input errors."""

    def parse(value: str) -> int:
        number = int(value) if re.fullmatch(r"\s*[+-]?[0-9]{1,20}\s*", str(value)) else None
        if number is None or not minimum <= number <= maximum:
            raise InputError(
                [
                    Problem(
                        Location(option), f"expected a whole number from {minimum} to {maximum:,}, not {quote(value)}"
                    )
                ]
            )
        return number

    return parse


DesignOption = typer.Option(
    None,
    "--design",
    "-d",
    parser=parse_design,
    metavar="DESIGN",
    help="Routing design: policy-routing or flat (default: the inventory's policy.design).",
)


def parse_rp_filter(value: str) -> str:
    known = ("strict", "loose", "off")
    if value not in known:
        raise InputError(
            [Problem(Location("--rp-filter"), f"unknown rp_filter {quote(value)}", f"known: {', '.join(known)}")]
        )
    return value


RpFilterOption = typer.Option(
    "strict",
    "--rp-filter",
    parser=parse_rp_filter,
    metavar="strict|loose|off",
    help="The machines' reverse-path filtering (net.ipv4.conf.*.rp_filter 1, 2 or 0) the model assumes.",
)


StageOption = typer.Option(
    None,
    "--stage",
    metavar="PLAN:K",
    help="The fleet after stage K of a migration plan (the JSON `netcfg migrate --format json` wrote).",
)


def stage_alone(stage: str | None, design: DesignName | None) -> None:
    """--stage decides each machine's design: with --design as well, one would be ignored."""
    if stage is not None and design is not None:
        raise InputError([Problem(Location("--stage"), "not with --design: the stage decides each machine's design")])


class OutputFormat(StrEnum):
    TEXT = "text"  # for a person: lines and tables
    JSON = "json"
    MARKDOWN = "markdown"


def format_option(*choices: OutputFormat) -> Any:
    """`--format`, one of `choices` (the first is the default); an unknown value is an
    input error worded like --design's. `table`, the older name of `text`, still works."""
    names = [c.value for c in choices]

    def parse(value: str) -> OutputFormat:
        if value == "table" and OutputFormat.TEXT in choices:
            return OutputFormat.TEXT
        if value not in names:
            raise InputError(
                [Problem(Location("--format"), f"unknown format {quote(value)}", f"known: {', '.join(names)}")]
            )
        return OutputFormat(value)

    return typer.Option(
        choices[0].value, "--format", parser=parse, metavar="|".join(names), help=f"Output format: {', '.join(names)}."
    )


BaseArgument = typer.Argument(..., metavar="BASE", hidden=True)
HeadArgument = typer.Argument(None, metavar="HEAD", hidden=True, show_default=False)
HostArgument = typer.Argument(..., metavar="HOST", hidden=True)
NetnsOption = typer.Option(
    ..., "--netns", metavar="NAME", help="Existing network namespace to work in (never created; see `ip netns add`)."
)
LabNameOption = typer.Option(
    "netcfg",
    "--name",
    metavar="NAME",
    help="Lab name: prefixes its namespaces (NAME-sw, NAME-m-MACHINE), so labs never collide.",
)


def inventory_path(argument: Path | None, option: Path | None) -> Path:
    """The inventory named as INVENTORY or with --inventory (not two different ones)."""
    if argument is not None and option is not None and argument != option:
        raise InputError(
            [Problem(Location("--inventory"), f"two inventories given: {quote(argument)} and {quote(option)}")]
        )
    return argument or option or DEFAULT_INVENTORY


def load(path: Path) -> Inventory:
    """Load and validate an inventory; raises InputError listing every problem."""
    from netcfg.inventory.load import load_inventory  # the YAML parser: not for --help

    return load_inventory(path)


def require_machine(inventory: Inventory, name: str) -> Machine:
    """The machine called `name`; an unknown name is an input error suggesting close ones."""
    found = inventory.machines.get(name)
    if found is None:
        close = [n for n in inventory.machines if fnmatch.fnmatchcase(n, f"*{name}*")][:5]
        hint = f"did you mean: {', '.join(close)}" if close else ""
        raise InputError([Problem(Location(inventory.source), f"unknown machine {quote(name)}", hint)])
    return found


def machine_config(inventory: Path, host: str | None, design: DesignName | None, command: str) -> HostConfig:
    """HOST's config rendered from the inventory, for a command that could have read a
    rendered file instead (--from)."""
    from netcfg.designs import render

    if host is None:
        raise InputError([Problem(Location(f"netcfg {command}"), "which machine? Give HOST, or --from FILE")])
    inv = load(inventory)
    return render(inv, design, [require_machine(inv, host)])[host]
