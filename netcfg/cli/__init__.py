"""Command-line entry point: the only layer that prints and chooses exit codes.

Every module in this package defines its commands on `app`; importing them all here
registers them, so adding a command is adding a module.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import traceback

import typer

try:  # typer >= 0.24 vendors its own click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer on plain click
    from click import exceptions as click_errors

from netcfg.cli.app import app
from netcfg.errors import NetcfgError

# Pipeline order, so `netcfg --help` lists the commands as the data flows; any other
# module is registered after these.
_ORDER = (
    "validate", "synth", "render", "show", "diff", "impact", "who_uses", "check",
    "plan", "simulate", "apply", "status", "lab",
)
_HELPERS = {"app", "console", "options", "read", "settings"}
_found = {m.name for m in pkgutil.iter_modules(__path__)} - _HELPERS
for _name in (*_ORDER, *sorted(_found - set(_ORDER))):
    if _name in _found and not _name.startswith("_"):
        importlib.import_module(f"{__name__}.{_name}")


def main(argv: list[str] | None = None) -> int:
    """Run netcfg; returns (and as a script exits with) the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    # --debug is accepted anywhere on the line, not only before the command.
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    try:
        result = app(args=args, prog_name="netcfg", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except NetcfgError as error:
        print(str(error), file=sys.stderr)
        code = error.exit_code
    except typer.Exit as done:
        code = done.exit_code
    except click_errors.ClickException as error:  # usage errors: unknown option, bad value
        error.show()
        code = 2
    except (typer.Abort, KeyboardInterrupt):
        print("netcfg: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        # The reader went away (`| head`): point stdout at /dev/null so the interpreter's
        # final flush cannot fail again and turn the exit code into 1.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    except Exception as error:  # noqa: BLE001 - the one place that catches bugs
        if debug:
            traceback.print_exc()
        else:
            print(
                f"netcfg: internal error: {type(error).__name__}: {error} "
                "(a bug; run again with --debug for the traceback)",
                file=sys.stderr,
            )
        code = 1
    if argv is None:
        sys.exit(code)
    return code
