"""A machine's rendered JSON (`netcfg render -f json`) read back as a HostConfig, for
`netcfg apply --from FILE`: the one input that reaches the kernel without the inventory's
checks, so every field is checked here, and each problem names its place in the file.
"""

from __future__ import annotations

import _socket as socket  # not socket.py, whose enums apply does not need (kernel/netlink.py)
from functools import lru_cache
from typing import Any

from netcfg.errors import EXCERPT, InputError, quote
from netcfg.model.host import (
    DEFAULT_METRIC,
    MAIN_TABLE,
    PROTOCOL,
    RESERVED_TABLES,
    RULE_PRIORITIES,
    Address,
    DesignName,
    HostConfig,
    InterfaceConfig,
    Kind,
    Route,
    Rule,
)
from netcfg.model.unusable import unusable_range
from netcfg.names import INTERFACE_NAME, MACHINE_NAME

# problems is imported with the first problem: its dataclasses are 1.5 % of an apply.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from netcfg.problems import Problem

_SCOPES = ("global", "link")  # what the kernel reads back as rendered ("host" it would not)
_ABSENT = object()
_NOT_AN_INTERFACE = "not an interface name (at most 15 letters, digits, '.', '_', '-')"
_STRING, _INTEGER, _BOOLEAN, _LIST = (str,), (int,), (bool,), (list,)
_STRING_OR_NULL, _INTEGER_OR_NULL = (str, type(None)), (int, type(None))
# The keys `netcfg render -f json` writes; within rules and routes only the selectors and
# attributes may be left out (null).
HOST_KEYS = ("name", "kind", "design", "forwarding", "interfaces", "rules", "routes")
INTERFACE_KEYS = ("name", "segment", "bridge", "addresses")
RULE_KEYS = ("family", "priority", "table", "src", "dst")
ROUTE_KEYS = ("family", "table", "dst", "gateway", "device", "scope", "metric", "protocol")
_KERNEL_PRIORITIES = " (0, 32766 and 32767 are the kernel's own rules)"
_KERNEL_TABLES = {0: "unspecified", 253: "default", 254: "main", 255: "local"}
_KEY_SETS: dict[tuple[str, ...], frozenset[str]] = {
    keys: frozenset(keys) for keys in (HOST_KEYS, INTERFACE_KEYS, RULE_KEYS, ROUTE_KEYS)
}


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def fail(self, where: str, message: str) -> None:
        from netcfg.problems import Location, Problem

        self.problems.append(Problem(Location(self.source), f"{where}: {message}"))

    def field(self, data: dict[str, Any], key: str, where: str, kinds: tuple[type, ...], default: Any = ...) -> Any:
        """`data[key]` when its type is one of `kinds` (exactly: JSON's `true` is no
        integer to a routing table), else None and a problem; `default` when absent."""
        value = data.get(key, _ABSENT)
        if type(value) in kinds:
            return value
        if value is _ABSENT:
            if default is ...:
                self.fail(where, f"missing key {key!r}")
            return None if default is ... else default
        self.fail(f"{where}.{key}", f"expected {_names(kinds)}, found {type(value).__name__}")
        return None

    def known(self, data: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
        """Every key of `data` is one of `keys`: a misspelt one would otherwise stand for
        its default (a misspelt `routes` for no routes, every owned one removed)."""
        if data.keys() <= _KEY_SETS[keys]:
            return
        for key in data:
            if key not in keys:
                self.fail(where, f"unknown key {quote(key)} (expected {', '.join(keys)})")

    def items(self, data: dict[str, Any], key: str, where: str) -> list[tuple[str, dict[str, Any]]]:
        values = self.field(data, key, where, _LIST)
        out = []
        for n, value in enumerate(values or []):
            if isinstance(value, dict):
                out.append((f"{where}.{key}[{n}]", value))
            else:
                self.fail(f"{where}.{key}[{n}]", f"expected an object, found {type(value).__name__}")
        return out

    def prefix(self, value: Any, where: str, family: int | None, network: bool = False) -> str | None:
        """A prefix as rendered; with `network`, a network's (no host bits set, as the
        inventory requires: the kernel would store another one than asked for)."""
        if value is None:
            return None
        parsed = _parsed(value)
        if parsed is None:
            self.fail(where, f"not an IP prefix: {quote(value)}")
            return None
        version, raw, length = parsed
        if family is not None and version != family:
            self.fail(where, f"an IPv{version} prefix in a family {family} entry")
        if network and _host_bits(raw, length):
            self.fail(where, f"{quote(value)} has host bits set: not a network")
        return str(value)

    def gateway(self, value: Any, where: str, family: int | None) -> str | None:
        """A route's next hop: an address of the route's family that a host can hold (the
        kernel refuses the rest only once the apply is under way)."""
        version = None if "/" in str(value) else prefix_version(value)
        if version is None:
            self.fail(where, f"not an IP address: {quote(value)}")
            return None
        if family is not None and version != family:
            self.fail(where, f"an IPv{version} gateway in a family {family} route")
        unusable = unusable_range(str(value))
        if unusable:
            self.fail(where, f"{value} is in the {unusable} range: no route can go via it")
        return str(value)


def host_config_from_json(data: Any, source: str) -> HostConfig:
    """The HostConfig of a rendered JSON file; InputError listing every problem."""
    r = _Reader(source)
    if not isinstance(data, dict):
        raise InputError.at(source, "not a rendered machine: expected a JSON object")
    r.known(data, HOST_KEYS, "$")
    name = r.field(data, "name", "$", _STRING)
    kind = _choice(r, data, "kind", Kind)
    design = _choice(r, data, "design", DesignName)
    forwarding = r.field(data, "forwarding", "$", _BOOLEAN)
    interfaces = []
    # What the checks across entries compare: only entries read without a problem, so a
    # value of the wrong type is one problem, not also a clash of the blank put in its place.
    named: list[tuple[int, InterfaceConfig]] = []  # the interfaces whose name is a string
    names_known = type(data.get("interfaces")) is list
    for where, i in r.items(data, "interfaces", "$"):
        r.known(i, INTERFACE_KEYS, where)
        iname = r.field(i, "name", where, _STRING)
        names_known = names_known and iname is not None
        segment = r.field(i, "segment", where, _STRING)
        bridge = r.field(i, "bridge", where, _BOOLEAN)
        addresses = []
        for n, text in enumerate(r.field(i, "addresses", where, _LIST) or []):
            at = f"{where}.addresses[{n}]"
            if text is None:
                r.fail(at, "expected a string, found null")
                continue
            prefix = r.prefix(text, at, None)
            if prefix is not None and "/" in prefix:
                version = prefix_version(prefix) or 4
                unusable = unusable_range(prefix.partition("/")[0])
                if unusable:
                    r.fail(at, f"{prefix} is in the {unusable} range: no interface can use it")
                addresses.append(Address(iname or "", version, prefix))
            elif prefix is not None:
                r.fail(at, f"an address needs its prefix length: {text!r}")
        interfaces.append(InterfaceConfig(iname or "", segment or "", bool(bridge), tuple(addresses)))
        if iname is not None:
            named.append((len(interfaces) - 1, interfaces[-1]))
    names_known = names_known and len(interfaces) == len(data["interfaces"])  # every entry an object
    rules, sound_rules = [], []
    for where, d in r.items(data, "rules", "$"):
        r.known(d, RULE_KEYS, where)
        before = len(r.problems)  # an unknown key beside them leaves its values sound
        family = _family(r, d, where)
        rules.append(
            Rule(
                family or 4,
                _number(r, d, "priority", where, *RULE_PRIORITIES, _KERNEL_PRIORITIES),
                _table(r, d, where, RESERVED_TABLES, "rule"),
                r.prefix(r.field(d, "src", where, _STRING_OR_NULL, None), f"{where}.src", family, network=True),
                r.prefix(r.field(d, "dst", where, _STRING_OR_NULL, None), f"{where}.dst", family, network=True),
            )
        )
        if len(r.problems) == before:
            sound_rules.append((where, rules[-1]))
    routes, sound_routes = [], []  # (where, route)
    for where, d in r.items(data, "routes", "$"):
        r.known(d, ROUTE_KEYS, where)
        before = len(r.problems)  # an unknown key beside them leaves its values sound
        family = _family(r, d, where)
        gateway = r.field(d, "gateway", where, _STRING_OR_NULL, None)
        scope = r.field(d, "scope", where, _STRING, "global")
        if scope is not None and scope not in _SCOPES:
            r.fail(f"{where}.scope", f"expected one of {', '.join(_SCOPES)}, found {quote(scope)}")
        elif scope == "link" and gateway is not None and family == 4:
            # The kernel must reach the gateway at a scope wider than the route's.
            r.fail(f"{where}.scope", "an IPv4 route via a gateway is global: the kernel refuses it at scope link")
        if d.get("device") is None and d.get("gateway") is None:
            # A route reaches the kernel through an interface, or a gateway.
            r.fail(where, "a route needs a device or a gateway")
        elif d.get("device") is not None and gateway is not None:
            # Render writes either; the kernel takes a gateway route's interface from the
            # gateway, and the apply would leave the device out unsaid.
            r.fail(f"{where}.device", "a route via a gateway names no device (the gateway's interface is the kernel's)")
        metric = r.field(d, "metric", where, _INTEGER_OR_NULL, None)
        if metric is not None and not 0 <= metric <= 2**32 - 1:
            r.fail(f"{where}.metric", f"expected 0-{2**32 - 1}, found {_cut(metric)}")
        elif metric == 0 and family == 6:
            # The kernel stores it as 1024, its default: the apply could never verify.
            r.fail(f"{where}.metric", "an IPv6 route's metric 0 is the kernel's 1024: expected null or 1-4294967295")
        route = Route(
            family or 4,
            _table(r, d, where, RESERVED_TABLES - {MAIN_TABLE}, "route"),
            r.prefix(r.field(d, "dst", where, _STRING), f"{where}.dst", family, network=True) or "",
            r.gateway(gateway, f"{where}.gateway", family) if gateway is not None else None,
            r.field(d, "device", where, _STRING_OR_NULL, None),
            scope or "global",
            metric,
            _protocol(r, d, where),
        )
        routes.append((where, route))
        if len(r.problems) == before:
            sound_routes.append((where, route))
    if name is not None and not MACHINE_NAME.fullmatch(name):
        r.fail("$.name", f"{quote(name)} is not a machine name")
    names = {i.name for _, i in named}
    seen: set[str] = set()
    for n, interface in named:
        if not INTERFACE_NAME.fullmatch(interface.name):
            r.fail(f"$.interfaces[{n}].name", f"{quote(interface.name)} is {_NOT_AN_INTERFACE}")
            names_known = False  # the routes' devices cannot be checked against it
        elif interface.name in seen:
            r.fail(f"$.interfaces[{n}].name", f"{quote(interface.name)} is named by an earlier interface too")
        seen.add(interface.name)
    for where, route in routes:
        if route.device is None:
            continue
        if names_known and route.device not in names:
            r.fail(f"{where}.device", f"{quote(route.device)} is none of the file's interfaces")
        elif not names_known and not INTERFACE_NAME.fullmatch(route.device):
            r.fail(f"{where}.device", f"{quote(route.device)} is {_NOT_AN_INTERFACE}")
    _once_each(
        r,
        [
            (f"$.interfaces[{n}].addresses[{k}]", (a.interface, a.ip))
            for n, i in named
            for k, a in enumerate(i.addresses)
        ],
    )
    # The kernel keeps a /0 selector as none: `from 0.0.0.0/0` and `from all` are one rule.
    _once_each(r, [(at, (x.family, x.priority, _kept(x.src), _kept(x.dst))) for at, x in sound_rules])
    _once_each(
        r,
        [
            (at, (x.family, x.table, x.dst, DEFAULT_METRIC[x.family] if x.metric is None else x.metric))
            for at, x in sound_routes
        ],
    )
    if r.problems:
        raise InputError(r.problems)
    kept = tuple(route for _, route in routes)
    return HostConfig(name, kind, design, tuple(interfaces), tuple(rules), kept, forwarding)


def prefix_version(value: Any) -> int | None:
    """4 or 6 for an IP prefix spelled as netcfg renders it, None for anything else: the
    address as inet_ntop spells it, and an optional `/length` in plain decimal within
    the family's width. netaddr also takes "10.0.0.0/024", "10.0.0.0/8 " or other
    digits, which the kernel then reads back spelled otherwise (an apply rolled back)."""
    parsed = _parsed(value)
    return None if parsed is None else parsed[0]


def _parsed(value: Any) -> tuple[int, bytes, int | None] | None:
    """prefix_version's family, with the address's bytes and the length (None if none)."""
    return _parsed_text(value) if type(value) is str else None


@lru_cache(maxsize=65_536)  # a file's rules and routes name the same networks
def _parsed_text(value: str) -> tuple[int, bytes, int | None] | None:
    address, slash, length = value.partition("/")
    af = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        raw = socket.inet_pton(af, address)
    except OSError:
        return None
    if socket.inet_ntop(af, raw) != address:
        return None
    if not slash:
        return (6 if af == socket.AF_INET6 else 4), raw, None
    if not (length.isascii() and length.isdigit() and (length == "0" or length[0] != "0")):
        return None
    bits = int(length)
    if bits > len(raw) * 8:
        return None
    return (6 if af == socket.AF_INET6 else 4), raw, bits


def _host_bits(raw: bytes, length: int | None) -> bool:
    """Whether an address has bits set beyond a prefix length."""
    width = len(raw) * 8
    return int.from_bytes(raw, "big") & ((1 << (width - (width if length is None else length))) - 1) != 0


def _kept(selector: str | None) -> str | None:
    """A rule's selector as the kernel keeps it (kernel/state.py canonical_rule)."""
    return None if selector is None or selector.endswith("/0") else selector


def _once_each(r: _Reader, entries: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Entries the kernel tells apart by these identities appear once each: a second one
    would be refused (a route in a taken slot), never match (a rule behind its twin) or
    replace the first (an address again with another length)."""
    first: dict[tuple[Any, ...], str] = {}
    for where, identity in entries:
        if identity in first:
            r.fail(where, f"the kernel keeps one entry of its kind where this and {first[identity]} are")
        else:
            first[identity] = where


def _choice(r: _Reader, data: dict[str, Any], key: str, enum: Any) -> Any:
    value = r.field(data, key, "$", _STRING)
    try:
        return enum(value) if value is not None else None
    except ValueError:
        r.fail(f"$.{key}", f"expected one of {', '.join(e.value for e in enum)}, found {quote(value)}")
        return None


def _family(r: _Reader, d: dict[str, Any], where: str) -> int | None:
    family = r.field(d, "family", where, _INTEGER)
    if family not in (4, 6, None):
        r.fail(f"{where}.family", f"expected 4 or 6, found {_cut(family)}")
        return None
    return family


def _number(r: _Reader, d: dict[str, Any], key: str, where: str, low: int, high: int, why: str = "") -> int:
    value = r.field(d, key, where, _INTEGER)
    if isinstance(value, int) and not low <= value <= high:
        r.fail(f"{where}.{key}", f"expected {low}-{high}{why}, found {_cut(value)}")
    return value if isinstance(value, int) else 0


def _table(r: _Reader, d: dict[str, Any], where: str, kernels: frozenset[int], what: str) -> int:
    """A table render can write a `what` to: none of the kernel's own in `kernels` (a
    rule to the local table, a route into it, would change how every packet is read)."""
    before = len(r.problems)
    table = _number(r, d, "table", where, 1, 2**32 - 1)
    if len(r.problems) == before and table in kernels:
        name = _KERNEL_TABLES[table]
        r.fail(f"{where}.table", f"{table} is the kernel's {name} table: netcfg renders no {what} to it")
    return table


def _protocol(r: _Reader, d: dict[str, Any], where: str) -> int:
    """netcfg's marker, the only protocol a rendered route has: apply owns what carries
    it, and a route written with another would replace netcfg's and then be foreign."""
    protocol = r.field(d, "protocol", where, _INTEGER, PROTOCOL)
    if protocol is not None and protocol != PROTOCOL:
        r.fail(f"{where}.protocol", f"expected {PROTOCOL} (netcfg's marker), found {_cut(protocol)}")
    return PROTOCOL


def _cut(number: int) -> str:
    """An integer as a message repeats it: at most EXCERPT digits."""
    text = str(number)
    return text if len(text) <= EXCERPT else f"{text[:EXCERPT]}… ({len(text)} digits)"


def _names(kinds: tuple[type, ...]) -> str:
    words = {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "an object"}
    return " or ".join(words.get(k, "null") for k in kinds)
