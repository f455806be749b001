"""Equivalence classes: machines by their routing, networks by how they are routed.

A machine class is the machines with the same design, interfaces, network memberships,
rules and routes: they route alike and differ only in their own addresses. An endpoint
is a class at its address in one network. A flow class is a source endpoint and a
destination endpoint; every flow between their machines takes the same path.

How a class treats a destination network is its fingerprint there: the rules and routes
at that very prefix (devices read as the segments they are on), plus any aggregate
prefix covering it. Networks of one kind (family, segment, and every router's
fingerprint) that a class fingerprints alike are routed alike by it; the others,
its own networks first, are its special networks. A flow's verdict then depends on
the endpoints and those two relations only, which is what `tally` counts by.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv6Address

from netcfg.model.host import DesignName, HostConfig
from netcfg.verify.fib import Entries, Fib, RpFilter, interfaces_of
from netcfg.verify.prefix import WIDTH, Prefix, key

Fingerprint = tuple[tuple[object, ...], ...]
EMPTY: Fingerprint = ()
# Above this length a rules or routes tuple is keyed by identity: the designs share one
# tuple among the machines with the same networks, and hashing thousands of entries per
# machine would cost more than the verification.
BY_IDENTITY = 16


@dataclass(slots=True)
class Network:
    index: int
    family: int
    prefix: Prefix
    segment: str
    kind: int = -1
    endpoints: list[int] = field(default_factory=list)


@dataclass(slots=True)
class MachineClass:
    index: int
    design: DesignName
    config: HostConfig  # its first member's
    members: list[str]
    fib: Fib | None = None
    own: dict[int, tuple[str, int]] = field(default_factory=dict)  # network -> (interface, address)
    # network -> (member, address) for every address of every member in it
    addresses: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    modal: dict[int, Fingerprint] = field(default_factory=dict)  # kind -> how it routes most of them
    special: dict[int, Fingerprint] = field(default_factory=dict)  # network -> how it routes that one
    endpoints: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Endpoint:
    index: int
    klass: int
    network: int
    interface: str
    address: int  # its first member's


@dataclass(slots=True)
class Classes:
    """One fleet cut into classes."""

    entries: Entries
    classes: list[MachineClass]
    networks: list[Network]
    endpoints: list[Endpoint]
    routers: dict[str, Fib]
    kinds: list[tuple[object, ...]]
    class_of: dict[str, int]  # machine -> its class (hosts only)
    network_of: dict[tuple[int, int, int], int]  # (family, length, key) -> network
    holders: dict[tuple[str, int, int], tuple[str, str]]  # (segment, family, address) -> (machine, interface)
    configs: dict[str, HostConfig]  # every machine's: entries are keyed by their objects' ids
    ats: list[dict[int, tuple[object, ...]]] = field(default_factory=list)  # per network: entries at its prefix
    aggregates: dict[int, Prefix] = field(default_factory=dict)

    def network_at(self, family: int, value: int, length: int) -> int | None:
        return self.network_of.get((family, length, key(family, length, value)))


def _fast_address(text: str) -> tuple[int, int, int]:
    """ "a.b.c.d/len" or an IPv6 one as (family, value, length), without netaddr."""
    ip, _, length = text.partition("/")
    if ":" in ip:
        return 6, int(IPv6Address(ip)), int(length) if length else 128
    a, b, c, d = ip.split(".")
    return 4, (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d), int(length) if length else 32


def _tuple_key(entries: Sequence[object]) -> object:
    return id(entries) if len(entries) > BY_IDENTITY else entries


def build(configs: Iterable[HostConfig], rp_filter: RpFilter = RpFilter.STRICT) -> Classes:
    """Classes, networks, kinds and endpoints of a fleet given as rendered configs."""
    entries = Entries()
    by_key: dict[object, MachineClass] = {}
    classes: list[MachineClass] = []
    class_of: dict[str, int] = {}
    routers: dict[str, Fib] = {}
    holders: dict[tuple[str, int, int], tuple[str, str]] = {}
    networks: list[Network] = []
    network_of: dict[tuple[int, int, int], int] = {}
    seen_tuples: set[int] = set()
    configs_by_name: dict[str, HostConfig] = {}

    def network(family: int, value: int, length: int, segment: str) -> int:
        k = (family, length, key(family, length, value))
        found = network_of.get(k)
        if found is None:
            width = WIDTH[family]
            prefix = Prefix(family, length, (value >> (width - length)) << (width - length) if length else 0)
            found = network_of[k] = len(networks)
            networks.append(Network(found, family, prefix, segment))
        return found

    all_rules: dict[int, object] = {}
    all_routes: dict[int, object] = {}
    for config in configs:
        configs_by_name[config.name] = config
        if id(config.rules) not in seen_tuples:
            seen_tuples.add(id(config.rules))
            all_rules.update(zip(map(id, config.rules), config.rules, strict=True))
        if id(config.routes) not in seen_tuples:
            seen_tuples.add(id(config.routes))
            all_routes.update(zip(map(id, config.routes), config.routes, strict=True))
        parsed = []
        for iface in config.interfaces:
            for address in iface.addresses:
                family, value, length = _fast_address(address.address)
                holders.setdefault((iface.segment, family, value), (config.name, iface.name))
                parsed.append((iface.name, iface.segment, family, value, length))
        if config.forwarding:
            entries.add_rules(config.rules)
            entries.add_routes(config.routes)
            routers[config.name] = Fib(
                config.name,
                entries,
                interfaces_of(config),
                config.rules,
                config.routes,
                forwarding=True,
                rp_filter=rp_filter,
            )
            continue
        shape = tuple(
            (name, segment, network(family, value, length, segment)) for name, segment, family, value, length in parsed
        )
        class_key = (
            config.design,
            _tuple_key(config.rules),
            _tuple_key(config.routes),
            tuple((i.name, i.segment, i.bridge) for i in config.interfaces),
            tuple(sorted({s[2] for s in shape})),
            tuple(dict.fromkeys((s[0], s[2]) for s in shape)),
        )
        klass = by_key.get(class_key)
        if klass is None:
            klass = by_key[class_key] = MachineClass(len(classes), config.design, config, [])
            classes.append(klass)
            for (name, _, net), (_, _, _, value, _) in zip(shape, parsed, strict=True):
                klass.own.setdefault(net, (name, value))
        klass.members.append(config.name)
        for (_, _, net), (_, _, _, value, _) in zip(shape, parsed, strict=True):
            klass.addresses.setdefault(net, []).append((config.name, value))
        class_of[config.name] = klass.index

    entries.add_rules(all_rules.values())  # type: ignore[arg-type]
    entries.add_routes(all_routes.values())  # type: ignore[arg-type]
    result = Classes(
        entries,
        classes,
        networks,
        [],
        routers,
        [],
        class_of,
        network_of,
        holders,
        configs_by_name,
    )
    _kinds(result)
    for klass in classes:
        klass.fib = Fib(
            f"class of {klass.members[0]}",
            entries,
            interfaces_of(klass.config),
            klass.config.rules,
            klass.config.routes,
            rp_filter=rp_filter,
        )
    _fingerprints(result)
    for klass in classes:
        for net, (iface_name, value) in sorted(klass.own.items()):
            endpoint = Endpoint(len(result.endpoints), klass.index, net, iface_name, value)
            result.endpoints.append(endpoint)
            klass.endpoints.append(endpoint.index)
            networks[net].endpoints.append(endpoint.index)
    return result


# --- fingerprints and kinds ------------------------------------------------------------


def _at(entries: Entries, prefix: Prefix) -> dict[int, tuple[object, ...]]:
    """Every rule and route whose prefix is exactly `prefix`: id -> what it does there,
    its device last (read per machine as the segment it is on)."""
    family, length = prefix.family, prefix.length
    k = key(family, length, prefix.value)
    found: dict[int, tuple[object, ...]] = {}
    for oid in entries.rules_src.get((family, length, k), ()):
        r = entries.rules[oid]
        found[oid] = ("from", r.priority, r.table, r.dst, r.iif, r.oif, r.fwmark, None)
    for oid in entries.rules_dst.get((family, length, k), ()):
        r = entries.rules[oid]
        found[oid] = ("to", r.priority, r.table, None, r.iif, r.oif, r.fwmark, None)
    for (fam, table), lengths in entries.route_lengths.items():
        if fam == family and length in lengths:
            for oid in entries.route_index.get((family, table, length, k), ()):
                route = entries.routes[oid]
                found[oid] = ("route", table, route.gateway, route.metric, route.device)
    return found


def _aggregates(entries: Entries, networks: Sequence[Network]) -> dict[int, Prefix]:
    """Entries whose prefix is neither a network of the fleet nor a default: id -> prefix."""
    exact = {(n.family, n.prefix.length, n.prefix.value) for n in networks}
    out: dict[int, Prefix] = {}
    for oid, rule in entries.rules.items():
        for p in (rule.src, rule.dst):
            if p is not None and p.length and (p.family, p.length, p.value) not in exact:
                out[oid] = p
    for oid, route in entries.routes.items():
        p = route.prefix
        if p.length and (p.family, p.length, p.value) not in exact:
            out[oid] = p
    return out


def fingerprint(
    fib: Fib,
    members: set[int],
    at: dict[int, tuple[object, ...]],
    aggregates: dict[int, Prefix],
    prefix: Prefix,
) -> Fingerprint:
    """How a machine (its entry ids `members`) treats `prefix`."""
    items: list[tuple[object, ...]] = []
    for oid in at.keys() & members:
        item = at[oid]
        items.append((*item[:-1], fib.segment(item[-1]) if isinstance(item[-1], str) else None))
    for iface in fib.interfaces.values():
        for family, value, length in iface.addresses:
            if (
                family == prefix.family
                and length == prefix.length
                and key(family, length, value) == key(family, length, prefix.value)
            ):
                items.append(("own", iface.segment))
    for oid in aggregates.keys() & members:
        if aggregates[oid].covers(prefix):
            items.append(("within", aggregates[oid]))
    return tuple(sorted(items, key=repr))


def _member_ids(fib: Fib) -> set[int]:
    return fib.ids


def _kinds(classes: Classes) -> None:
    """A network's kind: family, segment, and how every router treats it."""
    entries = classes.entries
    aggregates = _aggregates(entries, classes.networks)
    router_ids = {name: _member_ids(fib) for name, fib in sorted(classes.routers.items())}
    kinds: dict[tuple[object, ...], int] = {}
    ats: list[dict[int, tuple[object, ...]]] = []
    for net in classes.networks:
        at = _at(entries, net.prefix)
        ats.append(at)
        view = tuple(
            (name, fingerprint(fib, router_ids[name], at, aggregates, net.prefix))
            for name, fib in sorted(classes.routers.items())
        )
        kind = (net.family, net.segment, view)
        net.kind = kinds.setdefault(kind, len(kinds))
    classes.kinds = list(kinds)
    classes.ats = ats
    classes.aggregates = aggregates


def _groups(classes: Classes, members: list[set[int]]) -> list[tuple[int, list[int]]]:
    """Networks every class not holding an address in them routes alike: (kind, its
    networks) per group. An entry at a network only its holders carry (a `from` rule
    for their own network) cannot tell the network apart for anyone else, so it is left
    out; the rest are compared with who carries them."""
    holders_of: dict[int, set[int]] = {}
    for klass in classes.classes:
        for net in klass.own:
            holders_of.setdefault(net, set()).add(klass.index)
    wanted = set().union(*(at.keys() for at in classes.ats)) if classes.ats else set()
    # Who carries each entry, exactly but without walking every class's entries: the
    # classes with the same interfaces share almost all theirs (a segment's rules and
    # routes are one set of objects for all its machines). Each such family is
    # described by its first class's entries, and every class by what it has more or
    # less than that: an entry's carriers are the families whose reference has it, less
    # the classes lacking it, plus the classes that have it beyond their reference.
    families: dict[tuple[object, ...], list[int]] = {}
    for klass in classes.classes:
        shape = (klass.design, tuple((i.name, i.segment) for i in klass.config.interfaces))
        families.setdefault(shape, []).append(klass.index)
    in_reference: dict[int, list[int]] = {}  # entry -> families whose reference has it
    lacking: dict[int, list[int]] = {}  # entry -> classes of such a family without it
    beyond: dict[int, list[int]] = {}  # entry -> classes having it beyond their reference
    family_members: list[frozenset[int]] = []
    for number, indexes in enumerate(families.values()):
        family_members.append(frozenset(indexes))
        reference = members[indexes[0]] & wanted
        for oid in reference:
            in_reference.setdefault(oid, []).append(number)
        for index in indexes[1:]:
            mine = members[index] & wanted
            for oid in reference - mine:
                lacking.setdefault(oid, []).append(index)
            for oid in mine - reference:
                beyond.setdefault(oid, []).append(index)
    interned: dict[tuple[frozenset[int], ...], int] = {}
    groups: dict[tuple[int, tuple[object, ...]], list[int]] = {}
    empty: list[int] = []
    for network in classes.networks:
        holders = holders_of.get(network.index, set())
        signature = []
        for oid, item in classes.ats[network.index].items():
            token = (
                frozenset(in_reference.get(oid, empty)),
                frozenset(lacking.get(oid, empty)),
                frozenset(beyond.get(oid, empty)),
            )
            carriers = set(token[2])
            for number in token[0]:
                carriers |= family_members[number]
            carriers -= token[1]
            if carriers <= holders:
                continue
            signature.append((repr(item), interned.setdefault(token, len(interned))))
        groups.setdefault((network.kind, tuple(sorted(signature))), []).append(network.index)
    return [(k[0], nets) for k, nets in groups.items()]


def _fingerprints(classes: Classes) -> None:
    """Every class's fingerprint of every kind (the most common one among the networks
    of that kind it holds no address in) and its special networks."""
    members = [k.fib.ids if k.fib else set() for k in classes.classes]
    groups = _groups(classes, members)
    ats = classes.ats
    aggregates = classes.aggregates
    for klass, ids in zip(classes.classes, members, strict=True):
        assert klass.fib is not None
        own_aggregates = {oid: p for oid, p in aggregates.items() if oid in ids}
        counts: dict[int, dict[Fingerprint, list[int]]] = {}
        for kind, nets in groups:
            others = [n for n in nets if n not in klass.own]
            if not others:
                continue
            if own_aggregates:  # an aggregate covers some networks of a group and not others
                for n in others:
                    fp = fingerprint(klass.fib, ids, ats[n], own_aggregates, classes.networks[n].prefix)
                    counts.setdefault(kind, {}).setdefault(fp, []).append(n)
                continue
            first = others[0]
            fp = fingerprint(klass.fib, ids, ats[first], own_aggregates, classes.networks[first].prefix)
            counts.setdefault(kind, {}).setdefault(fp, []).extend(others)
        for kind, by_fp in counts.items():
            modal = max(by_fp, key=lambda fp: (len(by_fp[fp]), fp == EMPTY, repr(fp)))
            klass.modal[kind] = modal
            for fp, nets in by_fp.items():
                if fp != modal:
                    for n in nets:
                        klass.special[n] = fp
        for net in klass.own:
            klass.special[net] = fingerprint(klass.fib, ids, ats[net], own_aggregates, classes.networks[net].prefix)
