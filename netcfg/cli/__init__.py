"""Command-line entry point: the only layer that prints and chooses exit codes.

Every command module defines its commands on `app`; importing them here registers
them, in pipeline order, so `netcfg --help` lists them as the data flows.
"""

from __future__ import annotations

import os
import sys
import traceback

import typer
from typer._click.exceptions import ClickException  # typer vendors click since 0.29

import netcfg
from netcfg.cli import console
from netcfg.cli.app import app
from netcfg.errors import NetcfgError

# isort: off
from netcfg.cli import (  # noqa: F401 - each registers its commands, in pipeline order
    validate,
    synth,
    render,
    show,
    diff,
    impact,
    who_uses,
    verify,
    check,
    plan,
    simulate,
    migrate,
    apply,
    status,
    lab,
)
# isort: on


def main(argv: list[str] | None = None) -> int:
    """Run netcfg; returns (and as a script exits with) the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    # --debug, --quiet and --version are accepted anywhere on the line, not only before
    # the command.
    if "--version" in args[: args.index("--") if "--" in args else len(args)]:
        print(f"netcfg {netcfg.__version__}")
        return 0
    debug = "--debug" in args
    console.set_quiet("--quiet" in args or "-q" in args)
    args = [a for a in args if a not in ("--debug", "--quiet", "-q")]
    try:
        result = app(args=args, prog_name="netcfg", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except NetcfgError as error:
        print(str(error), file=sys.stderr)
        code = error.exit_code
    except typer.Exit as done:
        code = done.exit_code
    except ClickException as error:  # usage errors: unknown option, bad value
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
    except Exception as error:
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
