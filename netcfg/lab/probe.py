"""`lab check`: real pings between machines of one segment, and which path they took.

The path is read from the routers' own forwarding counters (Ip ForwDatagrams in
/proc/net/snmp, Ip6OutForwDatagrams in /proc/net/snmp6) before and after each ping,
and compared with what the forwarding model (`netcfg.verify`) expects of that very
flow: a reply or none, and whether a router forwards it (the request or the reply),
the router included. The design's promise (`Design.promised_path`) is said beside
it. Under policy-routing every network of a segment is direct; under flat a shared
network is direct and different networks meet at the router; in a fleet half
migrated, a flat machine reaches a policy-routing one through the router and the
answer comes back direct. Choosing the probes is pure (`probes`); sending them is
`run`.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from netaddr import IPAddress

from netcfg.designs import Endpoint, PathKind, get_design
from netcfg.errors import InputError
from netcfg.model.host import DesignName, HostConfig
from netcfg.model.inventory import Inventory, Network
from netcfg.verify.path import Fleet

DIRECT = PathKind.DIRECT
VIA_ROUTER = PathKind.VIA_ROUTER
DROPPED_PROBES = 4  # probes the model expects no reply to: each waits for its timeout


@dataclass(frozen=True, slots=True)
class Probe:
    segment: str
    family: int
    source: str  # machine
    src: str  # address
    target: str  # machine
    dst: str
    expect: PathKind | None  # what the model expects: direct, via-router, or None (no reply)
    why: str

    @property
    def expected(self) -> str:
        return "no reply" if self.expect is None else str(self.expect)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    probe: Probe
    replied: bool
    forwarded: int  # packets the routers forwarded during the ping

    @property
    def ok(self) -> bool:
        if self.probe.expect is None:
            return not self.replied
        if not self.replied:
            return False
        return self.forwarded == 0 if self.probe.expect == DIRECT else self.forwarded > 0

    def __str__(self) -> str:
        p = self.probe
        verdict = "ok  " if self.ok else "FAIL"
        reply = "reply" if self.replied else "no reply"
        return (
            f"{verdict} {p.segment} {p.source} {p.src} -> {p.target} {p.dst}: {reply}, "
            f"routers forwarded {self.forwarded} (expected {p.expected}: {p.why})"
        )


def probes(inventory: Inventory, configs: Mapping[str, HostConfig]) -> list[Probe]:
    """Probes between machines of one segment: one per pair of networks that lab
    machines have addresses in, and one inside each private IPv4 or IPv6 network (the
    data centre's internal paths); where the fleet is mixed, one more each way between
    machines of different designs. Each expects what the forwarding model says of that
    flow; a few the model expects dropped are sent too (they wait for a timeout)."""
    # (segment, network cidr) -> (machine, address) in it, machines in name order
    holders: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for name in sorted(configs):
        config = configs[name]
        if config.forwarding:  # routers are the path, not the ends
            continue
        for iface in config.interfaces:
            for address in iface.addresses:
                network = _network(inventory, iface.segment, address.ip)
                if network is not None:
                    holders.setdefault((iface.segment, network.cidr), []).append((name, address.ip))
    networks = {n.cidr: n for n in inventory.networks}
    by_segment: dict[str, list[str]] = {}
    for segment, cidr in sorted(holders):
        by_segment.setdefault(segment, []).append(cidr)
    design_of = {name: c.design for name, c in configs.items()}
    pairs: list[tuple[str, str, str, tuple[str, str], tuple[str, str]]] = []
    for segment, cidrs in by_segment.items():
        for i, a in enumerate(cidrs):
            for b in cidrs[i + 1 :]:
                if networks[a].family == networks[b].family:
                    for pair in _pairs(holders[(segment, a)], holders[(segment, b)], design_of):
                        pairs.append((segment, a, b, *pair))
        for cidr in cidrs:
            network = networks[cidr]
            if network.family == 6 or network.private:
                for pair in _pairs(holders[(segment, cidr)], holders[(segment, cidr)][1:], design_of):
                    pairs.append((segment, cidr, cidr, *pair))
    fleet = Fleet.of(configs.values())
    found: list[Probe] = []
    dropped = 0
    for segment, a, b, (src_m, src), (dst_m, dst) in pairs:
        family = networks[a].family
        path = fleet.flow(src_m, family, IPAddress(src).value, IPAddress(dst).value)
        routers = {m for leg in (path.request, path.reply) if leg for m in leg.machines[1:-1]}
        if not path.delivered:
            if dropped >= DROPPED_PROBES:
                continue
            dropped += 1
            expect = None
        else:
            expect = VIA_ROUTER if routers else DIRECT
        promised = _promise(design_of[src_m], design_of[dst_m], segment, networks[a], networks[b], src, dst)
        found.append(
            Probe(segment, family, src_m, src, dst_m, dst, expect, _why(path, promised, networks[a], networks[b]))
        )
    return found


def _promise(d1: DesignName, d2: DesignName, segment: str, a: Network, b: Network, src: str, dst: str) -> str:
    ends = (Endpoint("", segment, IPAddress(src), a), Endpoint("", segment, IPAddress(dst), b))
    first = get_design(d1).promised_path(*ends)
    second = get_design(d2).promised_path(*ends)
    if d1 == d2:
        return f"{d1} promises {first}"
    return f"{d1} -> {d2}: " + (f"both promise {first}" if first == second else "mixed designs promise nothing")


def _why(path: object, promised: str, a: Network, b: Network) -> str:
    from netcfg.verify.path import FlowPath

    assert isinstance(path, FlowPath)
    if a == b:
        kind = "IPv6" if a.family == 6 else "private IPv4" if a.private else "one network"
        where = f"{kind} is direct" if path.delivered and not _crossed(path) else f"{kind}"
    elif path.delivered:
        where = "different networks meet at the router" if _crossed(path) else "a segment's networks are on-link"
    else:
        leg = path.dropped
        assert leg is not None
        where = f"dropped at {leg.at}: {leg.reason}"
    return f"{where}; {promised}"


def _crossed(path: object) -> bool:
    from netcfg.verify.path import FlowPath

    assert isinstance(path, FlowPath)
    return any(leg is not None and len(leg.machines) > 2 for leg in (path.request, path.reply))


def _network(inventory: Inventory, segment: str, ip: str) -> Network | None:
    return inventory.network_of(IPAddress(ip), segment)


def _pairs(
    left: list[tuple[str, str]], right: list[tuple[str, str]], design_of: Mapping[str, DesignName]
) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Two ends on different machines; and where their designs differ, one more pair
    each way between machines of different designs."""
    found: list[tuple[tuple[str, str], tuple[str, str]]] = []
    for a in left:
        for b in right:
            if a[0] != b[0]:
                found.append((a, b))
                break
        if found:
            break
    seen = {(design_of[a[0]], design_of[b[0]]) for a, b in found}
    for a in left:
        for b in right:
            designs = (design_of[a[0]], design_of[b[0]])
            if a[0] != b[0] and designs[0] != designs[1] and designs not in seen:
                seen.add(designs)
                found.append((a, b))
    return found


def forwarded(netns: str) -> int:
    """Packets this namespace has forwarded, IPv4 and IPv6."""
    text = subprocess.run(
        ["ip", "netns", "exec", netns, "cat", "/proc/net/snmp", "/proc/net/snmp6"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return forwarded_from(text)


def forwarded_from(text: str) -> int:
    """ForwDatagrams (from the two `Ip:` lines) plus Ip6OutForwDatagrams."""
    total = 0
    ip_lines = [line.split() for line in text.splitlines() if line.startswith("Ip: ")]
    if len(ip_lines) >= 2:
        header, values = ip_lines[0], ip_lines[1]
        if "ForwDatagrams" in header:
            total += int(values[header.index("ForwDatagrams")])
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "Ip6OutForwDatagrams":
            total += int(parts[1])
    return total


def ping(netns: str, src: str, dst: str) -> bool:
    result = subprocess.run(
        ["ip", "netns", "exec", netns, "ping", "-n", "-q", "-c", "1", "-W", "1", "-I", src, dst],
        capture_output=True,
        text=True,
    )
    return result.returncode == 0


def run(
    planned: list[Probe],
    machines: Mapping[str, str],
    routers: list[str],
    say: Callable[[str], None] = lambda _: None,
) -> list[ProbeResult]:
    if shutil.which("ping") is None:
        # Without it every probe would read as "no reply": a missing tool, not a path.
        raise InputError("lab check sends real pings, and ping is not installed (apt-get install iputils-ping)")
    results = []
    for probe in planned:
        before = sum(forwarded(machines[r]) for r in routers)
        replied = ping(machines[probe.source], probe.src, probe.dst)
        after = sum(forwarded(machines[r]) for r in routers)
        result = ProbeResult(probe, replied, after - before)
        say(str(result))
        results.append(result)
    return results
