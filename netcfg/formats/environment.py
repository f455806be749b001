"""The sandboxed Jinja2 environment every output format renders through.

Templates may come from a user's `--templates DIR`, so they run sandboxed and immutable:
they can read the model they are given but not call into or change anything else.
StrictUndefined turns a misspelt variable into an error instead of an empty string in a
routing file. A user directory only needs the templates it changes: the rest fall back
to the defaults shipped inside the package (`netcfg.templates`).
"""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from netcfg.host import (
    MAIN_TABLE,
    PROTOCOL,
    Address,
    HostConfig,
    InterfaceConfig,
    Route,
    Rule,
    table_name,
)
from netcfg.errors import InputError, Location, Problem
from netcfg.formats.jsonfmt import HostJson


class PackageLoader(jinja2.BaseLoader):
    """Loads the default templates through importlib.resources, so they are found both
    from a source checkout (editable install) and from an installed wheel."""

    def __init__(self, package: str = "netcfg.templates"):
        self.root = importlib.resources.files(package)

    def get_source(self, environment: jinja2.Environment, template: str):
        node = self.root
        for part in template.split("/"):
            if part in ("", ".", ".."):
                raise jinja2.TemplateNotFound(template)
            node = node.joinpath(part)
        if not node.is_file():
            raise jinja2.TemplateNotFound(template)
        source = node.read_text(encoding="utf-8")
        return source, None, lambda: True


# Frozen, slotted model types with nothing but data and read-only properties: public
# attribute access on them is exactly what the sandbox would allow anyway, so it skips
# the sandbox's generic checks (which cost more than the rest of rendering a machine).
# Formats add their own frozen views (netplan's links).
MODEL_TYPES: set[type] = {HostConfig, InterfaceConfig, Address, Rule, Route}


class Sandbox(ImmutableSandboxedEnvironment):
    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) in MODEL_TYPES and not attribute.startswith("_"):
            try:
                return getattr(obj, attribute)
            except AttributeError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def yaml_str(value: Any) -> str:
    """A YAML scalar that can never be misread: JSON string syntax is valid YAML, so a
    name such as `on` or `1e3` stays a string."""
    return json.dumps(str(value))


def environment(templates: Path | None = None) -> Sandbox:
    """The environment for the default templates, or `templates` over the defaults."""
    loaders: list[jinja2.BaseLoader] = []
    if templates is not None:
        if not templates.is_dir():
            raise InputError(
                [Problem(Location(str(templates)), "templates directory does not exist")]
            )
        loaders.append(jinja2.FileSystemLoader(str(templates)))
    loaders.append(PackageLoader())
    env = Sandbox(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # Compiled templates are kept for the whole run: each is compiled once and
        # rendered per machine.
        cache_size=-1,
        auto_reload=False,
    )
    env.filters["yaml_str"] = yaml_str
    # The canonical JSON of a HostConfig (or any JSON value): sorted keys, indent 2.
    env.filters["canonical_json"] = HostJson()
    env.filters["table_name"] = table_name
    env.globals["PROTOCOL"] = PROTOCOL
    env.globals["MAIN_TABLE"] = MAIN_TABLE
    return env


def template(env: jinja2.Environment, name: str) -> jinja2.Template:
    """Load one template, turning a syntax error into an InputError at its file:line."""
    try:
        return env.get_template(name)
    except jinja2.TemplateSyntaxError as error:
        where = Location(error.filename or error.name or name, error.lineno or 0, 1)
        raise InputError([Problem(where, f"template syntax error: {error.message}")]) from None
    except jinja2.TemplateNotFound:
        raise InputError([Problem(Location(name), "template not found")]) from None
