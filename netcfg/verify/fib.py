"""One machine's forwarding, evaluated the way Linux does (net/ipv4/fib_rules.c,
fib_trie.c, route.c; the IPv6 equivalents agree on everything modelled here).

A lookup walks the policy rules by priority (the kernel's own: 0 `lookup local`,
32766 `lookup main`, 32767 `lookup default`, and the rendered ones), each rule
matching on its selectors (from, to, iif, oif, fwmark); a matching rule's table is
searched by longest prefix, then lowest metric; a table without a match sends the walk
on to the next rule. The address's own connected routes (main, protocol kernel) and
local routes (table local) are the kernel's, derived from the addresses as the kernel
does when they are configured.

A route via a gateway needs the gateway on-link: reachable through a route with no
gateway of its own (the kernel refuses `via` anything else when the route is added).
Strict reverse-path filtering (rp_filter=1, IPv4 only) looks the packet's source up as
a destination, from the packet's destination, as if sent by this machine: it passes
only if that route leaves by the interface the packet came in on.

Rules and routes are indexed once per fleet (`Entries`): a renderer shares one object
among every machine of a segment, so a machine's FIB is the index plus the positions of
its own entries, cheap to build for thousands of machines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import count
from typing import Any

from netcfg.model.host import DEFAULT_METRIC, MAIN_TABLE, HostConfig, Route, Rule
from netcfg.verify.prefix import WIDTH, Prefix, format_address, key, parse_address, parse_prefix

LOCAL_TABLE = 255
DEFAULT_TABLE = 253
LOOPBACK = "lo"
# What the kernel gives its connected routes (IPv6: IP6_RT_PRIO_ADDRCONF); a route
# without a metric gets DEFAULT_METRIC (IPv6: IP6_RT_PRIO_USER).
CONNECTED_METRIC = {4: 0, 6: 256}


class RpFilter(StrEnum):
    """net.ipv4.conf.*.rp_filter: 0 off, 1 strict, 2 loose."""

    OFF = "off"
    STRICT = "strict"
    LOOSE = "loose"


@dataclass(frozen=True, slots=True)
class FibRule:
    """A policy rule: selectors, then `lookup table`."""

    family: int
    priority: int
    table: int
    src: Prefix | None = None
    dst: Prefix | None = None
    iif: str | None = None
    oif: str | None = None
    fwmark: int | None = None
    text: str = ""

    def matches(self, src: int | None, dst: int, iif: str, oif: str | None, mark: int) -> bool:
        if self.src is not None and self.src.length and (src is None or not self.src.contains(self.family, src)):
            return False
        if self.dst is not None and not self.dst.contains(self.family, dst):
            return False
        if self.iif is not None and self.iif != iif:
            return False
        if self.oif is not None and self.oif != oif:
            return False
        return (self.fwmark or 0) == mark

    def __str__(self) -> str:
        if self.text:
            return self.text
        parts = [f"from {self.src}" if self.src else "from all"]
        if self.dst:
            parts.append(f"to {self.dst}")
        if self.iif:
            parts.append(f"iif {self.iif}")
        if self.oif:
            parts.append(f"oif {self.oif}")
        if self.fwmark:
            parts.append(f"fwmark {self.fwmark:#x}")
        return f"{self.priority}: {' '.join(parts)} lookup {_table(self.table)}"


@dataclass(frozen=True, slots=True)
class FibRoute:
    """A unicast route (via a gateway, or on-link), or a local one (the machine's own
    address, table local)."""

    family: int
    table: int
    prefix: Prefix
    gateway: int | None = None
    device: str | None = None
    metric: int = 0
    local: bool = False
    text: str = ""
    kernel: bool = False  # the kernel's own route for an address (connected, or local)
    source: int | None = None  # a connected IPv4 route's preferred source: the address that made it

    @property
    def onlink(self) -> bool:
        return self.gateway is None and not self.local

    def __str__(self) -> str:
        if self.text:
            return self.text
        if self.kernel and self.local:
            return f"local {format_address(self.family, self.prefix.value)} dev {self.device} table local"
        if self.kernel:
            source = f" src {format_address(self.family, self.source)}" if self.source is not None else ""
            return f"{self.prefix} dev {self.device} proto kernel scope link{source}"
        parts = ["local" if self.local else ""]
        parts.append("default" if self.prefix.length == 0 else str(self.prefix))
        if self.gateway is not None:
            parts += ["via", format_address(self.family, self.gateway)]
        if self.device:
            parts += ["dev", self.device]
        if self.metric:
            parts += ["metric", str(self.metric)]
        parts += ["table", _table(self.table)]
        return " ".join(p for p in parts if p)


def _table(table: int) -> str:
    return {MAIN_TABLE: "main", LOCAL_TABLE: "local", DEFAULT_TABLE: "default"}.get(table, str(table))


KERNEL_RULES = {
    family: (
        FibRule(family, 0, LOCAL_TABLE, text="0: from all lookup local"),
        FibRule(family, 32766, MAIN_TABLE, text="32766: from all lookup main"),
        FibRule(family, 32767, DEFAULT_TABLE, text="32767: from all lookup default"),
    )
    for family in (4, 6)
}


class Outcome(StrEnum):
    LOCAL = "local"  # for this machine
    UNICAST = "unicast"  # out of `device`, to `gateway` or on-link to the destination
    NO_ROUTE = "no-route"
    GATEWAY_NOT_ONLINK = "gateway-not-on-link"


@dataclass(frozen=True, slots=True)
class Lookup:
    """The result of one FIB lookup, with the rule and route that decided it."""

    outcome: Outcome
    device: str | None = None
    gateway: int | None = None  # None with UNICAST: on-link, the next hop is the destination
    rule: FibRule | None = None
    route: FibRoute | None = None

    @property
    def found(self) -> bool:
        return self.outcome in (Outcome.LOCAL, Outcome.UNICAST)


NO_ROUTE = Lookup(Outcome.NO_ROUTE)


def fib_rule(rule: Rule) -> FibRule:
    """A rendered rule as the kernel holds it."""
    return FibRule(
        rule.family,
        rule.priority,
        rule.table,
        parse_prefix(rule.src) if rule.src else None,
        parse_prefix(rule.dst) if rule.dst else None,
        text=f"{rule.priority}: {'from ' + rule.src if rule.src else 'from all'}"
        + (f" to {rule.dst}" if rule.dst else "")
        + f" lookup {_table(rule.table)}",
    )


def fib_route(route: Route) -> FibRoute:
    """A rendered route as the kernel holds it (a metric the kernel fills in, filled in)."""
    gateway = parse_address(route.gateway)[1] if route.gateway else None
    return FibRoute(
        route.family,
        route.table,
        parse_prefix(route.dst),
        gateway,
        route.device,
        DEFAULT_METRIC[route.family] if route.metric is None else route.metric,
        text=str(route),
    )


@dataclass(slots=True)
class Entries:
    """Every distinct rule and route of a fleet, indexed by family, table, prefix length
    and key. Machines' FIBs hold positions into it; a lookup consults the index and
    keeps only the entries of the machine asking."""

    rules: dict[int, FibRule] = field(default_factory=dict)  # id of the source object -> rule
    routes: dict[int, FibRoute] = field(default_factory=dict)
    # (family, length, key) -> ids of rules whose src (dst) selector is that prefix
    rules_src: dict[tuple[int, int, int], list[int]] = field(default_factory=dict)
    rules_dst: dict[tuple[int, int, int], list[int]] = field(default_factory=dict)
    rules_other: dict[int, list[int]] = field(default_factory=dict)  # family -> ids without prefixes
    src_lengths: dict[int, list[int]] = field(default_factory=dict)
    dst_lengths: dict[int, list[int]] = field(default_factory=dict)
    # (family, table, length, key) -> ids of routes to that prefix
    route_index: dict[tuple[int, int, int, int], list[int]] = field(default_factory=dict)
    route_lengths: dict[tuple[int, int], list[int]] = field(default_factory=dict)  # longest first
    keep: list[object] = field(default_factory=list)  # the source objects, so their ids stay theirs
    # Buckets many machines each add their own object to (every flat machine its own
    # default route): a machine finds its entries there by set intersection.
    _sets: dict[object, frozenset[int]] = field(default_factory=dict)

    def bucket_set(self, index: Mapping[object, list[int]], bucket: object) -> frozenset[int]:
        found = self._sets.get((id(index), bucket))
        if found is None:
            found = self._sets[(id(index), bucket)] = frozenset(index.get(bucket, ()))
        return found

    def add_rules(self, rules: Iterable[Rule | FibRule]) -> None:
        distinct = dict(zip(map(id, rules), rules, strict=False))
        self._sets.clear()
        known = self.rules
        for oid in [oid for oid in distinct if oid not in known]:
            rule = distinct[oid]
            entry = rule if isinstance(rule, FibRule) else fib_rule(rule)
            self.keep.append(rule)
            self.rules[id(rule)] = entry
            if entry.src is not None and entry.src.length:
                self._index(self.rules_src, self.src_lengths, entry.src, id(rule))
            elif entry.dst is not None:
                self._index(self.rules_dst, self.dst_lengths, entry.dst, id(rule))
            else:
                self.rules_other.setdefault(entry.family, []).append(id(rule))

    @staticmethod
    def _index(
        index: dict[tuple[int, int, int], list[int]], lengths: dict[int, list[int]], prefix: Prefix, oid: int
    ) -> None:
        index.setdefault((prefix.family, prefix.length, key(prefix.family, prefix.length, prefix.value)), []).append(
            oid
        )
        known = lengths.setdefault(prefix.family, [])
        if prefix.length not in known:
            known.append(prefix.length)
            known.sort(reverse=True)

    def add_routes(self, routes: Iterable[Route | FibRoute]) -> None:
        distinct = dict(zip(map(id, routes), routes, strict=False))
        self._sets.clear()
        known = self.routes
        for oid in [oid for oid in distinct if oid not in known]:
            route = distinct[oid]
            entry = route if isinstance(route, FibRoute) else fib_route(route)
            self.keep.append(route)
            self.routes[id(route)] = entry
            p = entry.prefix
            self.route_index.setdefault((p.family, entry.table, p.length, key(p.family, p.length, p.value)), []).append(
                id(route)
            )
            lengths = self.route_lengths.setdefault((p.family, entry.table), [])
            if p.length not in lengths:
                lengths.append(p.length)
                lengths.sort(reverse=True)


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    segment: str
    addresses: tuple[tuple[int, int, int], ...]  # (family, value, prefix length)


class Fib:
    """One machine's rules, tables, addresses and forwarding switch."""

    __slots__ = (
        "_answers",
        "_big",
        "_connected",
        "_gateway_devices",
        "_lengths",
        "_positions",
        "_routes",
        "_rules",
        "entries",
        "forwarding",
        "ids",
        "interfaces",
        "local",
        "name",
        "rp_filter",
    )

    def __init__(
        self,
        name: str,
        entries: Entries,
        interfaces: Sequence[Interface],
        rules: Sequence[object],
        routes: Sequence[object],
        *,
        forwarding: bool = False,
        rp_filter: RpFilter = RpFilter.STRICT,
    ):
        """`rules` and `routes`: the objects already added to `entries`, in the
        machine's order (which breaks ties of priority and metric)."""
        self.name = name
        self.entries = entries
        self.interfaces = {i.name: i for i in interfaces}
        self.forwarding = forwarding
        self.rp_filter = rp_filter
        # Which entries are this machine's; their order is read only when it decides
        # (two matching rules of one priority with different tables, two routes alike).
        self.ids = set(map(id, rules))
        self.ids.update(map(id, routes))
        self._rules = rules
        self._routes = routes
        self._positions: dict[int, int] | None = None
        # Lookups asked again: a flow's way out and the check of its reply's way in are
        # the same lookup, and so are the way back and the check of what came in.
        self._answers: dict[tuple[object, ...], Lookup] = {}
        self._gateway_devices: dict[tuple[int, int], str | None] = {}
        self._big: dict[object, list[int]] = {}
        self._lengths: dict[tuple[int, int], list[int]] = {}
        # The kernel's own routes for each address: connected (main) and local.
        self._connected: dict[tuple[int, int, int, int], list[FibRoute]] = {}
        local: set[tuple[int, int]] = set()
        for iface in interfaces:
            for family, value, length in iface.addresses:
                local.add((family, value))
                width = WIDTH[family]
                network = Prefix(family, length, value >> (width - length) << (width - length) if length else 0)
                self._add(
                    FibRoute(
                        family,
                        MAIN_TABLE,
                        network,
                        None,
                        iface.name,
                        CONNECTED_METRIC[family],
                        kernel=True,
                        source=value if family == 4 else None,
                    )
                )
                host = Prefix(family, width, value)
                self._add(FibRoute(family, LOCAL_TABLE, host, None, iface.name, local=True, kernel=True))
        self.local = frozenset(local)

    def _add(self, route: FibRoute) -> None:
        p = route.prefix
        routes = self._connected.setdefault((p.family, route.table, p.length, key(p.family, p.length, p.value)), [])
        # A second address in a subnet the interface has is a secondary: no route of its
        # own, the first one's (with its source) stays.
        if not any(r.device == route.device for r in routes):
            routes.append(route)

    @staticmethod
    def of(config: HostConfig, entries: Entries | None = None, rp_filter: RpFilter = RpFilter.STRICT) -> Fib:
        """The FIB of a rendered configuration (its entries added to `entries`)."""
        entries = entries if entries is not None else Entries()
        entries.add_rules(config.rules)
        entries.add_routes(config.routes)
        return Fib(
            config.name,
            entries,
            interfaces_of(config),
            config.rules,
            config.routes,
            forwarding=config.forwarding,
            rp_filter=rp_filter,
        )

    # --- lookups -----------------------------------------------------------------

    def segment(self, device: str) -> str | None:
        iface = self.interfaces.get(device)
        return iface.segment if iface else None

    def is_local(self, family: int, address: int) -> bool:
        return (family, address) in self.local

    def position(self, oid: int) -> int:
        """Where an entry of this machine is in its rules or routes (the kernel keeps
        entries of one priority or metric in the order they were added)."""
        if self._positions is None:
            self._positions = dict(zip(map(id, self._rules), count()))
            self._positions.update(zip(map(id, self._routes), count()))
        return self._positions[oid]

    def rules_for(self, family: int, src: int | None, dst: int) -> list[FibRule]:
        """The rules whose prefix selectors can match, in the order the kernel tries them."""
        e = self.entries
        width = WIDTH[family]
        candidates: list[int] = []
        if src is not None:
            get = e.rules_src.get
            for length in e.src_lengths.get(family, ()):
                found = get((family, length, src >> (width - length)))
                if found:
                    candidates += (
                        found
                        if len(found) <= 16
                        else self._mine(e.rules_src, (family, length, src >> (width - length)))
                    )
        get = e.rules_dst.get
        for length in e.dst_lengths.get(family, ()):
            found = get((family, length, dst >> (width - length)))
            if found:
                candidates += (
                    found if len(found) <= 16 else self._mine(e.rules_dst, (family, length, dst >> (width - length)))
                )
        if family in e.rules_other:
            candidates += self._mine(e.rules_other, family)
        ids = self.ids
        rules = e.rules
        matching: list[FibRule] = [rules[oid] for oid in candidates if oid in ids]
        matching += KERNEL_RULES[family]
        matching.sort(key=_priority)
        # Rules of one priority keep the order they were added in; it matters only
        # between rules that could send the walk to different tables.
        for i in range(len(matching) - 1):
            if matching[i].priority == matching[i + 1].priority and matching[i].table != matching[i + 1].table:
                ids_of = {id(r): oid for oid, r in ((oid, rules[oid]) for oid in candidates if oid in ids)}
                matching.sort(key=lambda r: (r.priority, self.position(ids_of[id(r)]) if id(r) in ids_of else -1))
                break
        return matching

    def _mine(self, index: Mapping[Any, list[int]], bucket: object) -> Sequence[int]:
        """The ids in an index bucket, or for a large bucket only this machine's."""
        found = index.get(bucket, ())
        if len(found) <= 16:
            return found
        memo = (id(index), bucket)
        mine = self._big.get(memo)
        if mine is None:
            mine = self._big[memo] = list(self.entries.bucket_set(index, bucket) & self.ids)
        return mine

    def lookup(
        self,
        family: int,
        dst: int,
        src: int | None = None,
        iif: str = LOOPBACK,
        oif: str | None = None,
        mark: int = 0,
        onlink_only: bool = False,
    ) -> Lookup:
        """`ip route get`: the rule walk and the route it ends on. `iif` lo is traffic
        this machine sends; `onlink_only` keeps only routes without a gateway (how the
        kernel resolves a gateway)."""
        question = (family, dst, src, iif, oif, mark, onlink_only)
        found = self._answers.get(question)
        if found is None:
            found = self._answers[question] = self._lookup(family, dst, src, iif, oif, mark, onlink_only)
        return found

    def _lookup(
        self, family: int, dst: int, src: int | None, iif: str, oif: str | None, mark: int, onlink_only: bool
    ) -> Lookup:
        for rule in self.rules_for(family, src, dst):
            if not rule.matches(src, dst, iif, oif, mark):
                continue
            route = self.table_lookup(family, rule.table, dst, onlink_only)
            if route is None:
                continue  # the walk goes on to the next rule
            return self._result(route, rule)
        return NO_ROUTE

    def table_lookup(self, family: int, table: int, dst: int, onlink_only: bool = False) -> FibRoute | None:
        """Longest prefix first; among one prefix the lowest metric, then the first added."""
        e = self.entries
        lengths = self._lengths.get((family, table))
        if lengths is None:
            own = {k[2] for k in self._connected if k[0] == family and k[1] == table}
            lengths = self._lengths[(family, table)] = sorted(
                own | set(e.route_lengths.get((family, table), ())), reverse=True
            )
        ids = self.ids
        index = e.route_index
        width = WIDTH[family]
        connected = self._connected
        for length in lengths:
            k = dst >> (width - length)
            bucket = (family, table, length, k)
            best: tuple[int, int, FibRoute] | None = None
            if bucket in index:
                for oid in self._mine(index, bucket):
                    if oid not in ids:
                        continue
                    route = e.routes[oid]
                    if onlink_only and not (route.onlink or route.local):
                        continue
                    if (
                        best is None
                        or route.metric < best[0]
                        or route.metric == best[0]
                        and self.position(oid) < self.position(best[1])
                    ):
                        best = (route.metric, oid, route)
            for route in connected.get(bucket, ()):
                if onlink_only and not (route.onlink or route.local):
                    continue
                # the kernel's own routes were there first
                if best is None or route.metric <= best[0]:
                    best = (route.metric, -1, route)
            if best is not None:
                return best[2]
        return None

    def _result(self, route: FibRoute, rule: FibRule) -> Lookup:
        if route.local:
            return Lookup(Outcome.LOCAL, LOOPBACK, None, rule, route)
        if route.gateway is None:
            return Lookup(Outcome.UNICAST, route.device, None, rule, route)
        device = route.device or self.gateway_device(route)
        if device is None:
            return Lookup(Outcome.GATEWAY_NOT_ONLINK, None, route.gateway, rule, route)
        return Lookup(Outcome.UNICAST, device, route.gateway, rule, route)

    def gateway_device(self, route: FibRoute) -> str | None:
        """The interface a route's gateway is on-link through: a route without a gateway
        in the route's own table, else anywhere the rules lead (fib_check_nh)."""
        assert route.gateway is not None
        memo = (route.table, route.gateway)
        if memo not in self._gateway_devices:
            found = self.table_lookup(route.family, route.table, route.gateway, onlink_only=True)
            if found is None or found.local:
                result = self.lookup(route.family, route.gateway, onlink_only=True)
                device = result.device if result.outcome is Outcome.UNICAST and result.gateway is None else None
            else:
                device = found.device
            self._gateway_devices[memo] = device
        return self._gateway_devices[memo]

    def reverse_path_ok(self, family: int, src: int, dst: int, iif: str) -> tuple[bool, Lookup]:
        """fib_validate_source: may a packet from `src` to `dst` arriving on `iif` be
        accepted? The source is looked up as a destination, from `dst`, as sent here."""
        if family != 4 or self.rp_filter is RpFilter.OFF:
            return True, NO_ROUTE
        back = self.lookup(family, src, dst)
        if back.outcome is not Outcome.UNICAST:
            return False, back  # no route back, or the source is one of ours (a martian)
        if self.rp_filter is RpFilter.LOOSE:
            return True, back
        return back.device == iif, back

    def source_address(self, family: int, result: Lookup, dst: int) -> int | None:
        """The address the kernel would send from (no `from` given): a connected IPv4
        route's own source (the address that made it); else, the route naming no source,
        on the outgoing interface: IPv4, the one in the network of the next hop, else
        its first (the next hop of an on-link route is none: the kernel selects for the
        route's gateway, 0); IPv6, the one sharing most of the destination's prefix, at
        most its own prefix length (RFC 6724 rule 8, as Linux caps it), the last
        configured of those that tie (the kernel lists a link's addresses of one scope
        newest first, and keeps the first best); else the first of the family anywhere.
        Addresses are taken as configured in order, as systemd-networkd and netcfg apply
        add them."""
        if result.route is not None and result.route.source is not None:
            return result.route.source  # `ip route get` shows it as `src`
        iface = self.interfaces.get(result.device or "")
        candidates = [a for a in (iface.addresses if iface else ()) if a[0] == family]
        if family == 6 and candidates:
            width = WIDTH[6]
            scores = [min(width - (value ^ dst).bit_length(), length) for _, value, length in candidates]
            best = max(scores)
            return next(c[1] for c, s in zip(reversed(candidates), reversed(scores), strict=True) if s == best)
        hop = result.gateway
        for fam, value, length in candidates:
            if hop is not None and key(fam, length, value) == key(fam, length, hop):
                return value
        if candidates:
            return candidates[0][1]
        for other in self.interfaces.values():
            for fam, value, _ in other.addresses:
                if fam == family:
                    return value
        return None


def _priority(rule: FibRule) -> int:
    return rule.priority


def interfaces_of(config: HostConfig) -> tuple[Interface, ...]:
    out = []
    for iface in config.interfaces:
        addresses = []
        for a in iface.addresses:
            family, value = parse_address(a.address)
            addresses.append((family, value, int(a.address.split("/", 1)[1]) if "/" in a.address else WIDTH[family]))
        out.append(Interface(iface.name, iface.segment, tuple(addresses)))
    return tuple(out)
