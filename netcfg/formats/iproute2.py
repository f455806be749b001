"""`iproute2`: batch files that `ip -batch` loads on a host that has the links.

Two files per machine, because `ip rule` reads IPv6 prefixes only under the global
`-6` option and a batch line cannot carry global options (iproute2 6.1: "Object "-6" is
unknown"); `ip -6 -batch` in turn refuses IPv4 lines. So:
  <host>.batch    addresses, links up, IPv4 routes and rules (and with
                  --create-links the links themselves); load with `ip -batch`
  <host>.6.batch  IPv6 routes and rules;             load with `ip -6 -batch`, after.
Routes carry `proto 77` and numeric tables; prefixes are written as in the model
(`0.0.0.0/0`, `::/0` rather than `default`, which would mean IPv4 in a batch file).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from netcfg.formats.registry import Format, register
from netcfg.formats.sandbox import Templates
from netcfg.model.entries import PerPart, parts_of
from netcfg.model.host import HostConfig, Route, Rule

E = TypeVar("E", Route, Rule)


def render(config: HostConfig, templates: Templates) -> dict[str, str]:
    name = config.name
    family_of = templates.kept(_families)
    routes4, routes6 = _by_family(config.routes, family_of)
    rules4, rules6 = _by_family(config.rules, family_of)
    return {
        f"iproute2/{name}.batch": templates.render(
            "iproute2/host.batch.j2",
            host=config,
            routes=templates.blocks("iproute2/route.j2", "route", routes4),
            rules=templates.blocks("iproute2/rule.j2", "rule", rules4),
        ),
        f"iproute2/{name}.6.batch": templates.render(
            "iproute2/host.6.batch.j2",
            host=config,
            routes=templates.blocks("iproute2/route.j2", "route", routes6),
            rules=templates.blocks("iproute2/rule.j2", "rule", rules6),
        ),
    }


def _family(part: tuple[Route | Rule, ...]) -> int | None:
    families = {e.family for e in part}
    return next(iter(families)) if len(families) == 1 else None


def _families() -> PerPart[Route | Rule, int | None]:
    """The family of every entry of a part, if they share one (a shared part does)."""
    return PerPart(_family)


def _by_family(
    entries: Sequence[E], family_of: PerPart[Route | Rule, int | None]
) -> tuple[list[tuple[E, ...]], list[tuple[E, ...]]]:
    """The runs of IPv4 and of IPv6 entries, in order; a part of one family whole."""
    v4: list[tuple[E, ...]] = []
    v6: list[tuple[E, ...]] = []
    for part in parts_of(entries):
        family = family_of(part)
        if family is not None:
            (v4 if family == 4 else v6).append(part)
        else:
            v4.append(tuple(e for e in part if e.family == 4))
            v6.append(tuple(e for e in part if e.family != 4))
    return v4, v6


FORMAT = register(
    Format(
        name="iproute2",
        description="ip -batch files (<host>.batch, then <host>.6.batch with ip -6)",
        render=render,
    )
)
