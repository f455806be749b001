"""Semantic checks over a parsed inventory: every problem at once, each at its location.

Each check is a small function yielding Problems; `check_inventory` runs them all. They
run after parsing, so entities that failed to parse are absent (their problems are
already reported) and must not cause follow-up noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from netaddr import IPAddress, IPNetwork

from netcfg.designs import DESIGNS
from netcfg.designs.gateways import by_design, default_route_problems
from netcfg.errors import quote
from netcfg.model.host import RESERVED_TABLES, Kind
from netcfg.model.inventory import Inventory, Machine, Network
from netcfg.model.unusable import UNUSABLE
from netcfg.names import IPV6_FILE_SUFFIX
from netcfg.problems import Location, Problem

Check = Callable[[Inventory, set[str]], Iterator[Problem]]


def check_inventory(
    inventory: Inventory,
    skipped: set[str] | None = None,
    skipped_networks: Sequence[IPNetwork] | None = (),
    value_locations: dict[tuple, Location] | None = None,
    partial: Sequence[Machine] = (),
    complete: bool = True,
) -> list[Problem]:
    """All semantic problems of `inventory`. `skipped` names machines and segments that
    failed to parse, `skipped_networks` the prefixes of networks that did (None: a
    networks list was unreadable), so references to them are not reported again;
    `partial` holds machines that failed to parse but whose interfaces were read, so
    their addresses are checked all the same (every problem at once). Not `complete`
    (a whole file could not be read): only the checks that need nothing of another
    entity, as anything referred to may be in that file."""
    skipped = _Skipped(skipped or ())
    skipped.networks = None if skipped_networks is None else tuple(skipped_networks)
    skipped.value_locations = value_locations or {}
    skipped.partial = tuple(partial)
    return [p for check in (CHECKS if complete else SELF_CONTAINED_CHECKS) for p in check(inventory, skipped)]


class _Skipped(set):
    """Names of entities that failed to parse, and `networks`: the prefixes of networks
    that did (None: unknown, a whole networks list was unreadable)."""

    networks: tuple[IPNetwork, ...] | None = ()
    partial: tuple[Machine, ...] = ()
    # Where a value is, when a problem belongs there rather than at its entity:
    # ("host", VM name) and ("segment", network location).
    value_locations: dict[tuple, Location] = {}

    def holds(self, address) -> bool:
        """Whether a network that failed to parse may hold `address`."""
        return self.networks is None or any(address in n for n in self.networks)


def segments_distinct(inventory: Inventory, _: set[str]) -> Iterator[Problem]:
    by_table: dict[int, str] = {}
    by_priority: dict[int, str] = {}
    for segment in sorted(inventory.segments.values(), key=lambda s: s.location):
        if segment.table in RESERVED_TABLES:
            yield Problem(
                segment.location,
                f"segment '{segment.name}' uses reserved table {segment.table}",
                "tables 0, 253 (default), 254 (main) and 255 (local) belong to the kernel",
            )
        if segment.table in by_table:
            yield Problem(
                segment.location,
                f"segment '{segment.name}' uses table {segment.table},"
                f" already used by segment '{by_table[segment.table]}'",
            )
        by_table.setdefault(segment.table, segment.name)
        if segment.priority in by_priority:
            yield Problem(
                segment.location,
                f"segment '{segment.name}' uses priority {segment.priority},"
                f" already used by segment '{by_priority[segment.priority]}'",
            )
        by_priority.setdefault(segment.priority, segment.name)


def networks_known_segment(inventory: Inventory, skipped: set[str]) -> Iterator[Problem]:
    for network in inventory.networks:
        if network.segment not in inventory.segments and network.segment not in skipped:
            where = _value_location(skipped, ("segment", network.location), network.location)
            yield _unknown_segment(where, f"network {network.cidr}", network.segment, inventory)


def networks_disjoint(inventory: Inventory, _: set[str]) -> Iterator[Problem]:
    """Networks of one family never overlap, on any segment: an address must belong to
    exactly one network for its prefix length and table to be well defined."""
    for family in (4, 6):
        nets = sorted(
            (n for n in inventory.networks if n.family == family),
            key=lambda n: (n.prefix.first, -n.prefix.last, n.location),
        )
        widest: Network | None = None  # the earlier network reaching furthest
        first: Network | None = None  # of equal prefixes, neighbours in this order
        for network in nets:
            if first is not None and network.prefix == first.prefix:
                yield Problem(network.location, f"network {network.cidr} defined twice (first at {first.location})")
                continue
            first = network
            if widest is not None and network.prefix.first <= widest.prefix.last:
                message = f"network {network.cidr} overlaps network {widest.cidr} (at {widest.location})"
                yield Problem(network.location, message)
            if widest is None or network.prefix.last > widest.prefix.last:
                widest = network


def networks_usable(inventory: Inventory, _: set[str]) -> Iterator[Problem]:
    for network in inventory.networks:
        for unusable, what in UNUSABLE:
            if unusable.version == network.family and (
                network.prefix.first <= unusable.last and unusable.first <= network.prefix.last
            ):
                yield Problem(
                    network.location,
                    f"network {network.cidr} overlaps {unusable.cidr}, the {what} range: no interface can use it",
                )
                break


def gateways_on_routers(inventory: Inventory, _: set[str]) -> Iterator[Problem]:
    """Routers carry the gateways of their segments: where a segment has routers, a
    gateway none of them holds is a default route into nowhere."""
    routers: dict[str, list[Machine]] = {}
    held: dict[str, set[IPAddress]] = {}  # the routers' addresses per segment, looked up once per network
    for machine in inventory.machines.values():
        if machine.kind is Kind.ROUTER:
            for iface in machine.interfaces:
                routers.setdefault(iface.segment, []).append(machine)
                held.setdefault(iface.segment, set()).update(iface.addresses)
    for network in inventory.networks:
        on_segment = routers.get(network.segment, [])
        if network.gateway is None or not on_segment:
            continue
        if network.gateway not in held[network.segment]:
            names = ", ".join(r.name for r in on_segment)
            yield Problem(
                network.gateway_location,
                f"gateway {network.gateway} of network {network.cidr} is held by no router of segment"
                f" '{network.segment}'",
                f"add {network.gateway} to the {network.segment} interface of "
                + (names if len(on_segment) == 1 else f"one of {names}"),
            )


def gateways_usable(inventory: Inventory, _: set[str]) -> Iterator[Problem]:
    for network in inventory.networks:
        gateway = network.gateway
        if gateway is None:
            continue
        if gateway.version != network.family or gateway not in network.prefix:
            yield Problem(
                network.gateway_location,
                f"gateway {gateway} is outside its network {network.cidr}",
            )
        elif _is_network_or_broadcast(network, gateway):
            which = "network" if int(gateway) == network.prefix.first else "broadcast"
            yield Problem(
                network.gateway_location,
                f"gateway {gateway} is the {which} address of {network.cidr}",
                "use a host address of the network",
            )


def _with_partial(inventory: Inventory, skipped: set[str]) -> list[Machine]:
    """The inventory's machines and those that failed to parse but for their interfaces."""
    return [*inventory.machines.values(), *getattr(skipped, "partial", ())]


def addresses_in_networks(inventory: Inventory, skipped: set[str]) -> Iterator[Problem]:
    # Networks on an unknown segment (a typo, reported once by networks_known_segment):
    # their addresses are not reported again, once per machine.
    orphans = [n.prefix for n in inventory.networks if n.segment not in inventory.segments]
    for machine in _with_partial(inventory, skipped):
        for iface in machine.interfaces:
            if iface.segment in skipped:
                continue
            if iface.segment not in inventory.segments:
                yield _unknown_segment(
                    iface.location, f"interface of machine '{machine.name}'", iface.segment, inventory
                )
                continue
            for (address, location), network in zip(_with_locations(iface), inventory.holders(iface), strict=True):
                if network is None:
                    if isinstance(skipped, _Skipped) and skipped.holds(address):
                        continue  # its network failed to parse: already reported
                    if any(address in prefix for prefix in orphans):
                        continue  # its network is on an unknown segment: reported
                    yield Problem(
                        location,
                        f"address {address} of machine '{machine.name}' is in no IPv{address.version}"
                        f" network of segment '{iface.segment}'",
                        _where_else(inventory, address),
                    )
                elif _is_network_or_broadcast(network, address):
                    which = "network" if int(address) == network.prefix.first else "broadcast"
                    yield Problem(
                        location,
                        f"address {address} of machine '{machine.name}' is the {which} address of {network.cidr}",
                    )


def interface_names_unique(inventory: Inventory, skipped: set[str]) -> Iterator[Problem]:
    """Two segments on one link cannot be configured: `ip link add` fails, and the
    networkd and netplan files of the two would collide."""
    for machine in _with_partial(inventory, skipped):
        seen: dict[str, str] = {}
        for iface in machine.interfaces:
            if iface.name in seen:
                yield Problem(
                    iface.location,
                    f"interface name '{iface.name}' of machine '{machine.name}' is already used"
                    f" by its interface on segment '{seen[iface.name]}'",
                    "give one of them another name:",
                )
            else:
                seen[iface.name] = iface.segment


def file_names_distinct(inventory: Inventory, _: set[str]) -> Iterator[Problem]:
    """No machine's output file may be another machine's (see names.IPV6_FILE_SUFFIX)."""
    for machine in inventory.machines.values():
        other = machine.name.removesuffix(IPV6_FILE_SUFFIX)
        if other != machine.name and other in inventory.machines:
            yield Problem(
                machine.location,
                f"machine '{machine.name}' would write iproute2/{machine.name}.batch, which is the IPv6 file"
                f" of machine '{other}' ({other}{IPV6_FILE_SUFFIX}.batch)",
                "rename one of them",
            )


def addresses_unique(inventory: Inventory, skipped: set[str]) -> Iterator[Problem]:
    seen: dict[object, tuple[str, Location]] = {}
    for machine in sorted(_with_partial(inventory, skipped), key=lambda m: m.location):
        for iface in machine.interfaces:
            for address, location in _with_locations(iface):
                if address in seen:
                    owner, first = seen[address]
                    yield Problem(
                        location,
                        f"address {address} of machine '{machine.name}' is already used by"
                        f" machine '{owner}' (at {first})",
                    )
                else:
                    seen[address] = (machine.name, location)


def vms_on_kvm_hosts(inventory: Inventory, skipped: set[str]) -> Iterator[Problem]:
    load: dict[str, float] = {}
    for vm in inventory.machines.values():
        if vm.kind is not Kind.VM or vm.host is None:
            continue
        host = inventory.machines.get(vm.host)
        where = _value_location(skipped, ("host", vm.name), vm.location)
        if host is None:
            if vm.host not in skipped:
                yield Problem(where, f"VM '{vm.name}' runs on unknown host {quote(vm.host)}")
        elif host.kind is not Kind.KVM_HOST:
            yield Problem(
                where,
                f"VM '{vm.name}' runs on '{vm.host}', which is a {host.kind}, not a kvm-host",
            )
        else:
            load[host.name] = load.get(host.name, 0) + (vm.memory_gib or 0)
    for name, needed in sorted(load.items()):
        host = inventory.machines[name]
        capacity = host.memory_gib or 0
        if needed > capacity:
            yield Problem(
                host.location,
                f"the VMs of '{name}' need {_gib(needed)} GiB but it has {_gib(capacity)} GiB",
                f"move {_gib(needed - capacity)} GiB of VMs to another host",
            )


def gateways_for_defaults(inventory: Inventory, _: set[str]) -> Iterator[Problem]:
    """Under each machine's own design (a machine's `design:` overrides the policy's)."""
    groups = [default_route_problems(d, inventory, machines) for d, machines in by_design(inventory, DESIGNS)]
    for missing, _own in groups:
        yield from missing
    for _missing, own in groups:
        yield from own


# Checks that judge entities alone or against each other, never an entity missing.
SELF_CONTAINED_CHECKS: tuple[Check, ...] = (
    segments_distinct,
    networks_disjoint,
    networks_usable,
    gateways_usable,
    interface_names_unique,
    file_names_distinct,
    addresses_unique,
)
CHECKS: tuple[Check, ...] = (
    *SELF_CONTAINED_CHECKS,
    networks_known_segment,
    addresses_in_networks,
    vms_on_kvm_hosts,
    gateways_for_defaults,
    gateways_on_routers,
)


def _value_location(skipped: set[str], key: tuple, default: Location) -> Location:
    return getattr(skipped, "value_locations", {}).get(key, default)


def _with_locations(iface):
    locations = iface.address_locations or (iface.location,) * len(iface.addresses)
    return zip(iface.addresses, locations, strict=True)


def _is_network_or_broadcast(network: Network, address) -> bool:
    prefix = network.prefix
    if network.family == 4:
        if prefix.prefixlen >= 31:  # RFC 3021 point-to-point links use both addresses
            return False
        return int(address) in (prefix.first, prefix.last)
    # IPv6 has no broadcast; the first address is the subnet-router anycast address.
    return prefix.prefixlen < 127 and int(address) == prefix.first


def _unknown_segment(location: Location, what: str, segment: str, inventory: Inventory) -> Problem:
    known = ", ".join(inventory.segments) or "none defined"
    return Problem(location, f"{what} is on unknown segment {quote(segment)}", f"known segments: {known}")


def _where_else(inventory: Inventory, address) -> str:
    for segment in inventory.segments:
        network = inventory.network_of(address, segment)
        if network is not None:
            return f"{network.cidr} is on segment '{segment}'"
    return ""


def _gib(value: float) -> str:
    return f"{value:g}"
