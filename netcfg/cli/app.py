"""The typer application every command module registers itself on."""

from __future__ import annotations

import typer
import typer.core
from typer._click.core import Context  # typer vendors click since 0.26

from netcfg.errors import CommandInterrupted

HELP = """Render, diff and safely roll out per-machine routing from a network inventory.

Exit codes: 0 success, 1 internal error (a bug), 2 invalid input, 3 blocked by the
seatbelt or an invariant broken, 4 drift found, 5 apply failed and was rolled back, or
a rollout step failed, 6 a plan left part of the change unscheduled, 130 interrupted.
--debug and --quiet are accepted anywhere on the line.
"""


class _Commands(typer.core.TyperGroup):
    def invoke(self, ctx: Context) -> object:
        # typer would turn Ctrl-C inside a command into a silent exit 130.
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise CommandInterrupted from None


app = typer.Typer(
    cls=_Commands,
    name="netcfg",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no <bool> or <list[str]> placeholders
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an unexpected error (exit code 1)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress and no messages but errors, on stderr."),
    version: bool = typer.Option(False, "--version", help="Print netcfg's version and exit."),
) -> None:
    del debug, quiet, version  # shown here for --help; cli.main handles them anywhere on the line
