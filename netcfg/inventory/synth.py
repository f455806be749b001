"""Synthetic inventories: the bundled data centre's shape at any size, byte-for-byte
reproducible from (machines, networks, seed), for tests and benchmarks.

Shape: segments fe, srv, mgm; many small public IPv4 networks of varied sizes on fe
that never aggregate (the policy-routing pain), one fe IPv6 /64, a private /16 and an
IPv6 /64 on srv, a private /16 on mgm; two routers carrying every gateway; about one KVM
host per 20 VMs, each filled to at most two thirds so hosts can be evacuated; a few
physical hosts; VMs grouped into services.

Determinism: everything random comes from one random.Random(seed), drawn in a fixed
order over lists (never sets), and no clock is read, so the same arguments give the
same bytes on every run and every Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from heapq import heapify, heapreplace
from pathlib import Path
from random import Random

from netaddr import IPAddress, IPNetwork

from netcfg.errors import InputError
from netcfg.files import contained, refuse_links_out, write_atomic
from netcfg.limits import MAX_MACHINES, MAX_NETWORKS, MIN_MACHINES, MIN_NETWORKS
from netcfg.problems import Location, Problem

# The files synth writes (and may remove again when they are no longer produced).
SYNTH_FILE = re.compile(r"(segments|networks|policy)\.yaml|machines/(routers|hypervisors|physical|vms-[0-9]{3,})\.yaml")
MACHINES_PER_FILE = 1_000  # small files load faster and diff more readably
VMS_PER_HOST = 20
FILL = 0.66  # at most this share of a host's memory is used: evacuations must fit
MARKER = ".netcfg-synth"  # lists the files synth wrote, so a re-run may replace them

# Public IPv4 pools, in order of preference. The documentation ranges (RFC 5737) hold
# only a few dozen small networks, so large fleets continue in the benchmarking range
# (RFC 2544, 198.18.0.0/15: reserved, never routed, room for thousands of networks) and
# only if that is exhausted in the shared address space (RFC 6598). Correctness of the
# synthetic fleet matters more than the purity of its ranges.
PUBLIC_POOLS = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15", "100.64.0.0/10")
# Every machine has a private address on srv and mgm: a /16 each up to 65,525 machines
# (the bytes of smaller fleets never change), a /12 each beyond, up to a million.
SRV4, SRV4_LARGE = IPNetwork("10.20.0.0/16"), IPNetwork("10.16.0.0/12")
MGM4, MGM4_LARGE = IPNetwork("10.40.0.0/16"), IPNetwork("10.32.0.0/12")
FE6 = IPNetwork("2001:db8:10::/64")
SRV6 = IPNetwork("2001:db8:20::/64")
FIRST_HOST = 10  # .1 is the gateway, .2-.9 are left to the routers

HOST_MEMORY = (128, 192, 256, 256, 384, 384, 384, 512, 512)  # GiB, drawn uniformly
VM_MEMORY = ((2, 25), (4, 30), (8, 25), (16, 12), (32, 5), (64, 2), (128, 1))  # (GiB, weight)


@dataclass(frozen=True, slots=True)
class Profile:
    """A kind of service: whether its VMs face the public (fe), how fast they dirty
    memory (MiB/s), how common it is, and whether it uses the private network."""

    name: str
    public: bool
    dirty: tuple[int, int]
    weight: int
    private: bool = True


PROFILES = (
    Profile("web", True, (5, 40), 25),
    Profile("shop", True, (10, 60), 10),
    Profile("mail", True, (5, 30), 8),
    Profile("dns", True, (1, 5), 4),
    Profile("cust", True, (2, 40), 28, private=False),  # hosting customers: public only
    Profile("db", False, (20, 250), 8),
    Profile("cache", False, (50, 200), 5),
    Profile("search", False, (20, 100), 4),
    Profile("ci", False, (10, 80), 5),
    Profile("backup", False, (5, 20), 3),
)
SLOW_LINK_DIRTY = 40  # MiB/s: a VM on a 1 Gbit/s host dirties at most this (it must converge)
SERVICE_SIZE = 10  # VMs per service group


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    memory_gib: int
    nic_gbit: int


@dataclass(frozen=True, slots=True)
class Vm:
    name: str
    profile: Profile
    service: str
    memory_gib: int
    host: str
    dirty_mib_s: int


def check_arguments(machines: int, networks: int) -> None:
    problems = []
    if not MIN_MACHINES <= machines <= MAX_MACHINES:
        problems.append(f"--machines must be between {MIN_MACHINES} and {MAX_MACHINES:,}, not {machines}")
    if not MIN_NETWORKS <= networks <= MAX_NETWORKS:
        problems.append(f"--networks must be between {MIN_NETWORKS} and {MAX_NETWORKS:,}, not {networks}")
    if problems:
        raise InputError("; ".join(problems))


def synth_texts(machines: int, networks: int, seed: int) -> dict[str, str]:
    """The files of a synthetic inventory: relative path -> YAML text, in path order."""
    check_arguments(machines, networks)
    rng = Random(seed)
    n_physical = max(1, machines // 200)
    rest = machines - 2 - n_physical
    sizes = _vm_sizes(rng, rest)  # drawn for every possible VM; hosts take the tail
    hosts = _hosts(rng, rest, sizes)
    vms = _vms(rng, sizes[: rest - len(hosts)], hosts)
    physical = [f"phys{i:0{_width(n_physical)}d}" for i in range(1, n_physical + 1)]

    n_public = max(1, networks - 4)
    public_users = len(hosts) + len(physical) + sum(1 for vm in vms if vm.profile.public)
    public = _public_networks(rng, n_public, public_users)
    with_srv6 = networks >= 5

    fits = machines + FIRST_HOST < SRV4.size - 1
    alloc = _Allocator(public, SRV4 if fits else SRV4_LARGE, MGM4 if fits else MGM4_LARGE)
    files = {
        "segments.yaml": _segments_text(),
        "networks.yaml": _networks_text(public, with_srv6, machines, networks, seed, alloc),
        "policy.yaml": _policy_text(),
        "machines/routers.yaml": _routers_text(public, with_srv6, alloc),
        "machines/hypervisors.yaml": _section(
            "KVM hypervisors: memory_gib is the capacity for VMs, nic_gbit the migration link.",
            (_host_line(h, alloc) for h in hosts),
        ),
        "machines/physical.yaml": _section(
            "Physical hosts (load balancers, storage).",
            (_physical_line(name, alloc) for name in physical),
        ),
    }
    digits = max(3, len(str(-(-len(vms) // MACHINES_PER_FILE))))  # files sort in machine order
    for index, start in enumerate(range(0, len(vms), MACHINES_PER_FILE), start=1):
        chunk = vms[start : start + MACHINES_PER_FILE]
        files[f"machines/vms-{index:0{digits}d}.yaml"] = _section(
            f"VMs {start + 1}-{start + len(chunk)} of {len(vms)}.",
            (_vm_line(vm, alloc, with_srv6) for vm in chunk),
        )
    return dict(sorted(files.items()))


def write_synth(out_dir: str | Path, machines: int, networks: int, seed: int) -> list[Path]:
    """Write a synthetic inventory into out_dir (created if needed); returns the files.

    Refuses a non-empty directory that synth did not write (it would merge with foreign
    YAML); a directory it wrote before is replaced, stale files included."""
    out = Path(out_dir)
    refuse_links_out(out, itself=True)
    texts = synth_texts(machines, networks, seed)
    try:
        return _write(out, texts)
    except OSError as error:
        raise InputError([Problem(Location(str(out)), f"cannot write: {error.strerror or error}")]) from None


def _write(out: Path, texts: dict[str, str]) -> list[Path]:
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a directory")
    previous: list[str] = []
    if out.is_dir() and any(out.iterdir()):
        marker = out / MARKER
        if not marker.is_file():
            raise InputError(
                f"{out} is not empty and was not written by netcfg synth; choose an empty or new directory"
            )
        if marker.is_symlink():
            raise InputError(f"{marker} is a symbolic link: not synth's")
        previous = marker.read_text().split()
    out.mkdir(parents=True, exist_ok=True)
    # Listed before anything is written: a run cut short leaves a directory that the next
    # one recognises as synth's and replaces.
    write_atomic(contained(out, MARKER), "".join(f"{rel}\n" for rel in sorted({*previous, *texts})).encode())
    checked: set[str] = set()
    for stale in previous:
        # Only names synth writes, inside out/: the marker is a file anyone may edit.
        if stale not in texts and SYNTH_FILE.fullmatch(stale):
            try:
                contained(out, stale, checked).unlink(missing_ok=True)
            except InputError:
                continue  # behind a link now: not ours to delete
    written = []
    for rel, text in texts.items():
        path = contained(out, rel, checked)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text.encode())
        written.append(path)
    write_atomic(contained(out, MARKER), "".join(f"{rel}\n" for rel in texts).encode())
    return written


# ---------------------------------------------------------------- the fleet


def _width(count: int) -> int:
    return max(2, len(str(count)))


def _vm_sizes(rng: Random, count: int) -> list[int]:
    sizes = [size for size, _ in VM_MEMORY]
    weights = [weight for _, weight in VM_MEMORY]
    return rng.choices(sizes, weights, k=count)


def _hosts(rng: Random, rest: int, sizes: list[int]) -> list[Host]:
    """About one host per VMS_PER_HOST VMs, more until their memory up to FILL holds
    the VMs' memory with a 10 % margin (small fleets vary a lot). `rest` = hosts + VMs."""
    count = max(2, round(rest / (VMS_PER_HOST + 1)))
    drawn: list[tuple[int, int]] = []
    while True:
        while len(drawn) < count:
            memory = rng.choice(HOST_MEMORY)
            # Old, small hosts have 1 Gbit/s links; a third of the others too.
            drawn.append((memory, 1 if memory <= 192 or rng.random() < 0.3 else 10))
        room = sum(memory * FILL for memory, _ in drawn)
        if room >= 1.1 * sum(sizes[: rest - count]) or count >= rest // 2:
            break
        count += 1
    width = _width(count)
    return [Host(f"kvm{i:0{width}d}", m, nic) for i, (m, nic) in enumerate(drawn, start=1)]


def _vms(rng: Random, sizes: list[int], hosts: list[Host]) -> list[Vm]:
    """VMs placed worst-fit (on the host with the most room left under FILL), halved
    when even that host has too little room (large VMs fragment), so every host keeps
    spare capacity. _hosts sized the fleet so that total room is never exhausted."""
    profile_weights = [p.weight for p in PROFILES]
    # heap of (-room, index): room is what FILL still allows on the host
    heap = [(-(h.memory_gib * FILL), i) for i, h in enumerate(hosts)]
    heapify(heap)
    counters = {p.name: 0 for p in PROFILES}
    width = _width(len(sizes))
    vms = []
    for memory in sizes:
        profile = rng.choices(PROFILES, profile_weights)[0]
        dirty = rng.randint(*profile.dirty)
        room, index = heap[0]
        room = -room
        while memory > room and memory > 2:
            memory //= 2
        if memory > room + hosts[index].memory_gib * (1 - FILL):
            # _hosts sized the fleet with a margin: this cannot happen
            raise AssertionError("synthetic VMs exceed their hosts' memory")
        heapreplace(heap, (-(room - memory), index))
        host = hosts[index]
        if host.nic_gbit == 1:
            dirty = min(dirty, SLOW_LINK_DIRTY)
        counters[profile.name] += 1
        number = counters[profile.name]
        service = f"{profile.name}{(number - 1) // SERVICE_SIZE + 1}"
        vms.append(Vm(f"{profile.name}{number:0{width}d}", profile, service, memory, host.name, dirty))
    return vms


# ---------------------------------------------------------------- addresses


def _public_networks(rng: Random, count: int, users: int) -> list[IPNetwork]:
    """`count` public IPv4 networks of varied sizes holding at least `users` addresses
    besides their gateways, none adjacent to a sibling (so none aggregate)."""
    weights = [rng.choice((1, 1, 2, 2, 3, 4, 6, 8)) for _ in range(count)]
    total = sum(weights)
    cursors = [IPNetwork(p).first for p in PUBLIC_POOLS]
    nets = []
    for weight in weights:
        need = -(-users * weight // total) + 3  # room for network, broadcast and gateway
        length = 29
        while (1 << (32 - length)) < need:
            length -= 1
        if length > 26 and rng.random() < 0.3:
            length -= 1  # some networks are simply bigger than needed: generations vary
        nets.append(_carve(cursors, length))
    return nets


def _carve(cursors: list[int], length: int) -> IPNetwork:
    """The next block of /length from the first pool with room. Blocks are aligned to
    twice their size and the sibling half is skipped, so no two blocks ever merge."""
    size = 1 << (32 - length)
    for i, pool in enumerate(PUBLIC_POOLS):
        start = -(-cursors[i] // (2 * size)) * (2 * size)
        if start + 2 * size - 1 <= IPNetwork(pool).last:
            cursors[i] = start + 2 * size
            return IPNetwork(f"{IPAddress(start)}/{length}")
    raise InputError("too many public networks for the synthetic address plan; use fewer --networks")


class _Allocator:
    """Hands out addresses in a fixed order: public ones cycling over the fe networks
    (skipping full ones), private and IPv6 ones sequentially."""

    def __init__(self, public: list[IPNetwork], srv4: IPNetwork, mgm4: IPNetwork):
        self.srv4, self.mgm4 = srv4, mgm4
        self._public = public
        self._next = [n.first + 2 for n in public]  # .1 is the gateway
        self._turn = 0
        self._index = FIRST_HOST

    def public(self) -> str:
        for _ in range(len(self._public)):
            i = self._turn
            self._turn = (self._turn + 1) % len(self._public)
            if self._next[i] < self._public[i].last:  # never the broadcast address
                self._next[i] += 1
                return str(IPAddress(self._next[i] - 1))
        raise InputError("the synthetic public networks are full (a bug in synth)")

    def machine(self) -> int:
        """The next machine index: one per machine, used for its private addresses."""
        self._index += 1
        return self._index - 1


def _v4(network: IPNetwork, index: int) -> str:
    return str(IPAddress(network.first + index))


def _v6(network: IPNetwork, index: int) -> str:
    return f'"{IPAddress(network.first + index, 6)}"'


def _gateway(network: IPNetwork) -> str:
    address = IPAddress(network.first + 1, network.version)
    return f'"{address}"' if network.version == 6 else str(address)


def _iface(segment: str, addresses: list[str]) -> str:
    return f"{segment}: {{addresses: [{', '.join(addresses)}]}}"


# ---------------------------------------------------------------- YAML text


def _section(comment: str, lines: Iterator[str]) -> str:
    body = "\n".join(f"  {line}" for line in lines)
    return f"# {comment}\nmachines:\n{body}\n" if body else f"# {comment}\nmachines: {{}}\n"


def _segments_text() -> str:
    return (
        "# Synthetic inventory written by `netcfg synth`: three segments as in the bundled one.\n"
        "segments:\n"
        "  fe:  {table: 2, priority: 20, description: frontend}\n"
        "  srv: {table: 3, priority: 30, description: server}\n"
        "  mgm: {table: 4, priority: 40, description: management}\n"
    )


def _networks_text(
    public: list[IPNetwork], with_srv6: bool, machines: int, networks: int, seed: int, alloc: _Allocator
) -> str:
    srv4, mgm4 = alloc.srv4, alloc.mgm4
    lines = [
        f"# netcfg synth --machines {machines} --networks {networks} --seed {seed}",
        "# Public fe networks come from the documentation ranges (RFC 5737), then the",
        "# benchmarking range 198.18.0.0/15 (RFC 2544), then 100.64.0.0/10 (RFC 6598) only",
        "# when a fleet needs more. None is the sibling of another: they never aggregate.",
        "networks:",
    ]
    for net in public:
        lines.append(f"  - {{prefix: {net}, segment: fe, gateway: {_gateway(net)}}}")
    lines.append(f'  - {{prefix: "{FE6}", segment: fe, gateway: {_gateway(FE6)}}}')
    lines.append(f"  - {{prefix: {srv4}, segment: srv, gateway: {_gateway(srv4)}, private: true}}")
    if with_srv6:
        lines.append(f'  - {{prefix: "{SRV6}", segment: srv, gateway: {_gateway(SRV6)}}}')
    lines.append(f"  - {{prefix: {mgm4}, segment: mgm, gateway: {_gateway(mgm4)}, private: true}}")
    return "\n".join(lines) + "\n"


def _policy_text() -> str:
    return (
        "policy:\n"
        "  design: policy-routing\n"
        "  reconfigure: live\n"
        "  seatbelt: {max_fraction: 0.25, max_hosts: 50, stagger_above: 5}\n"
        "  rollout: {max_parallel_evacuations: 2, max_migrations_per_host: 2,\n"
        "            migration_efficiency: 0.8, reconfigure_s: 60, soak_s: 300}\n"
    )


def _routers_text(public: list[IPNetwork], with_srv6: bool, alloc: _Allocator) -> str:
    """rt01 serves every other fe network from the first, and private IPv4; rt02 the
    other fe networks and IPv6. Every gateway is on exactly one router interface."""
    rt1_fe = [_gateway(n) for n in public[0::2]]
    rt2_fe = [_gateway(n) for n in public[1::2]] + [_gateway(FE6)]
    srv4, mgm4 = alloc.srv4, alloc.mgm4
    rt2_srv = [_v4(srv4, 2)] + ([_gateway(SRV6)] if with_srv6 else [])
    rt1 = [_iface("fe", rt1_fe), _iface("srv", [_gateway(srv4)]), _iface("mgm", [_gateway(mgm4)])]
    rt2 = [_iface("fe", rt2_fe), _iface("srv", rt2_srv), _iface("mgm", [_v4(mgm4, 2)])]
    return _section(
        "Routers: they carry the gateway addresses of the networks they serve.",
        iter(
            [
                f"rt01: {{kind: router, interfaces: {{{', '.join(rt1)}}}}}",
                f"rt02: {{kind: router, interfaces: {{{', '.join(rt2)}}}}}",
            ]
        ),
    )


def _host_line(host: Host, alloc: _Allocator) -> str:
    i = alloc.machine()
    ifaces = [
        _iface("fe", [alloc.public()]),
        _iface("srv", [_v4(alloc.srv4, i)]),
        _iface("mgm", [_v4(alloc.mgm4, i)]),
    ]
    return (
        f"{host.name}: {{kind: kvm-host, memory_gib: {host.memory_gib}, nic_gbit: {host.nic_gbit},"
        f" interfaces: {{{', '.join(ifaces)}}}}}"
    )


def _physical_line(name: str, alloc: _Allocator) -> str:
    i = alloc.machine()
    ifaces = [
        _iface("fe", [alloc.public(), _v6(FE6, i)]),
        _iface("srv", [_v4(alloc.srv4, i)]),
        _iface("mgm", [_v4(alloc.mgm4, i)]),
    ]
    return f"{name}: {{kind: physical, interfaces: {{{', '.join(ifaces)}}}}}"


def _vm_line(vm: Vm, alloc: _Allocator, with_srv6: bool) -> str:
    i = alloc.machine()
    ifaces = []
    if vm.profile.public:
        ifaces.append(_iface("fe", [alloc.public(), _v6(FE6, i)]))
    if vm.profile.private:
        ifaces.append(_iface("srv", [_v4(alloc.srv4, i)] + ([_v6(SRV6, i)] if with_srv6 else [])))
    return (
        f"{vm.name}: {{kind: vm, host: {vm.host}, memory_gib: {vm.memory_gib},"
        f" dirty_mib_s: {vm.dirty_mib_s}, service: {vm.service}, interfaces: {{{', '.join(ifaces)}}}}}"
    )
