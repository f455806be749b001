"""What a routing design is: the one contract every design module implements.

A design turns inventory machines into HostConfigs, and answers the questions the rest
of netcfg would otherwise have to answer by knowing the design's rules:
  - which inventory entities a machine's configuration reads (the causes graph of
    `impact` and `who-uses`);
  - which networks' gateways its default routes go through (validation);
  - which path it promises between two addresses (the lab's probes, the verifier).
Nothing outside `designs/` branches on a design's name; it asks the design.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from netaddr import IPAddress

from netcfg.model.host import DesignName, HostConfig
from netcfg.model.inventory import Inventory, Machine, Network
from netcfg.problems import Location

Render = Callable[[Iterable[Machine]], dict[str, HostConfig]]


class PathKind(StrEnum):
    """How a design promises traffic between two machines of one segment travels."""

    DIRECT = "direct"  # on-link, over the segment: no router forwards it
    VIA_ROUTER = "via-router"  # to the gateway, which forwards it


@dataclass(frozen=True, slots=True)
class Reads:
    """The inventory entities one machine's rendered configuration depends on."""

    segments: tuple[str, ...]  # table and priority of each segment it is on
    networks: tuple[Network, ...]  # the networks holding its addresses
    # (segment, family): every network of that family on that segment
    segment_families: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One end of a flow: a machine's address on a segment, in its network."""

    machine: str
    segment: str
    address: IPAddress
    network: Network


class Design(Protocol):
    """One routing design; `designs/__init__.py` keeps the registry of them."""

    name: DesignName

    def renderer(self, inventory: Inventory) -> Render:
        """What renders machines of `inventory`: the HostConfig of each, by name. It may
        keep what machines share from one call to the next."""
        ...

    def reads(self, inventory: Inventory, machine: Machine) -> Reads:
        """What `machine`'s configuration depends on."""
        ...

    def gateway_networks(self, inventory: Inventory, machine: Machine, family: int) -> list[tuple[Network, Location]]:
        """The networks whose gateway `machine`'s default routes of `family` use, each
        with the location of the address that selects it (where a missing gateway is
        reported)."""
        ...

    def promised_path(self, src: Endpoint, dst: Endpoint) -> PathKind | None:
        """The path the design promises from `src` to `dst` (two machines of one
        segment and family); None when it promises none."""
        ...
