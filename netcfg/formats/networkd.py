"""`networkd`: systemd-networkd files, one `.network` per interface (plus a `.netdev`
creating each bridge of a KVM host), under `networkd/<host>/`.

Routes and rules are attached to the link of their segment (see attach.py). Routes
carry `Protocol=77` and an explicit numeric `Table=`. The parser also reads the files
`netplan generate` writes (no netcfg header, `Address=` in [Network], no Table= for
main, no Protocol=).
"""

from __future__ import annotations

from collections.abc import Mapping

from netcfg.host import (
    MAIN_TABLE,
    PROTOCOL,
    Address,
    HostConfig,
    InterfaceConfig,
    Route,
    Rule,
    default_prefix,
)
from netcfg.errors import InputError, Location, Problem
from netcfg.formats.attach import attach
from netcfg.formats.iproute2 import parse_header
from netcfg.formats.registry import Format, Templates, register

# What networkd installs when a [Route] has no Protocol=: "static" (RTPROT_STATIC).
STATIC_PROTOCOL = 4
PROTOCOL_NAMES = {"kernel": 2, "boot": 3, "static": 4, "ra": 9, "dhcp": 16}


def render(config: HostConfig, templates: Templates) -> dict[str, str]:
    files = {}
    for entry in templates.memo(config, lambda: attach(config)):
        iface = entry.interface
        base = f"networkd/{config.name}/10-{iface.name}"
        if iface.bridge:
            files[base + ".netdev"] = templates.render(
                "networkd/bridge.netdev.j2", host=config, iface=iface
            )
        files[base + ".network"] = templates.render(
            "networkd/interface.network.j2",
            host=config,
            iface=iface,
            routes=templates.block("networkd/route.j2", "route", entry.routes),
            rules=templates.block("networkd/rule.j2", "rule", entry.rules),
        )
    return files


def sections(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """An INI file whose sections repeat ([Route] once per route), in order."""
    found: list[tuple[str, list[tuple[str, str]]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            found.append((line[1:-1], []))
        elif "=" in line and found:
            key, _, value = line.partition("=")
            found[-1][1].append((key.strip(), value.strip()))
    return found


def _family(prefix: str) -> int:
    return 6 if ":" in prefix else 4


def _protocol(value: str | None) -> int:
    if value is None:
        return STATIC_PROTOCOL
    return PROTOCOL_NAMES.get(value, None) or int(value)


def _route(name: str, values: dict[str, str]) -> Route:
    gateway = values.get("Gateway")
    dst = values.get("Destination")
    family = _family(dst or gateway or "")
    if dst is None:
        dst = default_prefix(family)  # networkd: no Destination= is the default route
    return Route(
        family=family,
        table=int(values.get("Table", MAIN_TABLE)),
        dst=dst,
        gateway=gateway,
        device=None if gateway else name,
        scope=values.get("Scope", "global"),
        metric=int(values["Metric"]) if "Metric" in values else None,
        protocol=_protocol(values.get("Protocol")),
    )


def _rule(values: dict[str, str]) -> Rule:
    src, dst = values.get("From"), values.get("To")
    family = values.get("Family")
    return Rule(
        family=6 if family == "ipv6" else 4 if family == "ipv4" else _family(src or dst or ""),
        priority=int(values["Priority"]),
        table=int(values.get("Table", MAIN_TABLE)),
        src=src,
        dst=dst,
    )


def parse(files: Mapping[str, str]) -> HostConfig:
    """A machine's config from its .network/.netdev files (keys: names or paths)."""
    header: dict[str, str] = {}
    bridges = set()
    interfaces: list[InterfaceConfig] = []
    rules: list[Rule] = []
    routes: list[Route] = []
    for path in sorted(files):
        text = files[path]
        parsed = sections(text)
        if path.endswith(".netdev"):
            for section, pairs in parsed:
                values = dict(pairs)
                if section == "NetDev" and values.get("Kind") == "bridge":
                    bridges.add(values["Name"])
            continue
        if not path.endswith(".network"):
            continue
        meta = parse_header(text)
        header = header or meta
        name = ""
        addresses: list[str] = []
        for section, pairs in parsed:
            values = dict(pairs)
            try:
                if section == "Match":
                    name = values.get("Name", "")
                elif section in ("Network", "Address"):
                    addresses += [v for k, v in pairs if k == "Address"]
                elif section == "Route":
                    routes.append(_route(name, values))
                elif section == "RoutingPolicyRule":
                    rules.append(_rule(values))
            except (KeyError, ValueError) as error:
                message = f"cannot read [{section}] {dict(pairs)}: {error}"
                raise InputError([Problem(Location(path), message)]) from None
        interfaces.append(
            InterfaceConfig(
                name,
                meta.get("segment", ""),
                False,
                tuple(Address(name, _family(a), a) for a in addresses),
            )
        )
    interfaces = [
        InterfaceConfig(i.name, i.segment, i.name in bridges, i.addresses) for i in interfaces
    ]
    return HostConfig(
        name=header.get("host", ""),
        kind=header.get("kind", ""),
        design=header.get("design", ""),
        interfaces=tuple(interfaces),
        rules=tuple(rules),
        routes=tuple(routes),
        forwarding=header.get("forwarding") == "yes",
    )


FORMAT = register(
    Format(
        name="networkd",
        description="systemd-networkd .network (and bridge .netdev) files per interface",
        render=render,
        parse=parse,
    )
)

__all__ = ["FORMAT", "PROTOCOL", "parse", "render", "sections"]
