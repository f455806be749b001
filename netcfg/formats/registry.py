"""The registry of output formats: adding a format is adding one module that registers.

A format knows three things: which files a machine's config becomes (relative paths,
so the writer can place them under any directory), how to fill them from its Jinja2
templates, and how to read them back into the model (the round-trip tests use that).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import jinja2

from netcfg.host import HostConfig
from netcfg.errors import InputError, Location, Problem

T = TypeVar("T")

# (config, environment) -> {relative path: text}
Renderer = Callable[[HostConfig, "Templates"], dict[str, str]]
# {file name: text} of one machine -> config
Parser = Callable[[Mapping[str, str]], HostConfig]


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    description: str
    render: Renderer
    parse: Parser | None = None  # None: read back by another format's parser
    file_mode: int = 0o644
    # Raises InputError for a config the format cannot express; run for every machine
    # before the first file is written.
    check: Callable[[HostConfig], None] | None = None


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    FORMATS[fmt.name] = fmt
    return fmt


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise InputError(
            [Problem(Location("--format"), f"unknown format {name!r}", f"known: {known}")]
        ) from None


class Templates:
    """Compiled templates of one environment, each compiled on first use only.

    Entry templates (one route, one rule) are rendered once per distinct entry object:
    the designs share the `to` rules and on-link routes of a segment between all its
    machines, so a fleet of 10,000 machines with hundreds of networks per segment
    renders a few thousand entries, not millions. The cache is keyed by object identity
    (hashing a frozen dataclass costs more than rendering the line is worth saving) and
    keeps every entry it has seen alive, so no other object can take over an id while
    its text is cached. Entries built per machine (its `from` rules, its defaults) are
    mostly equal to another machine's: a second cache by value renders each distinct
    one once."""

    __slots__ = ("env", "_compiled", "_by_id", "_by_value", "_alive", "_attached")

    def __init__(self, env: jinja2.Environment):
        self.env = env
        self._compiled: dict[str, jinja2.Template] = {}
        self._by_id: dict[str, dict[int, str]] = {}
        self._by_value: dict[str, dict[object, str]] = {}
        self._alive: list[object] = []
        self._attached: tuple[object, object] = (None, None)

    def block(self, name: str, variable: str, entries: Sequence[object]) -> str:
        """The texts of template `name` for each entry (bound to `variable`), joined."""
        by_id = self._by_id.get(name)
        if by_id is None:
            by_id = self._by_id[name] = {}
        parts = list(map(by_id.get, map(id, entries)))  # C-speed loop: no Python frame
        if None in parts:  # first sight of some entries: render (or find) them
            by_value = self._by_value.setdefault(name, {})
            i = -1
            while True:
                try:
                    i = parts.index(None, i + 1)  # the few misses, found at C speed
                except ValueError:
                    break
                entry = entries[i]
                text = by_value.get(entry)
                if text is None:
                    text = by_value[entry] = self.render(name, **{variable: entry})
                parts[i] = by_id[id(entry)] = text
                self._alive.append(entry)
        return "".join(parts)  # type: ignore[arg-type]

    def memo(self, key: object, compute: Callable[[], T]) -> T:
        """compute() for the last key asked, reused while the same object is asked again
        (networkd and netplan attach the same machine's routes one after the other)."""
        last_key, value = self._attached
        if last_key is not key:
            value = compute()
            self._attached = (key, value)
        return value  # type: ignore[return-value]

    def render(self, name: str, **context: object) -> str:
        from netcfg.formats.environment import template

        compiled = self._compiled.get(name)
        if compiled is None:
            compiled = self._compiled[name] = template(self.env, name)
        try:
            return compiled.render(**context)
        except Exception as error:
            # Only a user's own template (it has a file name; the defaults ship in the
            # package and have none, "<template>") turns any error into an input error: `{{ 1/0 }}`
            # there is the user's mistake, in a default template it is netcfg's bug.
            user = compiled.filename not in (None, "<template>")
            if not isinstance(error, jinja2.TemplateError) and not user:
                raise
            # A user's template that misuses the model (StrictUndefined, the sandbox).
            filename = compiled.filename if user else name
            where = Location(filename, _template_line(error, filename), 1)
            if isinstance(error, jinja2.TemplateNotFound):
                message = f"template error: included template not found: {error.name}"
            else:
                message = f"template error: {error}"
            raise InputError([Problem(where, message)]) from None


def _template_line(error: BaseException, filename: str) -> int:
    """The line of `filename` a render error happened at (Jinja2 rewrites tracebacks so
    that template frames carry template lines), 0 if unknown."""
    line = 0
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
