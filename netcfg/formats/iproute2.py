"""`iproute2`: batch files that `ip -batch` loads into an empty network namespace.

Two files per machine, because `ip rule` reads IPv6 prefixes only under the global
`-6` option and a batch line cannot carry global options (iproute2 6.1: "Object "-6" is
unknown"); `ip -6 -batch` in turn refuses IPv4 lines. So:
  <host>.batch    links (dummy, bridge on KVM hosts), addresses, links up, IPv4 routes
                  and rules;                         load with `ip -batch`
  <host>.6.batch  IPv6 routes and rules;             load with `ip -6 -batch`, after.
Routes carry `proto 77` and numeric tables; prefixes are written as in the model
(`0.0.0.0/0`, `::/0` rather than `default`, which would mean IPv4 in a batch file).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from netcfg.host import Address, HostConfig, InterfaceConfig, Route, Rule
from netcfg.errors import InputError, Location, Problem
from netcfg.formats.registry import Format, Templates, register

HEADER = re.compile(r"#\s*netcfg:\s*(.*)")


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


def parse_header(text: str) -> dict[str, str]:
    """The `key=value` words of the first `# netcfg:` comment line."""
    for line in text.splitlines():
        match = HEADER.match(line.strip())
        if match:
            return dict(w.split("=", 1) for w in match.group(1).split() if "=" in w)
    return {}


def _family(prefix: str) -> int:
    return 6 if ":" in prefix else 4


def _options(words: list[str], start: int) -> dict[str, str]:
    """`key value` pairs after position `start` of a batch line."""
    rest = words[start:]
    return dict(zip(rest[0::2], rest[1::2]))


class _Unknown(Exception):
    """A line of a kind this format never writes."""


def _parse_line(words: list[str], comment: str, state: dict) -> None:
    if words[:2] == ["link", "add"] and len(words) >= 5:
        segment = ""
        for w in comment.split():
            if w.startswith("segment="):
                segment = w.split("=", 1)[1]
        state["interfaces"][words[2]] = InterfaceConfig(
            words[2], segment, bridge=words[4] == "bridge"
        )
    elif words[:2] == ["address", "add"] and len(words) == 5 and words[3] == "dev":
        address = words[2]
        state["addresses"].append(Address(words[4], _family(address), address))
    elif words[:2] == ["link", "set"]:
        return
    elif words[:2] == ["route", "add"] and len(words) >= 3:
        opts = _options(words, 3)
        state["routes"].append(
            Route(
                family=_family(words[2]),
                table=int(opts["table"]),
                dst=words[2],
                gateway=opts.get("via"),
                device=opts.get("dev"),
                scope=opts.get("scope", "global"),
                metric=int(opts["metric"]) if "metric" in opts else None,
                protocol=int(opts["proto"]),
            )
        )
    elif words[:2] == ["rule", "add"]:
        opts = _options(words, 2)
        src = opts.get("from")
        dst = opts.get("to")
        prefix = src if src not in (None, "all") else dst
        family = state["family"] if prefix is None else _family(prefix)
        state["rules"].append(
            Rule(
                family=family,
                priority=int(opts["priority"]),
                table=int(opts["lookup"]),
                src=None if src == "all" else src,
                dst=dst,
            )
        )
    else:
        raise _Unknown


def parse_lines(text: str, source: str, state: dict) -> None:
    """Read the lines this format writes into `state` (interfaces, routes, rules)."""
    for number, raw in enumerate(text.splitlines(), start=1):
        code, _, comment = raw.partition("#")
        words = code.split()
        if not words:
            continue
        where = Location(source, number, 1)
        try:
            _parse_line(words, comment, state)
        except (KeyError, ValueError, IndexError):
            message = f"cannot read line: {raw.strip()!r}"
            raise InputError([Problem(where, message)]) from None
        except _Unknown:
            message = f"not a line netcfg writes: {raw.strip()!r}"
            raise InputError([Problem(where, message)]) from None


def parse(files: Mapping[str, str]) -> HostConfig:
    """A machine's config from its two batch files (keys: file names or paths)."""
    state: dict = {"interfaces": {}, "addresses": [], "routes": [], "rules": [], "family": 4}
    header: dict[str, str] = {}
    # The main file first: it declares the interfaces the .6 file's routes use.
    for path in sorted(files, key=lambda p: p.endswith(".6.batch")):
        text = files[path]
        header = header or parse_header(text)
        state["family"] = 6 if path.endswith(".6.batch") else 4
        parse_lines(text, path, state)
    interfaces = tuple(
        InterfaceConfig(
            iface.name,
            iface.segment,
            iface.bridge,
            tuple(a for a in state["addresses"] if a.interface == iface.name),
        )
        for iface in state["interfaces"].values()
    )
    return HostConfig(
        name=header.get("host", ""),
        kind=header.get("kind", ""),
        design=header.get("design", ""),
        interfaces=interfaces,
        rules=tuple(state["rules"]),
        routes=tuple(state["routes"]),
        forwarding=header.get("forwarding") == "yes",
    )


FORMAT = register(
    Format(
        name="iproute2",
        description="ip -batch files (<host>.batch, then <host>.6.batch with ip -6)",
        render=render,
        parse=parse,
    )
)
