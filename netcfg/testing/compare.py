"""Comparing configs that went through a format and back.

Formats organise a machine differently (per family, per link), so a round trip keeps
every entry but not their order: compare canonical forms, in which interfaces,
addresses, rules and routes are sorted. Some formats cannot carry a field (netplan: the
route protocol); `without_protocol` compares everything else.
"""

from __future__ import annotations

from dataclasses import astuple, replace
from typing import Any

from netcfg.model.host import HostConfig, InterfaceConfig


def sort_key(entry: Any) -> tuple:
    """An order for Rule/Route/Address that tolerates None fields (`order=True` on the
    dataclasses compares None with str and fails: `src=None` vs `src="10.0.0.0/8"`)."""
    return tuple((0, 0) if v is None else (1, v) for v in astuple(entry))


def canonical(config: HostConfig, *, without_protocol: bool = False) -> HostConfig:
    interfaces = tuple(
        sorted(
            (
                InterfaceConfig(i.name, i.segment, i.bridge, tuple(sorted(i.addresses, key=sort_key)))
                for i in config.interfaces
            ),
            key=lambda i: i.name,
        )
    )
    routes = config.routes
    if without_protocol:
        routes = tuple(replace(r, protocol=0) for r in routes)
    return replace(
        config,
        interfaces=interfaces,
        rules=tuple(sorted(config.rules, key=sort_key)),
        routes=tuple(sorted(routes, key=sort_key)),
    )
