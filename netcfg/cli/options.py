"""Arguments and options shared by several commands, each defined once."""

from __future__ import annotations

import fnmatch
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from netcfg.errors import InputError, Location, Problem
from netcfg.inventory.load import load_inventory
from netcfg.model.host import DesignName
from netcfg.model.inventory import Inventory, Machine

DEFAULT_INVENTORY = Path("inventory")

InventoryArgument = typer.Argument(
    DEFAULT_INVENTORY, help="Inventory directory (YAML files, merged) or a single YAML file.", show_default=True
)
InventoryOption = typer.Option(
    DEFAULT_INVENTORY, "--inventory", "-i", help="Inventory directory (YAML files, merged) or a single YAML file."
)
# For BASE/HEAD commands the inventory is also the directory read inside git revisions.
InventoryDirOption = typer.Option(
    "inventory",
    "--inventory",
    "-i",
    help="Inventory directory: the head when HEAD is omitted, and the directory read inside git revisions.",
)


def parse_design(value: str) -> DesignName:
    """A --design value; an unknown one is an input error worded the same everywhere."""
    try:
        return DesignName(value)
    except ValueError:
        known = ", ".join(d.value for d in DesignName)
        raise InputError([Problem(Location("--design"), f"unknown design {value!r}", f"known: {known}")]) from None


DesignOption = typer.Option(
    None,
    "--design",
    "-d",
    parser=parse_design,
    metavar="DESIGN",
    help="Routing design: policy-routing or flat (default: the inventory's policy.design).",
)


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
            raise InputError([Problem(Location("--format"), f"unknown format {value!r}", f"known: {', '.join(names)}")])
        return OutputFormat(value)

    return typer.Option(
        choices[0].value, "--format", parser=parse, metavar="|".join(names), help=f"Output format: {', '.join(names)}."
    )


BaseArgument = typer.Argument(..., help="Base inventory: a directory, or a git revision (e.g. origin/main).")
HeadArgument = typer.Argument(
    None, help="Head inventory: a directory or a git revision [default: the working tree's --inventory]."
)
HostArgument = typer.Argument(..., help="The machine (inventory name) whose configuration to use.")
NetnsOption = typer.Option(
    ..., "--netns", help="Existing network namespace to work in (never created; see `ip netns add`)."
)
LabNameOption = typer.Option(
    "netcfg", "--name", help="Lab name: prefixes its namespaces (NAME-sw, NAME-m-MACHINE), so labs never collide."
)


def load(path: Path) -> Inventory:
    """Load and validate an inventory; raises InputError listing every problem."""
    return load_inventory(path)


def require_machine(inventory: Inventory, name: str) -> Machine:
    """The machine called `name`; an unknown name is an input error suggesting close ones."""
    found = inventory.machines.get(name)
    if found is None:
        close = [n for n in inventory.machines if fnmatch.fnmatchcase(n, f"*{name}*")][:5]
        hint = f"did you mean: {', '.join(close)}" if close else ""
        raise InputError([Problem(Location(inventory.source), f"unknown machine {name!r}", hint)])
    return found
