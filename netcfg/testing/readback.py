"""Reading rendered files back into the model: the round-trip tests' oracle.

The formats only write; these parsers read what they wrote (and, for networkd, what
`netplan generate` writes from the netplan format), so the tests can check that every
file says what the model says. Not used by netcfg itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from netcfg.errors import InputError
from netcfg.model.host import (
    MAIN_TABLE,
    Address,
    DesignName,
    HostConfig,
    InterfaceConfig,
    Kind,
    Route,
    Rule,
    default_prefix,
)
from netcfg.problems import Location, Problem

HEADER = re.compile(r"#\s*netcfg:\s*(.*)")
INTERFACE_COMMENT = re.compile(r"\s*interface (\S+) segment=(\S*) bridge=(yes|no)\s*$")
# What networkd installs when a [Route] has no Protocol=: "static" (RTPROT_STATIC).
STATIC_PROTOCOL = 4
PROTOCOL_NAMES = {"kernel": 2, "boot": 3, "static": 4, "ra": 9, "dhcp": 16}


def parse_files(
    fmt: str, files: Mapping[str, str], kind: Kind | None = None, design: DesignName | None = None
) -> HostConfig:
    """One machine's files of format `fmt` read back into the model. Files without a
    netcfg header (netplan's output) take `kind` and `design` from the caller."""
    if fmt == "json":
        (text,) = files.values()
        return HostConfig.from_dict(json.loads(text))
    parser = {"iproute2": parse_iproute2, "networkd": parse_networkd}.get(fmt)
    if parser is None:
        raise ValueError(f"format {fmt} has no parser of its own")
    return parser(files, kind, design)


def _config(header: dict[str, str], kind: Kind | None, design: DesignName | None, **fields: object) -> HostConfig:
    return HostConfig(
        name=header.get("host", ""),
        kind=Kind(header["kind"]) if "kind" in header else kind or Kind.PHYSICAL,
        design=DesignName(header["design"]) if "design" in header else design or DesignName.POLICY_ROUTING,
        forwarding=header.get("forwarding") == "yes",
        **fields,  # type: ignore[arg-type]
    )


# --- iproute2 ---------------------------------------------------------------------------


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
    return dict(zip(rest[0::2], rest[1::2], strict=False))


class _Unknown(Exception):
    """A line of a kind this format never writes."""


def _parse_line(words: list[str], state: dict) -> None:
    if words[:2] == ["link", "add"] and len(words) >= 5:
        return  # --create-links: the interface is declared by its comment line
    elif words[:2] == ["address", "replace"] and len(words) == 5 and words[3] == "dev":
        address = words[2]
        state["addresses"].append(Address(words[4], _family(address), address))
    elif words[:2] == ["link", "set"]:
        return
    elif words[:2] == ["route", "replace"] and len(words) >= 3:
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
        interface = INTERFACE_COMMENT.match(comment)
        if interface:
            name, segment, bridge = interface.groups()
            state["interfaces"][name] = InterfaceConfig(name, segment, bridge=bridge == "yes")
        words = code.split()
        if not words:
            continue
        where = Location(source, number, 1)
        try:
            _parse_line(words, state)
        except (KeyError, ValueError, IndexError):
            message = f"cannot read line: {raw.strip()!r}"
            raise InputError([Problem(where, message)]) from None
        except _Unknown:
            message = f"not a line netcfg writes: {raw.strip()!r}"
            raise InputError([Problem(where, message)]) from None


def parse_iproute2(files: Mapping[str, str], kind: Kind | None = None, design: DesignName | None = None) -> HostConfig:
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
    return _config(
        header, kind, design, interfaces=interfaces, rules=tuple(state["rules"]), routes=tuple(state["routes"])
    )


# --- networkd ---------------------------------------------------------------------------


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


def _protocol(value: str | None) -> int:
    if value is None:
        return STATIC_PROTOCOL
    return PROTOCOL_NAMES.get(value) or int(value)


def _route(name: str, values: dict[str, str]) -> Route:
    gateway = values.get("Gateway")
    dst = values.get("Destination")
    family = _family(dst or gateway or "")
    if dst is None:
        dst = default_prefix(family)  # networkd: no Destination= is the default route
    # networkd ignores Scope= on IPv6 routes (the kernel has no IPv6 route scope), so
    # netcfg writes it for IPv4 only: an IPv6 route without a gateway is on-link.
    on_link = "link" if family == 6 and gateway is None else "global"
    return Route(
        family=family,
        table=int(values.get("Table", MAIN_TABLE)),
        dst=dst,
        gateway=gateway,
        device=None if gateway else name,
        scope=values.get("Scope", on_link),
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


def parse_networkd(files: Mapping[str, str], kind: Kind | None = None, design: DesignName | None = None) -> HostConfig:
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
    interfaces = [InterfaceConfig(i.name, i.segment, i.name in bridges, i.addresses) for i in interfaces]
    return _config(header, kind, design, interfaces=tuple(interfaces), rules=tuple(rules), routes=tuple(routes))
