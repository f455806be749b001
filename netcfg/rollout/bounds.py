"""The lower bound of a rollout: what no schedule can beat, so a plan's makespan can be
judged against it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from netcfg.model.host import Kind
from netcfg.model.inventory import Inventory
from netcfg.rollout.estimate import MIB_PER_GBIT, FastestLinks, best_rate, nic_of, precopy, vm_memory
from netcfg.rollout.model import Wave


def lower_bound_parts(
    inventory: Inventory, waves: Sequence[Wave], evacuate: Sequence[str], disruptive: Sequence[str]
) -> list[tuple[str, float]]:
    """Bounds no schedule can beat, each named; the plan's lower bound is their maximum.

    - hot waves: the canary/growing-wave schedule the policy mandates;
    - reconfigure: any disruptive change takes at least `reconfigure_s`;
    - service: members of one service are maintained one after another;
    - routers: one after another, the first once the canary wave has soaked (with no
      hot wave, once another machine's maintenance has ended);
    - single host: a hypervisor sends all its VMs through its own link (at most its
      full rate, at which pre-copy sends the least data), then is maintained;
    - bandwidth: at most `max_parallel_evacuations` hypervisors send at once, each at
      most at its full link rate, so all the data takes at least total / (sum of the
      fastest such links), and the last evacuation is followed by a maintenance;
    - evacuation slots: each hypervisor holds one of the `max_parallel_evacuations`
      slots for at least its single-host time, so the sum of those over the slots
      (plus the last maintenance) bounds the makespan too; it is the tighter of the
      two when links differ in speed;
    - moved twice: when every hypervisor is evacuated, the first one to go has no
      maintained or untouched host to send to, so at least the smallest evacuation is
      sent twice; both bounds above count it (this part is informational: GiB).
    """
    policy = inventory.policy.rollout
    reconf = float(policy.reconfigure_s)
    parts: list[tuple[str, float]] = []
    if waves:
        parts.append(("hot waves", waves[-1].end_s - waves[0].start_s))
    if disruptive:
        parts.append(("reconfigure", reconf))
        per_service: dict[str, int] = defaultdict(int)
        for host in disruptive:
            service = inventory.machines[host].service
            if service:
                per_service[service] += 1
        if per_service:
            parts.append(("service", max(per_service.values()) * reconf))
        routers = sum(1 for host in disruptive if inventory.machines[host].kind is Kind.ROUTER)
        if routers:
            if waves:
                proof = waves[0].end_s - waves[0].start_s + waves[0].soak_s
            else:
                proof = reconf if routers < len(disruptive) else 0.0
            parts.append(("routers", proof + routers * reconf))
    if evacuate:
        kvm_hosts = [m for m in inventory.machines.values() if m.kind is Kind.KVM_HOST]
        others = FastestLinks(kvm_hosts)
        total_data, single, total_time, links = 0.0, 0.0, 0.0, []
        slots = max(1, policy.max_parallel_evacuations)
        for host in evacuate:
            data = _evacuation_data(inventory, host, others)
            total_data += data
            # The host's link carries all its migrations, however many share it.
            link = nic_of(inventory.machines[host]) * MIB_PER_GBIT * policy.migration_efficiency
            single = max(single, data / link + reconf)
            total_time += data / link
            links.append(link)
        evacuated = set(evacuate)
        untouched = [m for m in kvm_hosts if m.name not in evacuated]
        if not untouched:
            # The first hypervisor to evacuate finds none maintained yet and no untouched
            # one: its VMs land on hypervisors that evacuate later, so they move twice.
            fastest = max(nic_of(m) for m in kvm_hosts) * MIB_PER_GBIT * policy.migration_efficiency
            again = min(_evacuation_data(inventory, h, others, fastest) for h in evacuate)
            parts.append(("moved twice (GiB)", again / 1024))
            total_data += again
            total_time += again / fastest
        links.sort(reverse=True)
        bandwidth = sum(links[:slots])
        parts.append(("single host", single))
        parts.append(("bandwidth", total_data / bandwidth + reconf if bandwidth > 0 else 0.0))
        parts.append(("evacuation slots", total_time / slots + reconf))
    return parts


def _evacuation_data(inventory: Inventory, host: str, links: FastestLinks, rate: float | None = None) -> float:
    """MiB pre-copy sends to empty `host` at the best rate any migration could get."""
    rate = rate if rate is not None else best_rate(inventory, host, links)
    return sum(precopy(vm_memory(vm), float(vm.dirty_mib_s or 0.0), rate).data_mib for vm in inventory.vms_of(host))


def evacuation_seconds(inventory: Inventory, host: str, links: FastestLinks) -> float:
    """The least time `host` can take to send all its VMs through its own link."""
    link = nic_of(inventory.machines[host]) * MIB_PER_GBIT * inventory.policy.rollout.migration_efficiency
    return _evacuation_data(inventory, host, links) / link
