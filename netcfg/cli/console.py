"""Where the CLI writes: data to stdout, messages and progress to stderr."""

from __future__ import annotations

import os
import sys
from types import TracebackType

from netcfg.cli.settings import colour_allowed

# typing itself is not imported: a few milliseconds of apply's start-up (see applying).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import TextIO

    from rich.console import Console, RenderableType

    out: Console  # data: tables, reports
    err: Console  # progress


def __getattr__(name: str) -> Console:
    """`out` and `err`, made on first use: rich is a third of the start-up of a command
    that prints no table (apply, status)."""
    if name not in ("out", "err"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    made = globals()[name] = _console(stderr=name == "err")
    return made


def _console(stderr: bool) -> Console:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # The reader went away (`netcfg impact ... | head`): discard the rest of the
            # output but let the command finish, so its exit code (3 for a blocked change)
            # still reaches the caller; rich's default exits 1 here.
            self.quiet = True
            discard(sys.stdout)

    stream = sys.stderr if stderr else sys.stdout
    # Piped into a file or a CI log, tables get room instead of rich's 80 columns.
    width = None if stream.isatty() or "COLUMNS" in os.environ else 160
    # No markup and no emoji codes: inventory strings ("[red]", ":x:") are data, shown as they are.
    return _Console(
        stderr=stderr,
        no_color=not colour_allowed(),
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=True,
        width=width,
    )


_quiet = False


def set_quiet(quiet: bool) -> None:
    """--quiet: no progress and no messages on stderr but errors."""
    global _quiet
    _quiet = quiet


def say(text: str) -> None:
    """A message for the person running the command (stderr, no markup)."""
    if not _quiet:
        _to_stderr(text)


def complain(text: str) -> None:
    """An error for the person running the command: stderr, also under --quiet."""
    _to_stderr(text)


def discard(stream: TextIO) -> None:
    """Point `stream`'s descriptor at /dev/null: later writes, and the interpreter's
    flush at exit, go nowhere instead of failing again."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, stream.fileno())
    os.close(null)


def _to_stderr(text: str) -> None:
    """Written through sys.stderr as it is now (under a progress bar, rich's redirection
    puts the line above the bar). A stderr that cannot take it, full or with its reader
    gone (`2>&1 | head -1`), must not change the command's exit code (a blocked check
    stays 3): the rest goes nowhere."""
    try:
        print(text, file=sys.stderr, flush=True)
    except OSError:
        discard(sys.stderr)


def emit(text: str) -> None:
    """Data to stdout verbatim: rich would reinterpret ":name:" and brackets."""
    with reader_may_leave():
        sys.stdout.write(text)
        sys.stdout.flush()


def _stdout() -> Console:
    """`out`, made now if no one has used it yet (a bare name inside this module would
    not go through the module's __getattr__)."""
    return globals().get("out") or __getattr__("out")


def show_lines(lines: Iterable[RenderableType]) -> None:
    """Lines (or tables) for a person to stdout, wrapped to a terminal, until the reader
    goes away."""
    stdout = _stdout()
    with reader_may_leave():
        for line in lines:
            stdout.print(line)


def show_json(data: object) -> None:
    """`data` as JSON to stdout, indented (and coloured on a terminal), until the reader
    goes away."""
    import json

    with reader_may_leave():
        _stdout().print_json(json.dumps(data))


def show_progress() -> bool:
    """Progress bars only for a person at a terminal, and not with --quiet."""
    return sys.stderr.isatty() and not os.environ.get("CI") and not _quiet


class reader_may_leave:  # noqa: N801 - used as `with reader_may_leave():`
    """Write to stdout until the reader goes away (`| head`): then stop quietly, so the
    command still ends with its own exit code (check: 3 when blocked) instead of a
    broken pipe. Plain writes raise BrokenPipeError; rich's default raises SystemExit(1)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> bool:
        if kind is not None and issubclass(kind, (BrokenPipeError, SystemExit)):
            discard(sys.stdout)
            return True
        return False
