"""`json`: the canonical model of each machine, `json/<host>.json`.

Sorted keys, two-space indent, a final newline: byte-stable, and `HostConfig.from_dict`
reads it back exactly. The template uses the `canonical_json` filter (canonical_json.py).
"""

from __future__ import annotations

from netcfg.formats.registry import Format, register
from netcfg.formats.sandbox import Templates
from netcfg.model.host import HostConfig


def render(config: HostConfig, templates: Templates) -> dict[str, str]:
    return {f"json/{config.name}.json": templates.render("json/host.json.j2", host=config)}


FORMAT = register(
    Format(
        name="json",
        description="the canonical model as JSON (HostConfig.to_dict), readable back",
        render=render,
    )
)
