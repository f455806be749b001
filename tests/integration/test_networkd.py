"""The networkd and netplan renders, loaded by the real systemd-networkd: one machine of
each kind (kvm-host, vm, physical, router) under both designs, each in a fresh network
namespace (see networkd_daemon.py). Once networkd is done, the kernel's addresses, rules
(both families) and routes (every table) must be exactly what the model says.

What the kernel adds by itself is left out of the exact comparison, each for a reason
given where it is filtered: the local table, the kernel's three default rules, IPv6
link-local addresses and routes, and the connected ("proto kernel") routes of the
addresses, which are compared on their own against the addresses' networks.

netplan has no route protocol (0.106): its routes come out "proto static", so the netplan
cases compare routes without protocol. It cannot turn on forwarding either, so a router's
forwarding is checked for networkd only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from netaddr import IPAddress, IPNetwork

from netcfg.designs import render as render_design
from netcfg.formats import render_host, templates
from netcfg.inventory.load import load_inventory
from netcfg.model.host import MAIN_TABLE, DesignName, HostConfig, Kind, Route, default_prefix
from netcfg.model.inventory import Inventory
from tests.integration.networkd_daemon import (
    FORWARDING_SYSCTLS,
    KernelState,
    missing_requirements,
    netplan_generate,
    notable_lines,
    run_networkd,
)

INVENTORY = Path(__file__).resolve().parents[2] / "inventory"
NETWORKD_MISSING = missing_requirements()
NETPLAN_MISSING = missing_requirements(netplan=True)
TABLES = {"main": 254, "local": 255, "default": 253}
# The kernel's own rules in a new namespace (IPv6 has no 32767): not from a render.
KERNEL_RULES = {(0, 255), (32766, 254), (32767, 253)}
# The kernel's metric for a route given none: 0 for IPv4 (`ip` then prints none), 1024
# for IPv6.
DEFAULT_METRIC = {4: 0, 6: 1024}
# netplan 0.106 writes `Scope=link` for every route without `via`, IPv6 ones included,
# whatever the YAML says; networkd ignores it there (the kernel has no IPv6 route scope).
NETPLAN_OWN_COMPLAINT = "Scope= is specified for IPv6 route. It will be ignored."

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(NETWORKD_MISSING is not None, reason=f"real systemd-networkd: {NETWORKD_MISSING}"),
]
needs_netplan = pytest.mark.skipif(NETPLAN_MISSING is not None, reason=f"netplan into networkd: {NETPLAN_MISSING}")

KINDS = [Kind.KVM_HOST, Kind.VM, Kind.PHYSICAL, Kind.ROUTER]
DESIGNS = [DesignName.POLICY_ROUTING, DesignName.FLAT]

# (family, table, dst, gateway, device, scope, metric, protocol)
RouteKey = tuple[int, int, str, str | None, str, str | None, int, str | None]
# (family, priority, from, to, table)
RuleKey = tuple[int, int, str | None, str | None, int]
# (family, table, network, device)
ConnectedKey = tuple[int, int, str, str]


@dataclass(frozen=True)
class View:
    """Addresses, rules and routes as comparable sets; `connected` holds the kernel's
    routes to the networks of the addresses, (family, table, network, device)."""

    addresses: frozenset[tuple[str, str]]
    rules: frozenset[RuleKey]
    routes: frozenset[RouteKey]
    connected: frozenset[ConnectedKey]


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(INVENTORY)


def machine_config(inventory: Inventory, design: DesignName, kind: Kind) -> HostConfig:
    """The first machine of `kind` in the inventory, under `design`."""
    machine = next(m for m in inventory.machines.values() if m.kind is kind)
    return render_design(inventory, design, [machine])[machine.name]


def nics(config: HostConfig) -> list[str]:
    """The links to create: one veth per interface. A KVM host's interfaces are bridges
    networkd creates from the .netdev files; netcfg attaches no port to them (the VMs'
    taps join later), so they stay without carrier, which ConfigureWithoutCarrier= is
    there for."""
    return [i.name for i in config.interfaces if not i.bridge]


# --- the model as the kernel shows it ------------------------------------------------------


def _prefix(text: str, family: int) -> str:
    """A canonical prefix; `ip` prints a host route without its length."""
    if text == "default":
        return default_prefix(family)
    return str(IPNetwork(text if "/" in text else f"{text}/{32 if family == 4 else 128}").cidr)


def gateway_device(config: HostConfig, gateway: str) -> str:
    """The interface whose network holds `gateway`: the device the kernel resolves a
    gateway route to (the model names devices of on-link routes only)."""
    for address in config.addresses:
        if IPAddress(gateway) in IPNetwork(address.address):
            return address.interface
    raise AssertionError(f"{config.name}: no interface reaches gateway {gateway}")


def expected_route(config: HostConfig, route: Route, with_protocol: bool) -> RouteKey:
    device = route.device or gateway_device(config, route.gateway or "")
    return (
        route.family,
        route.table,
        route.dst,
        route.gateway,
        device,
        # The kernel has no scope for IPv6 routes; the model's "link" there means on-link.
        route.scope if route.family == 4 else None,
        DEFAULT_METRIC[route.family] if route.metric is None else route.metric,
        str(route.protocol) if with_protocol else None,
    )


def expected_view(config: HostConfig, with_protocol: bool) -> View:
    return View(
        addresses=frozenset((a.interface, a.address) for a in config.addresses),
        rules=frozenset((r.family, r.priority, r.src, r.dst, r.table) for r in config.rules),
        routes=frozenset(expected_route(config, r, with_protocol) for r in config.routes),
        # The kernel adds a route to each address's network in main: with flat the only
        # route to it, so its prefix length must be the network's.
        connected=frozenset((a.family, MAIN_TABLE, a.network, a.interface) for a in config.addresses),
    )


# --- the kernel ------------------------------------------------------------------------------


def _table(entry: dict[str, Any]) -> int:
    name = str(entry.get("table", "main"))  # `ip` names no table for main routes
    return TABLES.get(name) or int(name)


def kernel_addresses(state: KernelState) -> set[tuple[str, str]]:
    found = set()
    for link in state.addresses:
        if link["ifname"] == "lo":
            continue  # 127.0.0.1/8 and ::1: the kernel's, on a link no render names
        for a in link.get("addr_info", []):
            if IPAddress(a["local"]).is_link_local():
                continue  # fe80::/64 from the MAC, on every IPv6 link: networkd's default
            found.add((link["ifname"], f"{IPAddress(a['local'])}/{a['prefixlen']}"))
    return found


def _selector(rule: dict[str, Any], key: str, family: int) -> str | None:
    """A rule's `from` (key "src") or `to` ("dst") prefix; None for all."""
    address = rule.get(key, "all")
    if address == "all":
        return None
    length = rule.get(f"{key}len")
    return _prefix(address if length is None else f"{address}/{length}", family)


def kernel_rules(state: KernelState) -> set[RuleKey]:
    found = set()
    for family, rules in state.rules.items():
        for r in rules:
            src, dst = _selector(r, "src", family), _selector(r, "dst", family)
            if src is None and dst is None and (r["priority"], _table(r)) in KERNEL_RULES:
                continue  # local, main, default: in every namespace from the start
            found.add((family, r["priority"], src, dst, _table(r)))
    return found


def kernel_routes(state: KernelState, with_protocol: bool) -> tuple[set[RouteKey], set[ConnectedKey]]:
    """(routes from the config, the kernel's connected routes)."""
    routes: set[RouteKey] = set()
    connected: set[ConnectedKey] = set()
    for family, entries in state.routes.items():
        for r in entries:
            if _table(r) == TABLES["local"]:
                continue  # local, broadcast, anycast, multicast: the kernel's, per address
            dst = _prefix(r["dst"], family)
            if r.get("protocol") == "kernel":
                # The prefix route of each address (its network, in main), and fe80::/64
                # on every IPv6 link: the kernel's own, compared with the addresses below.
                if not (family == 6 and IPNetwork(dst).is_link_local()):
                    connected.add((family, _table(r), dst, r["dev"]))
                continue
            gateway = str(IPAddress(r["gateway"])) if "gateway" in r else None
            scope = r.get("scope", "global") if family == 4 else None
            protocol = r.get("protocol", "boot") if with_protocol else None  # `ip` omits boot
            key = (family, _table(r), dst, gateway, r["dev"], scope, r.get("metric", 0), protocol)
            routes.add(key)
    return routes, connected


def kernel_view(state: KernelState, with_protocol: bool) -> View:
    routes, connected = kernel_routes(state, with_protocol)
    return View(
        addresses=frozenset(kernel_addresses(state)),
        rules=frozenset(kernel_rules(state)),
        routes=frozenset(routes),
        connected=frozenset(connected),
    )


# --- comparing --------------------------------------------------------------------------------


def differences(got: View, want: View) -> list[str]:
    problems = []
    for field in ("addresses", "rules", "routes", "connected"):
        have, need = getattr(got, field), getattr(want, field)
        problems += [f"missing {field}: {x}" for x in _sorted(need - have)]
        problems += [f"unexpected {field}: {x}" for x in _sorted(have - need)]
    return problems


def _sorted(entries: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(entries, key=lambda e: tuple(str(v) for v in e))


def link_problems(config: HostConfig, state: KernelState) -> list[str]:
    """Every rendered interface is managed and configured; a KVM host's bridges are
    bridges, created by networkd from the .netdev files."""
    kinds = {link["ifname"]: link.get("linkinfo", {}).get("info_kind") for link in state.links}
    problems = []
    for iface in config.interfaces:
        admin = state.admin_states.get(iface.name, "absent")
        if admin != "configured":
            problems.append(f"{iface.name}: networkd state {admin}, not configured")
        want = "bridge" if iface.bridge else "veth"
        if kinds.get(iface.name) != want:
            problems.append(f"{iface.name}: link kind {kinds.get(iface.name)}, not {want}")
    return problems


def assert_matches(config: HostConfig, state: KernelState, with_protocol: bool, allowed: Iterable[str] = ()) -> None:
    allowed = tuple(allowed)
    complaints = [line for line in state.complaints() if not any(a in line for a in allowed)]
    problems = [f"networkd: {line}" for line in complaints]
    problems += link_problems(config, state)
    problems += differences(kernel_view(state, with_protocol), expected_view(config, with_protocol))
    if problems:
        log = "\n  ".join(notable_lines(state.log)) or "(nothing notable)"
        pytest.fail(f"{config.name} ({config.design}):\n" + "\n".join(problems) + f"\nnetworkd said:\n  {log}")


# --- the cases ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS, ids=str)
@pytest.mark.parametrize("design", DESIGNS, ids=str)
def test_networkd_files_configure_the_model(inventory: Inventory, design: DesignName, kind: Kind) -> None:
    config = machine_config(inventory, design, kind)
    rendered = render_host(config, ["networkd"], templates())
    files = {path.rsplit("/", 1)[1]: text for path, text in rendered.items()}
    state = run_networkd(files, nics(config))
    assert_matches(config, state, with_protocol=True)
    # IPForward=yes sets the namespace-wide switches (networkd has no per-link one).
    want = "1" if config.forwarding else "0"
    assert state.forwarding == dict.fromkeys(FORWARDING_SYSCTLS, want), config.name


@needs_netplan
@pytest.mark.parametrize("kind", KINDS, ids=str)
@pytest.mark.parametrize("design", DESIGNS, ids=str)
def test_netplan_through_networkd_configures_the_model(inventory: Inventory, design: DesignName, kind: Kind) -> None:
    config = machine_config(inventory, design, kind)
    ((path, text),) = render_host(config, ["netplan"], templates()).items()
    generated = netplan_generate(Path(path).name, text)
    assert any(name.endswith(".network") for name in generated), generated
    # /run/systemd/network: where networkd finds netplan's output on a real machine.
    state = run_networkd(generated, nics(config), directory="run")
    assert_matches(config, state, with_protocol=False, allowed=[NETPLAN_OWN_COMPLAINT])
