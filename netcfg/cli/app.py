"""The typer application every command module registers itself on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="netcfg",
    help="Render, diff and safely roll out per-machine routing from a network inventory.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an unexpected error (exit code 1)."),
) -> None:
    """Render, diff and safely roll out per-machine routing from a network inventory.

    Exit codes: 0 success, 1 internal error, 2 invalid input, 3 blocked by the seatbelt,
    4 drift found, 5 apply failed and was rolled back.
    """
