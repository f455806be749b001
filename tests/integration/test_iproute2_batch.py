"""Every machine's iproute2 files, loaded by the real `ip -batch` into a fresh network
namespace holding the machine's links (as a real host has them), read back (`ip -j rule`,
`ip -j route show table all`, `ip -j addr`) equal to the model. Both designs, the whole
bundled inventory.

The kernel adds state of its own, filtered out before comparing: the local/main/default
rules, routes of any protocol but 77 (kernel connected routes, IPv6 link-local and
multicast, the local table), and link-local addresses.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from netaddr import IPAddress, IPNetwork

from netcfg.designs import render as render_design
from netcfg.formats import render_host, templates
from netcfg.inventory.load import load_inventory
from netcfg.model.host import MAIN_TABLE, PROTOCOL, HostConfig, Kind, Route, Rule, default_prefix
from netcfg.model.inventory import Interface, Inventory, Machine, Network, Segment
from netcfg.testing.compare import sort_key
from tests.requirements import needs

pytestmark = needs("ip", root=True)

INVENTORY = Path(__file__).resolve().parents[2] / "inventory"
TABLE_NAMES = {"main": 254, "local": 255, "default": 253}
KERNEL_RULES = {(0, 255), (32766, 254), (32767, 253)}  # (priority, table), from all


def ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def ip_json(*args: str) -> list[dict]:
    return json.loads(ip("-j", *args) or "[]")


def _prefix(address: str, length: int | None, family: int) -> str:
    full = 32 if family == 4 else 128
    return str(IPNetwork(f"{address}/{full if length is None else length}").cidr)


def _table(value: str | int | None) -> int:
    if value is None:
        return MAIN_TABLE
    return TABLE_NAMES.get(str(value)) or int(value)


def read_rules(ns: str, family: int) -> list[Rule]:
    rules = []
    for r in ip_json("-n", ns, f"-{family}", "rule"):
        table = _table(r.get("table"))
        if r.get("src") == "all" and "dst" not in r and (r["priority"], table) in KERNEL_RULES:
            continue  # the kernel's own rules
        src = None if r.get("src") in (None, "all") else _prefix(r["src"], r.get("srclen"), family)
        dst = None if r.get("dst") in (None, "all") else _prefix(r["dst"], r.get("dstlen"), family)
        rules.append(Rule(family, r["priority"], table, src=src, dst=dst))
    return rules


def read_routes(ns: str, family: int) -> list[Route]:
    routes = []
    for r in ip_json("-n", ns, f"-{family}", "route", "show", "table", "all"):
        if r.get("protocol") != str(PROTOCOL):
            continue  # kernel connected, link-local, multicast, local table: not ours
        if r["dst"] == "default":
            dst = default_prefix(family)
        else:
            address, _, length = r["dst"].partition("/")
            dst = _prefix(address, int(length) if length else None, family)
        gateway = r.get("gateway")
        routes.append(
            Route(
                family=family,
                table=_table(r.get("table")),
                dst=dst,
                gateway=gateway,
                # The kernel names the device of every route; the model only of on-link ones.
                device=None if gateway else r.get("dev"),
                scope=r.get("scope", "global"),
                metric=r.get("metric"),
                protocol=int(r["protocol"]),
            )
        )
    return routes


def read_addresses(ns: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for link in ip_json("-n", ns, "addr", "show"):
        for a in link.get("addr_info", []):
            if a.get("scope") == "global":
                found.setdefault(link["ifname"], []).append(str(IPNetwork(f"{a['local']}/{a['prefixlen']}")))
    return {k: sorted(v) for k, v in found.items()}


def expected_kernel_view(config: HostConfig) -> tuple[list[Rule], list[Route]]:
    """The model as the kernel reports it: IPv6 routes have no scope, and an IPv6 route
    without a metric gets the kernel's default 1024."""
    routes = []
    for r in config.routes:
        if r.family == 6:
            r = replace(r, scope="global", metric=1024 if r.metric is None else r.metric)
        routes.append(r)
    return sorted(config.rules, key=sort_key), sorted(routes, key=sort_key)


def make_links(ns: str, config: HostConfig) -> None:
    """The links the machine has, as on a real host (the batch files configure them,
    they do not create them): a bridge where the render says so, else a veth whose
    peer is up, so the link has a carrier."""
    subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            ns,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_dad=0",
        ],
        check=True,
    )
    for n, iface in enumerate(config.interfaces):
        if iface.bridge:
            ip("-n", ns, "link", "add", "name", iface.name, "type", "bridge")
        else:
            ip("-n", ns, "link", "add", "name", iface.name, "type", "veth", "peer", "name", f"peer{n}")
            ip("-n", ns, "link", "set", f"peer{n}", "up")


def load_and_compare(config: HostConfig, files: dict[str, str]) -> str:
    """Load one machine into its own namespace; '' when it matches, else the mismatch."""
    ns = f"nctest-{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for rel, text in files.items():
            path = Path(tmp) / Path(rel).name
            path.write_text(text)
            paths[rel] = path
        main = paths[f"iproute2/{config.name}.batch"]
        six = paths[f"iproute2/{config.name}.6.batch"]
        ip("netns", "add", ns)
        try:
            make_links(ns, config)
            ip("-n", ns, "-batch", str(main))
            ip("-n", ns, "-6", "-batch", str(six))
            rules = sorted(read_rules(ns, 4) + read_rules(ns, 6), key=sort_key)
            routes = sorted(read_routes(ns, 4) + read_routes(ns, 6), key=sort_key)
            addresses = read_addresses(ns)
        finally:
            ip("netns", "del", ns)
    want_rules, want_routes = expected_kernel_view(config)
    want_addresses = {i.name: sorted(a.address for a in i.addresses) for i in config.interfaces if i.addresses}
    problems = []
    if rules != want_rules:
        problems.append(f"rules: kernel {set(rules) ^ set(want_rules)} differ")
    if routes != want_routes:
        problems.append(
            f"routes: kernel-only {set(routes) - set(want_routes)}, missing {set(want_routes) - set(routes)}"
        )
    if addresses != want_addresses:
        problems.append(f"addresses: {addresses} != {want_addresses}")
    return f"{config.name}: " + "; ".join(problems) if problems else ""


def check_fleet(configs: dict[str, HostConfig]) -> None:
    compiled = templates()
    jobs = [(c, render_host(c, ["iproute2"], compiled)) for c in configs.values()]
    # Namespaces are independent: load them concurrently to keep the fleet fast.
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda job: load_and_compare(*job), jobs))
    failures = [r for r in results if r]
    assert not failures, f"{len(failures)} of {len(jobs)} machines differ:\n" + "\n".join(failures[:5])


@pytest.mark.parametrize("design", ["policy-routing", "flat"])
def test_bundled_fleet_loads_into_namespaces(design):
    inventory = load_inventory(INVENTORY)
    configs = render_design(inventory, design)
    assert len(configs) == len(inventory.machines) > 100
    check_fleet(configs)


def test_hand_built_inventory_with_ipv6_only_segment():
    """Edge cases the bundled data may not have: a VM with only IPv6 on a segment, an
    interface without addresses, a physical host with several networks of one segment,
    a KVM host's bridge, a router."""
    segments = [Segment("fe", 2, 20), Segment("v6", 5, 50)]
    networks = [
        Network(IPNetwork("192.0.2.0/26"), "fe", IPAddress("192.0.2.1")),
        Network(IPNetwork("198.51.100.0/28"), "fe", IPAddress("198.51.100.1")),
        Network(IPNetwork("2001:db8:5::/64"), "v6", IPAddress("2001:db8:5::1")),
        Network(IPNetwork("2001:db8:6::/64"), "v6", IPAddress("2001:db8:6::1")),
    ]
    machines = [
        Machine("a", Kind.VM, (Interface("v6", "ethv6", (IPAddress("2001:db8:6::a"),)),)),
        Machine("e", Kind.VM, (Interface("fe", "ethfe", ()),)),  # no address yet
        Machine("k", Kind.KVM_HOST, (Interface("fe", "brfe", (IPAddress("192.0.2.7"),)),)),
        Machine(
            "b",
            Kind.PHYSICAL,
            (Interface("fe", "ethfe", (IPAddress("192.0.2.5"), IPAddress("198.51.100.5"))),),
        ),
        Machine(
            "r",
            Kind.ROUTER,
            (
                Interface("fe", "ethfe", (IPAddress("192.0.2.1"),)),
                Interface("v6", "ethv6", (IPAddress("2001:db8:5::1"),)),
            ),
        ),
    ]
    inventory = Inventory.build(segments, networks, machines)
    for design in ("policy-routing", "flat"):
        check_fleet(render_design(inventory, design))


def test_interface_names_that_are_ip_keywords_load():
    """`link set up up` is `ip`'s syntax error: every line names its link after `dev` or
    `name`, so any name the kernel takes works (with and without --create-links)."""
    segments = [Segment("fe", 2, 20)]
    networks = [Network(IPNetwork("192.0.2.0/24"), "fe", IPAddress("192.0.2.1"))]
    keywords = ("up", "type", "dev", "name", "help", "mtu", "alias", "group")
    machines = [Machine("r", Kind.ROUTER, (Interface("fe", "link", (IPAddress("192.0.2.1"),)),))]
    machines += [
        Machine(f"m{n}", Kind.PHYSICAL, (Interface("fe", word, (IPAddress(f"192.0.2.{n + 10}"),)),))
        for n, word in enumerate(keywords)
    ]
    machines.append(Machine("k", Kind.KVM_HOST, (Interface("fe", "type", (IPAddress("192.0.2.9"),)),)))
    configs = render_design(Inventory.build(segments, networks, machines), "policy-routing")
    check_fleet(configs)
    # A bridge: the dummy driver a physical host's link would be is not on every kernel.
    created = render_host(configs["k"], ["iproute2"], templates(create_links=True))
    ns = f"nctest-{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory() as tmp:
        batch = Path(tmp) / "k.batch"
        batch.write_text(created["iproute2/k.batch"])
        ip("netns", "add", ns)
        try:
            ip("-n", ns, "-batch", str(batch))
            assert read_addresses(ns) == {"type": ["192.0.2.9/24"]}
        finally:
            ip("netns", "del", ns)


def test_a_wrong_expectation_is_caught():
    """The comparison can fail: a model with one extra rule does not match the kernel."""
    inventory = load_inventory(INVENTORY)
    config = render_design(inventory)["kvm01"]
    files = render_host(config, ["iproute2"], templates())
    extra = replace(config, rules=config.rules + (Rule(4, 99, 9, dst="10.99.0.0/16"),))
    assert "rules" in load_and_compare(extra, files)


def test_synthetic_fleet_loads_into_namespaces():
    """A synthetic fleet (netcfg.inventory.synth): more networks per segment and IPv6
    on both fe and srv, under the heavier design."""
    from netcfg.inventory.load import load_inventory_texts
    from netcfg.inventory.synth import synth_texts

    inventory = load_inventory_texts(synth_texts(120, 16, 7), "synth")
    check_fleet(render_design(inventory, "policy-routing"))


UNUSUAL = {
    "segments.yaml": """\
segments:
  pub: {table: 300, priority: 100}
  'priv': {table: 70000, priority: 50}
  oob:
    table: 7
    priority: 200
""",
    "networks.yaml": """\
networks:
  - {prefix: 192.0.2.0/28, segment: pub, gateway: 192.0.2.1}
  - {prefix: 198.51.100.128/26, segment: pub, gateway: 198.51.100.129}
  - {prefix: "2001:db8:aa::/64", segment: pub, gateway: "2001:db8:aa::1"}
  - {prefix: "2001:db8:ab::/64", segment: pub, gateway: "2001:db8:ab::fffe"}
  - {prefix: 10.99.0.0/16, segment: priv, gateway: 10.99.0.1, private: true}
  - {prefix: "2001:db8:bb::/64", segment: priv, gateway: "2001:db8:bb::1"}
  - {prefix: "2001:db8:cc::/64", segment: oob, gateway: "2001:db8:cc::1"}
""",
    "machines/all.yaml": """\
machines:
  gw1:
    kind: router
    interfaces:
      pub: {addresses: [192.0.2.1, 198.51.100.129, "2001:db8:aa::1", "2001:db8:ab::fffe"]}
      priv: {addresses: [10.99.0.1, "2001:db8:bb::1"]}
      oob: {addresses: ["2001:db8:cc::1"], name: oob0}
  hv-a:
    kind: kvm-host
    memory_gib: 64
    interfaces:
      pub: {addresses: [192.0.2.5, 198.51.100.130, "2001:db8:aa::5"]}
      priv: {addresses: [10.99.1.5, "2001:db8:bb::5"], name: br-private}
  hv-empty: {kind: kvm-host, memory_gib: 32, interfaces: {priv: {addresses: ["2001:db8:bb::6"]}}}
  v6only:
    kind: vm
    host: hv-a
    memory_gib: 4
    interfaces:
      pub: {addresses: ["2001:db8:ab::10", "2001:db8:aa::10"]}
      oob: {addresses: ["2001:db8:cc::10"], name: "mgmt.7"}
  v4only: {kind: vm, host: hv-a, memory_gib: 60, interfaces: {priv: {addresses: [10.99.2.1, 10.99.2.2]}}}
""",
}


@pytest.mark.parametrize("design", ["policy-routing", "flat"])
def test_unusual_yaml_inventory_loads_into_namespaces(design):
    """Tables above 255 (70000), name: overrides, IPv6-only and IPv4-only machines,
    several networks of one segment on one interface, a KVM host without VMs."""
    from netcfg.inventory.load import load_inventory_texts

    inventory = load_inventory_texts(UNUSUAL, "unusual")
    configs = render_design(inventory, design)
    if design == "policy-routing":
        assert {r.table for r in configs["v4only"].rules} == {70000}
    check_fleet(configs)
