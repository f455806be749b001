"""Following one packet across machines: each one's FIB decides, the segment carries it.

A machine sends out of an interface to a next hop (the gateway, or the destination
itself when on-link); the machine holding that address on the interface's segment
receives it (a neighbour answers ARP and ND only for addresses of the interface asked,
as with arp_ignore=1: an address on another segment is not on-link here). The receiver
delivers it locally, forwards it if it is a router, or drops it; strict reverse-path
filtering applies to every IPv4 packet a machine receives. A flow is a request and,
once delivered, its reply from the destination back to the source.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from netcfg.model.host import HostConfig
from netcfg.verify.fib import Entries, Fib, Lookup, Outcome, RpFilter
from netcfg.verify.prefix import format_address

MAX_HOPS = 32  # well below any TTL: a longer path is a loop


class Reason(StrEnum):
    """Why a packet is dropped."""

    NO_ROUTE = "no route"
    LOOP = "loop"
    GATEWAY_NOT_ONLINK = "gateway not on-link"
    NO_NEIGHBOUR = "no neighbour"  # nobody on the segment holds the next hop
    NOT_FORWARDING = "not forwarding"  # handed to a machine that is not a router
    RP_FILTER = "rp_filter"  # strict reverse-path filtering


@dataclass(frozen=True, slots=True)
class Hop:
    """One machine on the way: where the packet came in, what decided, where it goes."""

    machine: str
    iif: str | None  # None where the packet starts
    lookup: Lookup
    segment: str | None = None  # the segment it leaves on
    next_hop: int | None = None


@dataclass(frozen=True, slots=True)
class Leg:
    """One direction of a flow."""

    family: int
    src: int
    dst: int
    hops: tuple[Hop, ...]
    reason: Reason | None = None  # None: delivered to the last hop's machine
    detail: str = ""
    deciding: Lookup | None = None  # for rp_filter: the lookup of the way back that refused it

    @property
    def delivered(self) -> bool:
        return self.reason is None

    @property
    def machines(self) -> tuple[str, ...]:
        return tuple(h.machine for h in self.hops)

    @property
    def at(self) -> str:
        """Where it ended: the machine that delivered or dropped it."""
        return self.hops[-1].machine


@dataclass(frozen=True, slots=True)
class FlowPath:
    request: Leg
    reply: Leg | None  # None when the request was not delivered

    @property
    def delivered(self) -> bool:
        return self.request.delivered and self.reply is not None and self.reply.delivered

    @property
    def dropped(self) -> Leg | None:
        if not self.request.delivered:
            return self.request
        if self.reply is not None and not self.reply.delivered:
            return self.reply
        return None


class Fleet:
    """Every machine's FIB, and who holds which address on which segment."""

    def __init__(
        self,
        fibs: Mapping[str, Fib],
        holders: Mapping[tuple[str, int, int], tuple[str, str]] | None = None,
    ):
        self.fibs = fibs
        # (segment, family, address) -> (machine, interface)
        if holders is None:
            found: dict[tuple[str, int, int], tuple[str, str]] = {}
            for name, fib in fibs.items():
                for iface in fib.interfaces.values():
                    for family, value, _ in iface.addresses:
                        found.setdefault((iface.segment, family, value), (name, iface.name))
            holders = found
        self.holders = holders

    @staticmethod
    def of(configs: Iterable[HostConfig], rp_filter: RpFilter = RpFilter.STRICT) -> Fleet:
        entries = Entries()
        return Fleet({c.name: Fib.of(c, entries, rp_filter) for c in configs})

    @staticmethod
    def lazy(
        configs: Mapping[str, HostConfig],
        holders: Mapping[tuple[str, int, int], tuple[str, str]],
        entries: Entries,
        rp_filter: RpFilter = RpFilter.STRICT,
    ) -> Fleet:
        """A fleet whose FIBs are built when a packet first reaches them."""
        return Fleet(LazyFibs(configs, entries, rp_filter), holders)

    def leg(self, origin: str, family: int, src: int, dst: int) -> Leg:
        """A packet `origin` sends from `src` to `dst`, hop by hop."""
        fib = self.fibs[origin]
        result = fib.lookup(family, dst, src)
        hops: list[Hop] = []
        machine, iif = origin, None
        visited: set[tuple[str, str]] = set()
        for _ in range(MAX_HOPS):
            if result.outcome is Outcome.LOCAL:
                hops.append(Hop(machine, iif, result))
                return Leg(family, src, dst, tuple(hops))
            if result.outcome is not Outcome.UNICAST:
                hops.append(Hop(machine, iif, result))
                return self._drop(family, src, dst, hops, _lookup_reason(result), _lookup_detail(family, result, dst))
            segment = fib.segment(result.device or "")
            hop = result.gateway if result.gateway is not None else dst
            hops.append(Hop(machine, iif, result, segment, hop))
            holder = self.holders.get((segment or "", family, hop))
            if holder is None:
                return self._drop(
                    family,
                    src,
                    dst,
                    hops,
                    Reason.NO_NEIGHBOUR,
                    f"no machine holds {format_address(family, hop)} on segment {segment}",
                )
            if holder in visited:
                return self._drop(family, src, dst, hops, Reason.LOOP, f"back at {holder[0]} on {holder[1]}")
            visited.add(holder)
            machine, iif = holder
            fib = self.fibs[machine]
            result = fib.lookup(family, dst, src, iif=iif)
            if result.outcome is Outcome.LOCAL or result.outcome is Outcome.UNICAST:
                if result.outcome is Outcome.UNICAST and not fib.forwarding:
                    hops.append(Hop(machine, iif, result))
                    return self._drop(
                        family,
                        src,
                        dst,
                        hops,
                        Reason.NOT_FORWARDING,
                        f"{machine} received it for {format_address(family, dst)} and does not forward",
                    )
                ok, back = fib.reverse_path_ok(family, src, dst, iif)
                if not ok:
                    hops.append(Hop(machine, iif, result))
                    detail = rp_detail(family, src, iif, back)
                    return Leg(family, src, dst, tuple(hops), Reason.RP_FILTER, detail, back)
        return self._drop(family, src, dst, hops, Reason.LOOP, f"more than {MAX_HOPS} hops")

    @staticmethod
    def _drop(family: int, src: int, dst: int, hops: list[Hop], reason: Reason, detail: str) -> Leg:
        return Leg(family, src, dst, tuple(hops), reason, detail)

    def flow(self, origin: str, family: int, src: int, dst: int) -> FlowPath:
        """The request, and once it is delivered, the reply from where it arrived."""
        request = self.leg(origin, family, src, dst)
        if not request.delivered:
            return FlowPath(request, None)
        return FlowPath(request, self.leg(request.at, family, dst, src))


class LazyFibs(Mapping[str, Fib]):
    def __init__(self, configs: Mapping[str, HostConfig], entries: Entries, rp_filter: RpFilter):
        self.configs = configs
        self.entries = entries
        self.rp_filter = rp_filter
        self.built: dict[str, Fib] = {}

    def __getitem__(self, name: str) -> Fib:
        found = self.built.get(name)
        if found is None:
            found = self.built[name] = Fib.of(self.configs[name], self.entries, self.rp_filter)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self.configs)

    def __len__(self) -> int:
        return len(self.configs)


def _lookup_reason(result: Lookup) -> Reason:
    return Reason.GATEWAY_NOT_ONLINK if result.outcome is Outcome.GATEWAY_NOT_ONLINK else Reason.NO_ROUTE


def _lookup_detail(family: int, result: Lookup, dst: int) -> str:
    if result.outcome is Outcome.GATEWAY_NOT_ONLINK and result.gateway is not None:
        return f"gateway {format_address(family, result.gateway)} of `{result.route}` is not on-link"
    return f"no rule leads to a route to {format_address(family, dst)}"


def rp_detail(family: int, src: int, iif: str, back: Lookup) -> str:
    if back.outcome is Outcome.UNICAST:
        return f"came in on {iif}, but the route back to {format_address(family, src)} leaves by {back.device}"
    if back.outcome is Outcome.LOCAL:
        return f"came in on {iif} from {format_address(family, src)}, one of its own addresses"
    return f"came in on {iif}, and there is no route back to {format_address(family, src)}"
