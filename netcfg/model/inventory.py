"""The typed, immutable inventory: what the YAML files say, after validation.

Every entity remembers the Location it was defined at, so any rendered line, any
diff cause and any error can be traced back to the inventory.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from types import MappingProxyType
from typing import TypeVar

from netaddr import IPAddress, IPNetwork

from netcfg.model.host import DesignName, Kind
from netcfg.model.waves import DEFAULT_WAVES
from netcfg.problems import Location

NOWHERE = Location("<none>")
T = TypeVar("T")


class Reconfigure(StrEnum):
    LIVE = "live"
    RESTART = "restart"


@dataclass(frozen=True, slots=True)
class Segment:
    """An L2 segment (VLAN) with its own routing table and rule priority."""

    name: str
    table: int
    priority: int
    description: str = ""
    location: Location = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class Network:
    """An IPv4 or IPv6 network on a segment."""

    prefix: IPNetwork
    segment: str
    gateway: IPAddress | None = None
    private: bool = False
    location: Location = field(default=NOWHERE, compare=False)
    gateway_location: Location = field(default=NOWHERE, compare=False, repr=False)
    # Read once: netaddr formats, hashes and even reports the version of a prefix slowly,
    # and the render and the dependency graph ask for them for every machine (hashing
    # alone was a tenth of a 10,000-machine check).
    cidr: str = field(init=False, compare=False, repr=False)
    family: int = field(init=False, compare=False, repr=False)
    length: int = field(init=False, compare=False, repr=False)
    _hash: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cidr", str(self.prefix))
        object.__setattr__(self, "family", self.prefix.version)
        object.__setattr__(self, "length", self.prefix.prefixlen)
        object.__setattr__(self, "_hash", hash((self.prefix, self.segment, self.gateway, self.private)))

    def __hash__(self) -> int:
        return self._hash


@dataclass(frozen=True, slots=True)
class Interface:
    """A machine's interface on one segment; addresses carry no prefix length here."""

    segment: str
    name: str
    addresses: tuple[IPAddress, ...]
    location: Location = field(default=NOWHERE, compare=False)
    # One per address, for errors that point at the offending address itself.
    address_locations: tuple[Location, ...] = field(default=(), compare=False, repr=False)

    def addresses_of(self, family: int) -> tuple[IPAddress, ...]:
        return tuple(a for a in self.addresses if a.version == family)


@dataclass(frozen=True, slots=True)
class Machine:
    name: str
    kind: Kind
    interfaces: tuple[Interface, ...] = ()
    memory_gib: float | None = None  # capacity for VMs (kvm-host); size (vm)
    nic_gbit: float | None = None  # migration link speed (kvm-host)
    host: str | None = None  # the hypervisor a VM runs on
    dirty_mib_s: float | None = None  # page dirty rate of a VM
    service: str | None = None  # members of one service are never all down at once
    location: Location = field(default=NOWHERE, compare=False)
    # Its own routing design, overriding policy.design (a fleet being migrated from one
    # design to the other is mixed); None: the policy's.
    design: DesignName | None = None

    def interface(self, segment: str) -> Interface | None:
        for iface in self.interfaces:
            if iface.segment == segment:
                return iface
        return None

    @property
    def addresses(self) -> tuple[IPAddress, ...]:
        return tuple(a for iface in self.interfaces for a in iface.addresses)


@dataclass(frozen=True, slots=True)
class Seatbelt:
    max_fraction: float = 0.25
    max_hosts: int = 50
    stagger_above: int = 5
    # Who may approve a blocked change; only the base's list counts (docs/design.md,
    # "Classification and the seatbelt"): a change cannot make its own author an approver.
    approvers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RolloutPolicy:
    max_parallel_evacuations: int = 2
    max_migrations_per_host: int = 2
    migration_efficiency: float = 0.8
    reconfigure_s: float = 60
    soak_s: float = 300
    waves: tuple[str, ...] = DEFAULT_WAVES  # hot-change wave sizes (netcfg.model.waves)


@dataclass(frozen=True, slots=True)
class Policy:
    design: DesignName = DesignName.POLICY_ROUTING
    reconfigure: Reconfigure = Reconfigure.LIVE
    seatbelt: Seatbelt = Seatbelt()
    rollout: RolloutPolicy = RolloutPolicy()
    location: Location = field(default=NOWHERE, compare=False)


def _frozen_map(items: Mapping[str, T]) -> Mapping[str, T]:
    return MappingProxyType(dict(sorted(items.items())))


@dataclass(frozen=True, slots=True)
class Inventory:
    """A validated inventory. Segments and machines are keyed by name, in name order;
    networks are ordered by segment, family, then address, so every design renders
    them in one stable order."""

    segments: Mapping[str, Segment]
    networks: tuple[Network, ...]
    machines: Mapping[str, Machine]
    policy: Policy = Policy()
    source: str = ""  # the directory or file it was loaded from
    index: NetworkIndex = field(default_factory=lambda: NetworkIndex(()), compare=False, repr=False)
    # host -> its VMs in name order: the planner and the analysis ask per hypervisor.
    vms: Mapping[str, tuple[Machine, ...]] = field(default_factory=dict, compare=False, repr=False)

    @staticmethod
    def build(
        segments: Mapping[str, Segment] | list[Segment],
        networks: list[Network] | tuple[Network, ...],
        machines: Mapping[str, Machine] | list[Machine],
        policy: Policy = Policy(),
        source: str = "",
    ) -> Inventory:
        """The one constructor that canonicalises order; use it rather than Inventory()."""
        if not isinstance(segments, Mapping):
            segments = {s.name: s for s in segments}
        if not isinstance(machines, Mapping):
            machines = {m.name: m for m in machines}
        ordered = tuple(sorted(networks, key=network_order))
        by_name = _frozen_map(machines)
        vms: dict[str, list[Machine]] = {}
        for machine in by_name.values():
            if machine.kind is Kind.VM and machine.host is not None:
                vms.setdefault(machine.host, []).append(machine)
        return Inventory(
            _frozen_map(segments),
            ordered,
            by_name,
            policy,
            source,
            NetworkIndex(ordered),
            MappingProxyType({h: tuple(v) for h, v in vms.items()}),
        )

    def networks_on(self, segment: str, family: int | None = None) -> tuple[Network, ...]:
        return tuple(n for n in self.networks if n.segment == segment and (family is None or n.family == family))

    def network_of(self, address: IPAddress, segment: str) -> Network | None:
        """The network of `segment` holding `address`, if any."""
        return self.index.lookup(address, segment)

    def holders(self, iface: Interface) -> tuple[Network | None, ...]:
        """The network of each of `iface`'s addresses (network_of), in address order."""
        return self.index.holders(iface)

    def vms_of(self, host: str) -> tuple[Machine, ...]:
        return self.vms.get(host, ())

    def design_of(self, machine: Machine) -> DesignName:
        """The design `machine` is rendered under: its own, else the policy's."""
        return machine.design if machine.design is not None else self.policy.design

    @property
    def mixed(self) -> bool:
        """Whether some machine's design differs from the policy's."""
        return any(m.design is not None and m.design != self.policy.design for m in self.machines.values())

    @property
    def design_label(self) -> str:
        """The fleet's design for a person: the policy's, "mixed" when machines differ."""
        return f"{self.policy.design}, mixed" if self.mixed else str(self.policy.design)


def network_order(network: Network) -> tuple[str, int, int, int]:
    return (network.segment, network.family, network.prefix.value, network.prefix.prefixlen)


def default_interface_name(kind: Kind, segment: str) -> str:
    return ("br" if kind is Kind.KVM_HOST else "eth") + segment


class NetworkIndex:
    """Finds the network of a segment holding an address in O(log n).

    Networks of one segment never overlap in a valid inventory, so the holder is the
    last network starting at or before the address. An invalid inventory with overlaps
    (reported by the checks) still gets an answer, the most specific holder, found
    by prefix length: one dict lookup per length in use (a scan of every network per
    address made one overlap at 100,000 machines cost minutes)."""

    __slots__ = ("_by_interface", "_by_key", "_by_length", "_overlapping")

    def __init__(self, networks: tuple[Network, ...]):
        by_key: dict[tuple[str, int], tuple[list[int], list[int], list[Network]]] = {}
        for n in sorted(networks, key=lambda n: (n.prefix.first, n.prefix.prefixlen)):
            starts, lasts, nets = by_key.setdefault((n.segment, n.family), ([], [], []))
            starts.append(n.prefix.first)
            lasts.append(n.prefix.last)
            nets.append(n)
        self._by_key = by_key
        self._overlapping = any(
            a.prefix.last >= b.prefix.first for _, _, nets in by_key.values() for a, b in pairwise(nets)
        )
        # Overlaps only: (segment, family) -> [(prefix length, {network value: network})],
        # longest first; the first network of a prefix listed twice, as the scan found it.
        self._by_length: dict[tuple[str, int], list[tuple[int, dict[int, Network]]]] = {}
        if self._overlapping:
            for key, (_, _, nets) in by_key.items():
                lengths: dict[int, dict[int, Network]] = {}
                for n in nets:
                    lengths.setdefault(n.prefix.prefixlen, {}).setdefault(n.prefix.first, n)
                self._by_length[key] = sorted(lengths.items(), reverse=True)
        # The render, the graph and the checks each ask for a machine's networks: found
        # once per interface. Keyed by id, the interface kept alive beside its answer so
        # no other object can take its id over while it is cached.
        self._by_interface: dict[int, tuple[Interface, tuple[Network | None, ...]]] = {}

    def holders(self, iface: Interface) -> tuple[Network | None, ...]:
        cached = self._by_interface.get(id(iface))
        if cached is not None and cached[0] is iface:
            return cached[1]
        found = tuple(self.lookup(ip, iface.segment) for ip in iface.addresses)
        self._by_interface[id(iface)] = (iface, found)
        return found

    def lookup(self, address: IPAddress, segment: str) -> Network | None:
        entry = self._by_key.get((segment, address.version))
        if entry is None:
            return None
        starts, lasts, nets = entry
        value = int(address)
        if self._overlapping:
            width = 32 if address.version == 4 else 128
            for length, networks in self._by_length[(segment, address.version)]:
                found = networks.get(value >> (width - length) << (width - length))
                if found is not None:
                    return found
            return None
        i = bisect_right(starts, value) - 1
        if i >= 0 and value <= lasts[i]:
            return nets[i]
        return None
