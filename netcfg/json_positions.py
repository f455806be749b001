"""Line and column of the value a problem names in a JSON file.

The readers of JSON files (a rendered machine, a plan, an impact report) check parsed
values and name what is wrong by its path: `$.rules[0].table`, `migrations[3].after`.
`located` gives each such problem the line and column where that value starts, found
only once a problem is reported, by walking the text along the path: a good file costs
nothing, and each container walked is indexed once, so a file with thousands of bad
entries is walked once, not once per entry. `keys_twice` and `deeper_than` place what
json itself cannot: a key an object names twice, and nesting beyond netcfg's limit.
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
_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')  # strings are skipped whole


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


def keys_twice(text: str) -> list[tuple[str, str, int, int]]:
    """(the object's JSON path, the key, line, column of its second naming) for each key
    an object of `text` names twice, in the text's order. Only for a text json parsed."""
    found = _Index(text)
    out = []
    containers = [(found._space(0), "$")]
    while containers:
        at, path = containers.pop()
        if at >= len(text) or text[at] not in "{[":
            continue
        seen = set()
        inner = []
        for name, start, value in found.members(at):
            if isinstance(name, str) and name in seen:
                out.append((start, path, name))
            seen.add(name)
            inner.append((value, path + _step(name)))
        containers.extend(reversed(inner))
    return [(path, key, *found.line_column(start)) for start, path, key in sorted(out)]


def _step(name: str | int) -> str:
    if isinstance(name, int):
        return f"[{name}]"
    return f".{name}" if name.isidentifier() else f"[{json.dumps(name)}]"


def line_column(text: str, offset: int) -> tuple[int, int]:
    """The line and column of `offset` in `text`, as editors count."""
    return _Index(text).line_column(offset)


def deeper_than(text: str, levels: int) -> tuple[int, int]:
    """Line and column of the first list or object of `text` nested below `levels`
    levels; (0, 0) when none is."""
    depth = 0
    for token in _BRACKET.finditer(text):
        if token.group() in "[{":
            depth += 1
            if depth > levels:
                return line_column(text, token.start())
        elif token.group() in "]}":
            depth -= 1
    return 0, 0


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
        return {name: value for name, _, value in self.members(at)}

    def members(self, at: int) -> list[tuple[str | int, int, int]]:
        """(key or index, where it starts, where its value starts) for each member of the
        object or array at `at`, in the text's order; up to where the text stops being
        JSON."""
        text, found = self.text, list[tuple[str | int, int, int]]()
        opening = text[at]
        if opening not in "{[":
            return found
        closing = "}" if opening == "{" else "]"
        at = self._space(at + 1)
        n = 0
        try:
            while at < len(text) and text[at] != closing:
                name: str | int = n
                start = at
                if opening == "{":
                    name, at = self.decoder.raw_decode(text, at)  # the key, a JSON string
                    at = self._space(at)
                    if text[at] != ":":
                        return found
                    at = self._space(at + 1)
                found.append((name, start, at))
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
