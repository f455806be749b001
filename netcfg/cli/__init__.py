"""Command-line entry point: the only layer that prints and chooses exit codes.

Every command module defines its commands on `app`; importing them here registers
them, in pipeline order, so `netcfg --help` lists them as the data flows. Nothing of
typer or rich is imported before a command needs it (see applying).
"""

from __future__ import annotations

import errno
import importlib
import os
import sys

import netcfg
from netcfg.cli import console
from netcfg.cli.applying import applied_without_parser
from netcfg.errors import CommandInterrupted, NetcfgError, quote
from netcfg.gc_tuning import rare_full_collections

# Each command module registers its commands on `app` when imported, in this order:
# pipeline order, the order `netcfg --help` lists them in. A run imports only the module
# of its command (netcfg apply never loads the renderer's templates or the planner);
# help and completion import them all.
COMMAND_MODULES = {
    "validate": "validate",
    "synth": "synth",
    "render": "render",
    "show": "show",
    "diff": "diff",
    "impact": "impact",
    "who-uses": "who_uses",
    "verify": "verify",
    "check": "check",
    "plan": "plan",
    "simulate": "simulate",
    "migrate": "migrate",
    "rollout": "rollout",
    "apply": "apply",
    "status": "status",
    "lab": "lab",
    "vmlab": "vmlab",
}
_ROOT_FLAGS = ("--debug", "--quiet", "-q", "--version", "--help")


def _register(args: list[str]) -> None:
    """Import the module of the command on the line, or every module if there is none."""
    from netcfg.cli.app import app

    words = [a for a in args if a not in _ROOT_FLAGS]
    module = COMMAND_MODULES.get(words[0]) if words and "--help" not in args[: args.index(words[0])] else None
    for name in [module] if module is not None else COMMAND_MODULES.values():
        importlib.import_module(f"netcfg.cli.{name}")
    # In pipeline order whatever order the modules were imported in (tests run many).
    rank = {f"netcfg.cli.{m}": n for n, m in enumerate(COMMAND_MODULES.values())}
    app.registered_commands.sort(key=lambda c: rank.get(getattr(c.callback, "__module__", ""), len(rank)))
    order = list(COMMAND_MODULES)
    app.registered_groups.sort(key=lambda g: order.index(g.name) if g.name in order else len(order))


def main(argv: list[str] | None = None) -> int:
    """Run netcfg; returns (and as a script exits with) the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    _open_closed_streams()
    debug = "--debug" in args
    console.set_quiet("--quiet" in args or "-q" in args)
    try:
        # --debug, --quiet and --version are accepted anywhere on the line, not only
        # before the command.
        if "--version" in args[: args.index("--") if "--" in args else len(args)]:
            print(f"netcfg {netcfg.__version__}", flush=True)
            code = 0
        else:
            args = [a for a in args if a not in ("--debug", "--quiet", "-q")]
            code = 0 if applied_without_parser(args) else _run(args)
    except NetcfgError as error:
        console.complain(str(error))
        code = error.exit_code
    except (KeyboardInterrupt, CommandInterrupted):
        console.complain("netcfg: interrupted")
        code = 130
    except BrokenPipeError:
        # The reader went away (`| head`): the interpreter's final flush must not fail
        # again and turn the exit code into 1.
        console.discard(sys.stdout)
        code = 0
    except OSError as error:
        if error.errno not in _NOT_A_BUG:
            code = _internal(error, debug)
        else:
            console.complain(_os_problem(error))
            if error.filename is None:  # stdout itself: the interpreter's last flush would fail again
                console.discard(sys.stdout)
            code = 2
    except Exception as error:
        code = _internal(error, debug)
    if argv is None:
        import gc

        # The process ends here: the interpreter's last collections would walk every
        # object still alive (a plan's, a check's inventories) only to free what the
        # exit frees anyway. Frozen, they are skipped.
        gc.freeze()
        sys.exit(code)
    return code


def _open_closed_streams() -> None:
    """A standard stream the caller closed (`>&-`, some daemons) reads as /dev/null: the
    output it refused is dropped, and no file opened later takes its number."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))  # noqa: SIM115 - the process's own


# What the system refuses a user's path or output for, wherever the code meets it: a name
# over NAME_MAX (255 bytes) or PATH_MAX, a loop of links, a full disk or quota. Input
# and surroundings to fix, never a bug.
_NOT_A_BUG = frozenset((errno.ENAMETOOLONG, errno.ELOOP, errno.ENOSPC, errno.EDQUOT, errno.EFBIG))


def _os_problem(error: OSError) -> str:
    """One line for `error`: the path it names, cut and escaped like any value."""
    reason = error.strerror or str(error)
    if error.filename is None:
        return f"netcfg: cannot write the output: {reason}"
    name = error.filename
    return f"netcfg: {quote(os.fsdecode(name) if isinstance(name, (str, bytes)) else name)}: {reason}"


def _internal(error: Exception, debug: bool) -> int:
    """A bug: one line, or with --debug the traceback; exit 1."""
    if debug:
        import traceback

        traceback.print_exc()
    else:
        console.complain(
            f"netcfg: internal error: {type(error).__name__}: {error} (a bug; run again with --debug for the traceback)"
        )
    return 1


def _run(args: list[str]) -> int:
    """Parse the command line and run its command; the exit code."""
    import typer
    from typer._click.exceptions import ClickException  # typer vendors click since 0.26

    from netcfg.cli.app import app

    _register(args)
    try:
        # A command's loaded inventories stay alive to its end: collections that walk
        # them all again are made rare for the whole run, reports included (a check's
        # JSON report at 10,000 machines took 0.3 s with Python's defaults, 0.04 s so).
        with rare_full_collections():
            result = app(args=args, prog_name="netcfg", standalone_mode=False)
    except typer.Exit as done:
        return done.exit_code
    except ClickException as error:  # usage errors: unknown option, bad value
        error.show()
        return 2
    except typer.Abort:
        raise KeyboardInterrupt from None
    return result if isinstance(result, int) else 0
