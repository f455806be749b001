"""Small hand-built inventories for the rollout tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from netcfg.model.host import Kind
from netcfg.model.inventory import (
    Interface,
    Inventory,
    Machine,
    Policy,
    Reconfigure,
    RolloutPolicy,
    Segment,
)

REPO = Path(__file__).resolve().parents[2]
INCIDENT = REPO / "examples" / "incident-2017"


def make_inventory(hosts, vms, *, rollout: RolloutPolicy | None = None, others=()) -> Inventory:
    """hosts: (name, capacity GiB, nic Gbit/s); vms: (name, host, GiB, dirty MiB/s, service);
    others: (name, kind, segments, service) for machines that are neither."""
    machines = [
        Machine(n, Kind.KVM_HOST, (Interface("srv", "brsrv", ()),), memory_gib=cap, nic_gbit=nic)
        for n, cap, nic in hosts
    ]
    machines += [
        Machine(
            n, Kind.VM, (Interface("srv", "ethsrv", ()),), memory_gib=gib, host=host, dirty_mib_s=dirty, service=service
        )
        for n, host, gib, dirty, service in vms
    ]
    machines += [
        Machine(n, kind, tuple(Interface(s, f"eth{s}", ()) for s in segments), service=service)
        for n, kind, segments, service in others
    ]
    segments = [Segment("srv", 3, 30), Segment("fe", 2, 20), Segment("mgm", 4, 40)]
    policy = Policy(reconfigure=Reconfigure.RESTART, rollout=rollout or RolloutPolicy())
    return Inventory.build(segments, [], machines, policy, source="<test>")


@pytest.fixture
def small_fleet() -> Inventory:
    """Four 10 Gbit/s hypervisors of 64 GiB, each 24 GiB used; services spread out."""
    hosts = [(f"kvm{i}", 64, 10) for i in range(1, 5)]
    vms = []
    for i in range(1, 5):
        for j, (gib, dirty) in enumerate(((8, 20), (8, 60), (4, 5), (4, 100))):
            vms.append((f"vm{i}{j}", f"kvm{i}", gib, dirty, f"svc{j}"))
    return make_inventory(hosts, vms)
