"""`json`: the canonical model of each machine, `json/<host>.json`.

Sorted keys, two-space indent, a final newline: byte-stable, and `HostConfig.from_dict`
reads it back exactly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from netcfg.config import HostConfig
from netcfg.formats.registry import Format, Templates, register


def render(config: HostConfig, templates: Templates) -> dict[str, str]:
    return {
        f"json/{config.name}.json": templates.render("json/host.json.j2", host=config.to_dict())
    }


def parse(files: Mapping[str, str]) -> HostConfig:
    (text,) = files.values()
    return HostConfig.from_dict(json.loads(text))


FORMAT = register(
    Format(
        name="json",
        description="the canonical model as JSON (HostConfig.to_dict), readable back",
        render=render,
        parse=parse,
    )
)
