"""Where a user's input is wrong, and what is wrong there: the diagnostics every check
collects and InputError reports, one line each (`file:line:column: error: ...`)."""

from __future__ import annotations

from dataclasses import dataclass

from netcfg.errors import printable


@dataclass(frozen=True, slots=True, order=True)
class Location:
    """Where a value came from: 1-based line and column, as editors count."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        file = printable(self.file)
        if self.line:
            return f"{file}:{self.line}:{self.column}"
        return file


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with the user's input."""

    location: Location
    message: str
    hint: str = ""

    def __str__(self) -> str:
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.location}: error: {self.message}{hint}"
