"""Synthetic hypervisor fleets, built in code, for the planner's tests and benchmark.

Deterministic for a seed. Only what planning needs: hypervisors with capacity and
link speed, VMs with memory, dirty rate and a service, one segment.
"""

from __future__ import annotations

import random

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

VM_SIZES_GIB = (2, 4, 4, 8, 8, 8, 16, 16, 32)
DIRTY_MIB_S = (5, 10, 20, 40, 80, 150)


def fleet(
    hosts: int,
    vms_per_host: int = 20,
    *,
    capacity_gib: float = 256,
    nic_gbit: float = 10,
    seed: int = 1,
    rollout: RolloutPolicy | None = None,
    reconfigure: Reconfigure = Reconfigure.RESTART,
    service_size: int = 8,
    dirty_rates: tuple[float, ...] = DIRTY_MIB_S,
) -> Inventory:
    """`hosts` hypervisors, each with `vms_per_host` VMs filling ~55-65 % of it; VMs of
    one service (`service_size` members) sit on different hypervisors."""
    rng = random.Random(seed)
    segment = Segment("srv", table=3, priority=30)
    machines = []
    vm_index = 0
    for h in range(hosts):
        name = f"kvm{h:04d}"
        machines.append(
            Machine(name, Kind.KVM_HOST, (Interface("srv", "brsrv", ()),), memory_gib=capacity_gib, nic_gbit=nic_gbit)
        )
        budget = capacity_gib * rng.uniform(0.55, 0.65)
        sizes = [rng.choice(VM_SIZES_GIB) for _ in range(vms_per_host)]
        scale = budget / sum(sizes)
        for size in sizes:
            memory = max(1, round(size * scale))
            machines.append(
                Machine(
                    f"vm{vm_index:05d}",
                    Kind.VM,
                    (Interface("srv", "ethsrv", ()),),
                    memory_gib=memory,
                    host=name,
                    dirty_mib_s=rng.choice(dirty_rates),
                    service=f"svc{(vm_index // service_size) % max(1, hosts * vms_per_host // service_size):04d}",
                )
            )
            vm_index += 1
    policy = Policy(reconfigure=reconfigure, rollout=rollout or RolloutPolicy())
    return Inventory.build([segment], [], machines, policy, source="<fleet>")
