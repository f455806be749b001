"""Options, arguments and output helpers shared by the command modules."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.console import Console

from netcfg.model.inventory import Inventory
from netcfg.inventory.load import load_inventory

DEFAULT_INVENTORY = Path("inventory")


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # The reader went away (`netcfg impact ... | head`): discard the rest of the
        # output but let the command finish, so its exit code (3 for a blocked change)
        # still reaches the caller; rich's default exits 1 here.
        self.quiet = True
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _console(stderr: bool) -> Console:
    # Colour off in CI, with NO_COLOR, and when not a terminal.
    no_color = bool(os.environ.get("NO_COLOR")) or bool(os.environ.get("CI"))
    stream = sys.stderr if stderr else sys.stdout
    # Piped into a file or a CI log, tables get room instead of rich's 80 columns.
    width = None if stream.isatty() or "COLUMNS" in os.environ else 160
    return _Console(
        stderr=stderr, no_color=no_color, highlight=False, soft_wrap=True, width=width
    )


out = _console(stderr=False)  # data: tables, reports
err = _console(stderr=True)  # messages, progress

InventoryArg = typer.Argument(
    DEFAULT_INVENTORY,
    help="Inventory directory (YAML files, merged) or a single YAML file.",
    show_default=True,
)


def load(path: Path) -> Inventory:
    """Load and validate an inventory; raises InputError listing every problem."""
    return load_inventory(path)


def show_progress() -> bool:
    """Progress bars only for a person at a terminal."""
    return sys.stderr.isatty() and not os.environ.get("CI")


class reader_may_leave:  # noqa: N801 - used as `with reader_may_leave():`
    """Write to stdout until the reader goes away (`| head`): then stop quietly, so the
    command still ends with its own exit code (check: 3 when blocked) instead of a
    broken pipe. Plain writes raise BrokenPipeError; rich's default raises SystemExit(1)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, tb) -> bool:
        if kind is not None and issubclass(kind, (BrokenPipeError, SystemExit)):
            # Later writes and the flush at exit go nowhere instead of failing again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            return True
        return False
