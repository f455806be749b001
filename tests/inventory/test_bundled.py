"""The bundled inventory/ tells the story of docs/design.md: every count issue 2 names,
asserted on the loaded model, and enough spare memory to evacuate any two hosts."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest
from netaddr import IPSet, cidr_merge

from netcfg.cli import main
from netcfg.inventory.load import load_inventory
from netcfg.model.host import Kind
from netcfg.model.inventory import Inventory

BUNDLED = Path(__file__).resolve().parents[2] / "inventory"
DOCUMENTATION = IPSet(["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"])
PRIVATE = IPSet(["10.0.0.0/8"])


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(BUNDLED)


def of_kind(inventory: Inventory, kind: Kind):
    return [m for m in inventory.machines.values() if m.kind is kind]


def test_validates_cleanly(capsys):
    assert main(["validate", str(BUNDLED)]) == 0
    assert "valid" in capsys.readouterr().out


def test_segments(inventory):
    tables = {name: (s.table, s.priority) for name, s in inventory.segments.items()}
    assert tables == {"fe": (2, 20), "srv": (3, 30), "mgm": (4, 40)}


def test_public_networks_on_fe_of_many_sizes_that_do_not_aggregate(inventory):
    public = [n.prefix for n in inventory.networks_on("fe", 4) if not n.private]
    assert len(public) >= 6
    assert len({p.prefixlen for p in public}) >= 4, "different sizes"
    assert sorted(cidr_merge(public)) == sorted(public), "no two of them aggregate"


def test_private_slash16_on_srv_and_ipv6_slash64s(inventory):
    srv4 = inventory.networks_on("srv", 4)
    assert any(n.private and n.prefix.prefixlen == 16 for n in srv4)
    for segment in ("fe", "srv"):
        assert [n.prefix.prefixlen for n in inventory.networks_on(segment, 6)] == [64]
    assert inventory.networks_on("mgm", 4), "a management network"


def test_every_network_has_a_gateway_on_exactly_one_router_interface(inventory):
    routers = of_kind(inventory, Kind.ROUTER)
    assert len(routers) == 2
    carried = [(iface.segment, address) for r in routers for iface in r.interfaces for address in iface.addresses]
    for network in inventory.networks:
        assert network.gateway is not None, network.cidr
        assert carried.count((network.segment, network.gateway)) == 1, network.cidr


def test_only_documentation_and_private_ranges(inventory):
    for network in inventory.networks:
        allowed = PRIVATE if network.private else DOCUMENTATION
        assert IPSet([network.prefix]).issubset(allowed), network.cidr


def test_kvm_hosts(inventory):
    hosts = of_kind(inventory, Kind.KVM_HOST)
    assert len(hosts) >= 12
    assert {h.nic_gbit for h in hosts} == {1, 10}
    assert all(128 <= h.memory_gib <= 512 for h in hosts)
    for host in hosts:
        assert sum(vm.memory_gib for vm in inventory.vms_of(host.name)) <= host.memory_gib


def test_vms_in_services_with_varied_dirty_rates(inventory):
    vms = of_kind(inventory, Kind.VM)
    assert len(vms) >= 150
    assert all(2 <= vm.memory_gib <= 128 for vm in vms)
    assert all(vm.service for vm in vms)
    services = {vm.service for vm in vms}
    assert {"web", "shop", "db", "mail", "dns"} <= services
    assert len({vm.dirty_mib_s for vm in vms}) >= 20, "varied dirty rates"
    # The incident's kind of VM: busy, on a 1 Gbit/s host (about 95 MiB/s effective at
    # 80 % efficiency), close to but below what the link can carry.
    slow = {h.name for h in of_kind(inventory, Kind.KVM_HOST) if h.nic_gbit == 1}
    assert any(vm.host in slow and 60 <= vm.dirty_mib_s < 95 for vm in vms)


def test_a_few_physical_hosts(inventory):
    assert 3 <= len(of_kind(inventory, Kind.PHYSICAL)) <= 10


def test_fleet_has_35_to_45_percent_spare_memory(inventory):
    hosts = of_kind(inventory, Kind.KVM_HOST)
    capacity = sum(h.memory_gib for h in hosts)
    used = sum(vm.memory_gib for vm in of_kind(inventory, Kind.VM))
    assert 0.35 <= 1 - used / capacity <= 0.45


def test_any_two_hosts_can_be_evacuated_onto_the_others(inventory):
    """First-fit decreasing of both hosts' VMs into the others' free memory succeeds
    for every pair: the rollout planner always has room (max_parallel_evacuations 2)."""
    hosts = of_kind(inventory, Kind.KVM_HOST)
    assert inventory.policy.rollout.max_parallel_evacuations <= 2
    for pair in combinations(hosts, 2):
        names = {h.name for h in pair}
        free = {
            h.name: h.memory_gib - sum(vm.memory_gib for vm in inventory.vms_of(h.name))
            for h in hosts
            if h.name not in names
        }
        moving = sorted((vm.memory_gib for h in pair for vm in inventory.vms_of(h.name)), reverse=True)
        for size in moving:
            target = next((t for t, room in free.items() if room >= size), None)
            assert target is not None, f"evacuating {sorted(names)}: no room for a {size} GiB VM"
            free[target] -= size


def test_policy_as_designed(inventory):
    policy = inventory.policy
    assert (str(policy.design), str(policy.reconfigure)) == ("policy-routing", "live")
    assert policy.seatbelt.max_fraction == 0.25 and policy.seatbelt.max_hosts == 50
    assert policy.rollout.migration_efficiency == 0.8


def test_split_over_commented_files():
    files = sorted(p.relative_to(BUNDLED).as_posix() for p in BUNDLED.rglob("*.yaml"))
    for expected in (
        "segments.yaml",
        "networks.yaml",
        "policy.yaml",
        "machines/routers.yaml",
        "machines/hypervisors.yaml",
        "machines/physical.yaml",
    ):
        assert expected in files
    assert sum(f.startswith("machines/vms-") for f in files) >= 5
    assert all((BUNDLED / f).read_text().startswith("#") for f in files)
