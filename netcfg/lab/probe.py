"""`lab check`: real pings between machines of one segment, and which path they took.

The path is read from the routers' own forwarding counters (Ip ForwDatagrams in
/proc/net/snmp, Ip6OutForwDatagrams in /proc/net/snmp6) before and after each ping,
and compared with the path the design promises (`Design.promised_path`): direct, the
routers forward nothing; via the router, they forward the packets. Under
policy-routing every network of a segment is direct; under flat a shared network is
direct and different networks meet at the router. Choosing the probes is pure
(`probes`); sending them is `run`.
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

DIRECT = PathKind.DIRECT
VIA_ROUTER = PathKind.VIA_ROUTER


@dataclass(frozen=True, slots=True)
class Probe:
    segment: str
    family: int
    source: str  # machine
    src: str  # address
    target: str  # machine
    dst: str
    expect: PathKind
    why: str


@dataclass(frozen=True, slots=True)
class ProbeResult:
    probe: Probe
    replied: bool
    forwarded: int  # packets the routers forwarded during the ping

    @property
    def ok(self) -> bool:
        if not self.replied:
            return False
        return self.forwarded == 0 if self.probe.expect == DIRECT else self.forwarded > 0

    def __str__(self) -> str:
        p = self.probe
        verdict = "ok  " if self.ok else "FAIL"
        reply = "reply" if self.replied else "no reply"
        return (
            f"{verdict} {p.segment} {p.source} {p.src} -> {p.target} {p.dst}: {reply}, "
            f"routers forwarded {self.forwarded} (expected {p.expect}: {p.why})"
        )


def probes(inventory: Inventory, configs: Mapping[str, HostConfig], design_name: DesignName | str) -> list[Probe]:
    """Probes of the paths the design promises between machines of one segment: one per
    pair of networks that lab machines have addresses in, and one inside each private
    IPv4 or IPv6 network (the data centre's internal paths), with the design's verdict
    on each (`Design.promised_path`)."""
    design = get_design(design_name)
    # (segment, network cidr) -> (machine, address) in it, machines in name order
    holders: dict[tuple[str, str], list[tuple[str, str]]] = {}
    routed: dict[str, set[str]] = {}  # router -> networks it has a leg in
    for name in sorted(configs):
        config = configs[name]
        for iface in config.interfaces:
            for address in iface.addresses:
                network = _network(inventory, iface.segment, address.ip)
                if network is None:
                    continue
                if config.forwarding:  # routers are the path, not the ends
                    routed.setdefault(name, set()).add(network.cidr)
                else:
                    holders.setdefault((iface.segment, network.cidr), []).append((name, address.ip))
    networks = {n.cidr: n for n in inventory.networks}
    by_segment: dict[str, list[str]] = {}
    for segment, cidr in sorted(holders):
        by_segment.setdefault(segment, []).append(cidr)
    pairs = []
    for segment, cidrs in by_segment.items():
        for i, a in enumerate(cidrs):
            for b in cidrs[i + 1 :]:
                if networks[a].family == networks[b].family:
                    pairs.append((segment, a, b, _pair(holders[(segment, a)], holders[(segment, b)])))
        for cidr in cidrs:
            network = networks[cidr]
            if network.family == 6 or network.private:
                pairs.append((segment, cidr, cidr, _pair(holders[(segment, cidr)], holders[(segment, cidr)][1:])))
    found: list[Probe] = []
    for segment, a, b, pair in pairs:
        if pair is None:
            continue
        (src_m, src), (dst_m, dst) = pair
        expect = design.promised_path(
            Endpoint(src_m, segment, IPAddress(src), networks[a]), Endpoint(dst_m, segment, IPAddress(dst), networks[b])
        )
        if expect is None:
            continue
        if expect is PathKind.VIA_ROUTER and not any({a, b} <= nets for nets in routed.values()):
            # Routers render no routes: only one holding both gateways can carry the
            # packet, so only such pairs are probed.
            continue
        found.append(
            Probe(
                segment,
                networks[a].family,
                src_m,
                src,
                dst_m,
                dst,
                expect,
                _why(design.name, expect, networks[a], networks[b]),
            )
        )
    return found


def _why(design: DesignName, expect: PathKind, a: Network, b: Network) -> str:
    if a == b:
        kind = "IPv6" if a.family == 6 else "private IPv4" if a.private else "one network"
        return f"{design}: {kind} is direct"
    if expect is PathKind.DIRECT:
        return f"{design}: a segment's networks are on-link"
    return f"{design}: different networks meet at the router"


def _network(inventory: Inventory, segment: str, ip: str) -> Network | None:
    return inventory.network_of(IPAddress(ip), segment)


def _pair(left: list[tuple[str, str]], right: list[tuple[str, str]]):
    """Two ends on different machines, if there are any."""
    for a in left:
        for b in right:
            if a[0] != b[0]:
                return a, b
    return None


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
