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

from netcfg.formats.registry import Format, register
from netcfg.formats.sandbox import Templates
from netcfg.model.host import HostConfig


def render(config: HostConfig, templates: Templates) -> dict[str, str]:
    name = config.name
    routes4 = [r for r in config.routes if r.family == 4]
    routes6 = [r for r in config.routes if r.family != 4]
    rules4 = [r for r in config.rules if r.family == 4]
    rules6 = [r for r in config.rules if r.family != 4]
    return {
        f"iproute2/{name}.batch": templates.render(
            "iproute2/host.batch.j2",
            host=config,
            routes=templates.block("iproute2/route.j2", "route", routes4),
            rules=templates.block("iproute2/rule.j2", "rule", rules4),
        ),
        f"iproute2/{name}.6.batch": templates.render(
            "iproute2/host.6.batch.j2",
            host=config,
            routes=templates.block("iproute2/route.j2", "route", routes6),
            rules=templates.block("iproute2/rule.j2", "rule", rules6),
        ),
    }


FORMAT = register(
    Format(
        name="iproute2",
        description="ip -batch files (<host>.batch, then <host>.6.batch with ip -6)",
        render=render,
    )
)
