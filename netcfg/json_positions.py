"""Line and column of the value a problem names in a JSON file.

The readers of JSON files (a rendered machine, a plan, an impact report) check parsed
values and name what is wrong by its path: `$.rules[0].table`, `migrations[3].after`.
`located` gives each such problem the line and column where that value starts, found
only once a problem is reported, by walking the text along the path: a good file costs
nothing, and each container walked is indexed once, so a file with thousands of bad
entries is walked once, not once per entry.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable

from netcfg.problems import Location, Problem

# `$` or a key, then keys and indexes, up to a space or a colon; a bare word is no path
# (it must hold an index, or start at `$`): "waves is not a list" names no place.
_PATH = re.compile(r"(?:\$(?:\.[A-Za-z_]\w*|\[\d+\])*|[A-Za-z_]\w*\[\d+\](?:\.[A-Za-z_]\w*|\[\d+\])*)(?=[: ]|$)")
_STEP = re.compile(r"\.?([A-Za-z_]\w*)|\[(\d+)\]")
_SPACE = re.compile(r"[ \t\n\r]*")


def located(problems: Iterable[Problem], text: str, file: str) -> list[Problem]:
    """`problems`, those about `file` without a line given the line and column of the
    first JSON path their message names (when the text has that path)."""
    found = _Index(text)
    out = []
    for problem in problems:
        where = problem.location
        match = _named(problem.message) if where.file == file and not where.line else None
        offset = found.offset(match.group()) if match else None
        if offset is not None:
            line, column = found.line_column(offset)
            problem = Problem(Location(file, line, column), problem.message, problem.hint)
        out.append(problem)
    return out


def _named(message: str) -> re.Match[str] | None:
    """The path a reader's message starts with, or starts its second part with (`not a
    plan file: waves[1] has ...`): anywhere else it could be a user's value quoted."""
    head, colon, rest = message.partition(": ")
    return _PATH.match(message) or (_PATH.match(rest) if colon else None)


class _Index:
    def __init__(self, text: str) -> None:
        self.text = text
        self.decoder = json.JSONDecoder()
        self.children: dict[int, dict[str | int, int]] = {}  # container's offset -> its values'
        self.newlines: list[int] | None = None

    def offset(self, path: str) -> int | None:
        """Where the value at `path` starts, None if the text has no such value."""
        at = self._space(0)
        for key, index in _STEP.findall(path.removeprefix("$")):
            if at >= len(self.text):
                return None
            children = self.children.get(at)
            if children is None:
                children = self.children[at] = self._walk(at)
            at = children.get(int(index) if index else key, -1)
            if at < 0:
                return None
        return at

    def line_column(self, offset: int) -> tuple[int, int]:
        if self.newlines is None:
            self.newlines = [m.start() for m in re.finditer("\n", self.text)]
        line = bisect.bisect_left(self.newlines, offset)
        start = self.newlines[line - 1] + 1 if line else 0
        return line + 1, offset - start + 1

    def _walk(self, at: int) -> dict[str | int, int]:
        """Where each value of the object or array at `at` starts (of a key named twice,
        the last, as json keeps it); nothing for a scalar or a text that is not JSON."""
        text, found = self.text, dict[str | int, int]()
        opening = text[at]
        if opening not in "{[":
            return {}
        closing = "}" if opening == "{" else "]"
        at = self._space(at + 1)
        n = 0
        try:
            while at < len(text) and text[at] != closing:
                name: str | int = n
                if opening == "{":
                    name, at = self.decoder.raw_decode(text, at)  # the key, a JSON string
                    at = self._space(at)
                    if text[at] != ":":
                        return found
                    at = self._space(at + 1)
                found[name] = at
                at = self._space(self.decoder.raw_decode(text, at)[1])
                n += 1
                if at < len(text) and text[at] == ",":
                    at = self._space(at + 1)
        except (ValueError, IndexError):  # not JSON past here: what was found stands
            pass
        return found

    def _space(self, at: int) -> int:
        match = _SPACE.match(self.text, at)
        return match.end() if match else at
