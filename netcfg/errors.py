"""Errors grouped by who must act, each with the exit code docs/design.md assigns.

Only the CLI layer turns these into messages and exit codes; library code raises them.
"""

from __future__ import annotations

from os import PathLike, fspath

# Neither dataclasses nor typing: every command imports this module, a no-op apply
# (kernel/settled.py) too, and importing dataclasses costs it more than its own work.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from netcfg.problems import Problem

EXCERPT = 40  # characters of a user's value an error message repeats, at most


def printable(text: str) -> str:
    """`text` with control characters and anything unprintable escaped (`\\x1b`, `\\n`):
    a file name or a value must not move a terminal's cursor, or start a line of a CI
    log that the CI reads as a command (`::error::...`)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def quote(value: object, limit: int = EXCERPT) -> str:
    """A user's value as an error message may show it: quoted, control characters and
    anything unprintable escaped, cut to `limit` characters. A message must never carry
    a file's content (a token a symlink pointed at) or break a terminal or a report."""
    text = str(value)
    shown = printable(text[:limit].replace("\\", "\\\\").replace("'", "\\'"))
    return f"'{shown}{'…' if len(text) > limit else ''}'"


def damage(error: Exception) -> str:
    """What a damaged file's decoding error says, quoted: a KeyError names its key."""
    if isinstance(error, KeyError) and error.args:
        return f"no {quote(error.args[0])}"
    return quote(error)


class CommandInterrupted(BaseException):
    """Ctrl-C inside a command, carried past typer (which would end it silently) for
    `cli.main` to say so: exit 130."""


class NetcfgError(Exception):
    """Base of every error netcfg reports without a traceback."""

    exit_code = 1


class InputError(NetcfgError):
    """The user's input (inventory, arguments, files) is wrong: the user must fix it."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | tuple[Problem, ...] | str):
        if isinstance(problems, str):
            from netcfg.problems import Location, Problem

            problems = [Problem(Location("netcfg"), problems)]
        self.problems = tuple(sorted(problems))
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(cls, where: str | PathLike[str], message: str, line: int = 0, column: int = 0) -> InputError:
        """The error of one problem at `where` (a file, or what the message names), at
        `line`:`column` when known. problems, and the dataclasses it defines, is imported
        here, with the first problem: a run without one (every apply) never loads it."""
        from netcfg.problems import Location, Problem

        return cls([Problem(Location(fspath(where), line, column), message)])

    def __reduce__(self) -> tuple[type[InputError], tuple[tuple[Problem, ...]]]:
        # Across a process boundary (a sandboxed render) with its problems intact.
        return (type(self), (self.problems,))


class BlockedError(NetcfgError):
    """The seatbelt refused a change: a human must approve it."""

    exit_code = 3


class DriftError(NetcfgError):
    """Live state differs from the desired state."""

    exit_code = 4


class ApplyError(NetcfgError):
    """Applying failed; the state read at the start was restored."""

    exit_code = 5
