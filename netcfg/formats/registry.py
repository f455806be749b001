"""The registry of output formats: adding a format is adding one module that registers.

A format knows three things: which files a machine's config becomes (relative paths,
so the writer can place them under any directory), how to fill them from its Jinja2
templates, and how to read them back into the model (the round-trip tests use that).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import jinja2

from netcfg.config import HostConfig
from netcfg.errors import InputError, Location, Problem

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
    """Compiled templates of one environment, each compiled on first use only."""

    __slots__ = ("env", "_compiled")

    def __init__(self, env: jinja2.Environment):
        self.env = env
        self._compiled: dict[str, jinja2.Template] = {}

    def render(self, name: str, **context: object) -> str:
        from netcfg.formats.environment import template

        compiled = self._compiled.get(name)
        if compiled is None:
            compiled = self._compiled[name] = template(self.env, name)
        try:
            return compiled.render(**context)
        except jinja2.TemplateError as error:
            # A user's template that misuses the model (StrictUndefined, the sandbox).
            where = Location(compiled.filename or name)
            raise InputError([Problem(where, f"template error: {error}")]) from None
