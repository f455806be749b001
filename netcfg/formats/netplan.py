"""`netplan`: one YAML file per machine, `netplan/<host>.yaml`.

Interfaces are `ethernets` (`bridges` with no member ports on KVM hosts), each with its
addresses, routes (to, via, table, metric, scope link for on-link routes) and
routing-policy (from/to, table, priority), attached per link as in networkd.
netplan has no route protocol setting (0.106): its routes are installed as "static";
and it cannot turn on forwarding (a comment says so for routers). There is no parser of
its own: `netplan generate` turns the YAML into networkd files, which networkd.parse
reads (the integration tests do exactly that).
"""

from __future__ import annotations

from dataclasses import dataclass

from netcfg.errors import InputError
from netcfg.formats.attach import PartFacts, attach
from netcfg.formats.registry import Format, register
from netcfg.formats.sandbox import MODEL_TYPES, Templates
from netcfg.model.entries import PerPart, parts_of
from netcfg.model.host import Address, HostConfig, Rule
from netcfg.problems import Location, Problem


@dataclass(frozen=True, slots=True)
class NetplanLink:
    """One link as the netplan template sees it: routes and rules already as text."""

    name: str
    segment: str
    bridge: bool
    addresses: tuple[Address, ...]
    routes: str
    rules: str


MODEL_TYPES.add(NetplanLink)


# netplan (0.106) reads a table as a signed 32-bit number: 4294967295 becomes
# `Table=-1` in the networkd files it generates, silently.
MAX_TABLE = 2**31 - 1


def table_refused(where: Location, table: int, prefix: str = "") -> Problem:
    """The problem of a table above MAX_TABLE, at `where` (a machine, or its segment)."""
    return Problem(
        where,
        f"{prefix}netplan cannot express table {table} (netplan reads tables as signed 32-bit numbers,"
        f" at most {MAX_TABLE})",
        "use a smaller table for the segment, or leave out --format netplan",
    )


def check(config: HostConfig) -> None:
    tables = {r.table for r in config.routes} | {r.table for r in config.rules}
    too_big = sorted(t for t in tables if t > MAX_TABLE)
    if too_big:
        raise InputError([table_refused(Location(config.name), too_big[0])])


def _first_unselective(part: tuple[Rule, ...]) -> Rule | None:
    return next((r for r in part if r.src is None and r.dst is None), None)


def _unselective_rules() -> PerPart[Rule, Rule | None]:
    """The first rule of a part that has neither from nor to: netplan cannot say it."""
    return PerPart(_first_unselective)


def render(config: HostConfig, templates: Templates) -> dict[str, str]:
    check(config)
    entries = templates.memo(config, lambda: attach(config, templates.kept(PartFacts)))
    unselective = templates.kept(_unselective_rules)
    for part in parts_of(config.rules):
        rule = unselective(part)
        if rule is not None:
            raise InputError([Problem(Location(config.name), f"netplan needs from or to in rule {rule}")])
    links = [
        NetplanLink(
            name=e.interface.name,
            segment=e.interface.segment,
            bridge=e.interface.bridge,
            addresses=e.interface.addresses,
            routes=templates.blocks("netplan/route.j2", "route", e.routes),
            rules=templates.blocks("netplan/rule.j2", "rule", e.rules),
        )
        for e in entries
    ]
    return {
        f"netplan/{config.name}.yaml": templates.render(
            "netplan/host.yaml.j2",
            host=config,
            ethernets=[link for link in links if not link.bridge],
            bridges=[link for link in links if link.bridge],
        )
    }


FORMAT = register(
    Format(
        name="netplan",
        description="netplan YAML per machine (no route protocol: installed as static)",
        render=render,
        # netplan warns about (and future versions refuse) world-readable files.
        file_mode=0o600,
        check=check,
    )
)
