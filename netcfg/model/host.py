"""The semantic per-machine configuration every stage after rendering works on.

Prefixes and addresses are canonical strings (netaddr's own formatting: compressed
IPv6, network address for prefixes), so two configs compare and hash exactly and the
model is cheap to build, diff and serialise for fleets of 10,000 machines. Entries are
ordered by a key that starts with the family and table, so sorted output groups
naturally.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import total_ordering
from typing import Any

# The routing protocol number netcfg stamps on every route it installs. It marks the
# routes netcfg owns; kernel, boot, static and every other protocol's routes are never
# touched. 77 is unassigned in iproute2's rt_protos and in Linux's rtnetlink.h.
PROTOCOL = 77
DEFAULT_METRIC = {4: 0, 6: 1024}  # what the kernel stores for a route given no metric
MAIN_TABLE = 254
RESERVED_TABLES = frozenset({0, 253, 254, 255})  # unspecified, default, main, local
# The rule priorities netcfg uses: 0, 32766 and 32767 hold the kernel's own rules (local,
# main, default), and a rule at 0 would be read before the local table.
RULE_PRIORITIES = (1, 32765)
DEFAULT_V4 = "0.0.0.0/0"
DEFAULT_V6 = "::/0"


class Kind(StrEnum):
    KVM_HOST = "kvm-host"
    VM = "vm"
    PHYSICAL = "physical"
    ROUTER = "router"


class DesignName(StrEnum):
    POLICY_ROUTING = "policy-routing"
    FLAT = "flat"


def default_prefix(family: int) -> str:
    return DEFAULT_V4 if family == 4 else DEFAULT_V6


@total_ordering
@dataclass(frozen=True, slots=True)
class Address:
    """An address on an interface, with the prefix length of its network."""

    interface: str
    family: int
    address: str  # "203.0.113.10/26", "2001:db8:20::10/64"

    # Ordered field by field, as order=True would, whose four generated methods cost
    # every apply 2 million instructions to define.
    def __lt__(self, other: Address) -> bool:
        if other.__class__ is not Address:
            return NotImplemented
        return (self.interface, self.family, self.address) < (other.interface, other.family, other.address)

    @property
    def ip(self) -> str:
        return self.address.split("/", 1)[0]

    @property
    def network(self) -> str:
        """The connected network the kernel derives from this address."""
        from netaddr import IPNetwork  # 10 ms of start-up apply does not need

        return str(IPNetwork(self.address).cidr)


@total_ordering
@dataclass(frozen=True, slots=True)
class InterfaceConfig:
    """One interface of a machine: its segment and the addresses it holds there."""

    name: str
    segment: str
    bridge: bool = False  # KVM hosts attach VMs to a bridge per segment
    addresses: tuple[Address, ...] = ()

    def __lt__(self, other: InterfaceConfig) -> bool:  # field by field, as Address
        if other.__class__ is not InterfaceConfig:
            return NotImplemented
        return (self.name, self.segment, self.bridge, self.addresses) < (
            other.name,
            other.segment,
            other.bridge,
            other.addresses,
        )


@total_ordering
@dataclass(frozen=True, slots=True)
class Rule:
    """A policy-routing rule: `from src` or `to dst`, to `table`, at `priority`."""

    family: int
    priority: int
    table: int
    src: str | None = None
    dst: str | None = None

    def sort_key(self) -> tuple[int, int, int, str, str]:
        # None sorts before any prefix; dataclass ordering would compare None with str.
        return (self.family, self.priority, self.table, self.src or "", self.dst or "")

    def __lt__(self, other: Rule) -> bool:
        return self.sort_key() < other.sort_key()

    def __str__(self) -> str:
        match = f"from {self.src}" if self.src else f"to {self.dst}" if self.dst else "all"
        return f"{match} lookup {self.table} priority {self.priority}"


@total_ordering
@dataclass(frozen=True, slots=True)
class Route:
    """A route netcfg owns: on-link (device, scope link) or via a gateway."""

    family: int
    table: int
    dst: str  # canonical prefix; the default route is "0.0.0.0/0" or "::/0"
    gateway: str | None = None
    device: str | None = None
    scope: str = "global"  # "link" for on-link routes
    metric: int | None = None
    protocol: int = PROTOCOL

    def sort_key(self) -> tuple[int, int, str, str, str, str, int, int]:
        return (
            self.family,
            self.table,
            self.dst,
            self.gateway or "",
            self.device or "",
            self.scope,
            -1 if self.metric is None else self.metric,
            self.protocol,
        )

    def __lt__(self, other: Route) -> bool:
        return self.sort_key() < other.sort_key()

    @property
    def is_default(self) -> bool:
        return self.dst in (DEFAULT_V4, DEFAULT_V6)

    def __str__(self) -> str:
        parts = ["default" if self.is_default else self.dst]
        if self.gateway:
            parts += ["via", self.gateway]
        if self.device:
            parts += ["dev", self.device]
        if self.scope != "global":
            parts += ["scope", self.scope]
        if self.metric is not None:
            parts += ["metric", str(self.metric)]
        parts += ["table", table_name(self.table)]
        return " ".join(parts)


def table_name(table: int) -> str:
    return "main" if table == MAIN_TABLE else str(table)


@dataclass(frozen=True, slots=True)
class HostConfig:
    """Everything one machine's routing configuration consists of, in render order."""

    name: str
    kind: Kind
    design: DesignName
    interfaces: tuple[InterfaceConfig, ...] = ()
    # A tuple, or an Entries chaining parts shared with other machines (model/entries.py).
    rules: Sequence[Rule] = ()
    routes: Sequence[Route] = ()
    forwarding: bool = False  # routers forward between segments

    @property
    def addresses(self) -> tuple[Address, ...]:
        return tuple(a for i in self.interfaces for a in i.addresses)

    @property
    def tables(self) -> tuple[int, ...]:
        """The non-main tables this config installs routes into."""
        return tuple(sorted({r.table for r in self.routes} - {MAIN_TABLE}))

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON-ready form; `from_dict` reads it back exactly."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "design": self.design.value,
            "forwarding": self.forwarding,
            "interfaces": [
                {
                    "name": i.name,
                    "segment": i.segment,
                    "bridge": i.bridge,
                    "addresses": [a.address for a in i.addresses],
                }
                for i in self.interfaces
            ],
            "rules": [
                {
                    "family": r.family,
                    "priority": r.priority,
                    "table": r.table,
                    "src": r.src,
                    "dst": r.dst,
                }
                for r in self.rules
            ],
            "routes": [
                {
                    "family": r.family,
                    "table": r.table,
                    "dst": r.dst,
                    "gateway": r.gateway,
                    "device": r.device,
                    "scope": r.scope,
                    "metric": r.metric,
                    "protocol": r.protocol,
                }
                for r in self.routes
            ],
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> HostConfig:
        interfaces = tuple(
            InterfaceConfig(
                name=i["name"],
                segment=i["segment"],
                bridge=bool(i.get("bridge", False)),
                addresses=tuple(Address(i["name"], 6 if ":" in a else 4, a) for a in i["addresses"]),
            )
            for i in data["interfaces"]
        )
        return HostConfig(
            name=data["name"],
            kind=Kind(data["kind"]),
            design=DesignName(data["design"]),
            interfaces=interfaces,
            rules=tuple(Rule(**r) for r in data["rules"]),
            routes=tuple(Route(**r) for r in data["routes"]),
            forwarding=bool(data.get("forwarding", False)),
        )
