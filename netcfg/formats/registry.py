"""The registry of output formats: adding a format is adding one module that registers.

A format knows which files a machine's config becomes (relative paths, so the writer
can place them under any directory), how to fill them from its Jinja2 templates, and
what it cannot express (checked for every machine before anything is written).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from netcfg.errors import InputError, quote
from netcfg.formats.sandbox import Templates
from netcfg.model.host import HostConfig
from netcfg.problems import Location, Problem

# (config, environment) -> {relative path: text}
Renderer = Callable[[HostConfig, Templates], dict[str, str]]


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    description: str
    render: Renderer
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
        raise InputError([Problem(Location("--format"), f"unknown format {quote(name)}", f"known: {known}")]) from None
