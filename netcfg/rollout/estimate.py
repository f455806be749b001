"""How long things take: the pre-copy live-migration model of docs/design.md ("The rollout").

Pre-copy sends all memory (round 0), then in each round what was dirtied during the
previous one, until what is left fits in the allowed downtime; then the VM pauses and
the rest is copied (stop-and-copy). With link rate R and dirty rate D, each round
sends λ = D/R times the previous one, so after n rounds

    data = V_mem (1 - λ^(n+1)) / (1 - λ),   time = data / R,

with n = min(ceil(log_λ(V_thd / V_mem)), n_max). V_thd is what the link sends in the
allowed downtime (DOWNTIME_S, 300 ms: what QEMU's default `downtime-limit` allows), and
n_max (N_MAX_ROUNDS, 30) is where QEMU-like tools give up iterating. When D >= R the
rounds never shrink: the migration does not converge and we say so instead of
inventing a number.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from netcfg.model.inventory import Inventory, Machine

DOWNTIME_S = 0.3  # the stop-and-copy pause we accept; V_thd = R * DOWNTIME_S
N_MAX_ROUNDS = 30  # after this many rounds pre-copy stops iterating
DEFAULT_NIC_GBIT = 1.0  # a host without nic_gbit is assumed to have the slow link
MIB_PER_GBIT = 1e9 / 8 / 2**20  # 1 Gbit/s = 119.2 MiB/s
HOT_S = 5.0  # applying rules and routes over netlink: seconds, no outage

OFFLINE_ADVICE = (
    "its dirty rate is at least the migration bandwidth, so pre-copy never converges: "
    "shut it down and migrate it offline in a maintenance window, or throttle it "
    "(auto-converge) or use post-copy, then plan the host again"
)


@dataclass(frozen=True, slots=True)
class Estimate:
    """One live migration under the model; `seconds` is None when it never converges."""

    converges: bool
    rounds: int
    data_mib: float
    seconds: float | None
    downtime_s: float | None  # the final pause; above DOWNTIME_S when n_max cut it short


def link_rate_mib_s(nic_source_gbit: float, nic_target_gbit: float, efficiency: float) -> float:
    """R: the slower end of the link, times the fraction migrations really get."""
    return min(nic_source_gbit, nic_target_gbit) * MIB_PER_GBIT * efficiency


def nic_of(machine: Machine) -> float:
    return machine.nic_gbit if machine.nic_gbit else DEFAULT_NIC_GBIT


@functools.lru_cache(maxsize=1 << 16)
def precopy(
    memory_gib: float, dirty_mib_s: float, rate_mib_s: float, downtime_s: float = DOWNTIME_S, n_max: int = N_MAX_ROUNDS
) -> Estimate:
    """The pre-copy model for one VM at bandwidth `rate_mib_s` (already shared).
    Cached: a fleet has few distinct sizes, dirty rates and links, and the planner and
    its lower bound ask for the same ones tens of thousands of times."""
    memory = memory_gib * 1024.0
    if rate_mib_s <= 0 or dirty_mib_s >= rate_mib_s:
        return Estimate(False, 0, math.inf, None, None)
    if memory <= 0:
        return Estimate(True, 0, 0.0, 0.0, 0.0)
    lam = max(dirty_mib_s, 0.0) / rate_mib_s
    threshold = rate_mib_s * downtime_s
    if lam == 0.0 or threshold >= memory:
        rounds = 0
    else:
        rounds = min(max(math.ceil(math.log(threshold / memory) / math.log(lam)), 0), n_max)
    data = memory * (1.0 - lam ** (rounds + 1)) / (1.0 - lam)
    final = memory * lam**rounds  # what the stop-and-copy round sends
    return Estimate(True, rounds, data, data / rate_mib_s, final / rate_mib_s)


def vm_memory(vm: Machine) -> float:
    return float(vm.memory_gib or 0.0)


class FastestLinks:
    """The fastest link among the other hypervisors, for any hypervisor, in O(1): the
    fleet's two fastest links are enough (asking every host to scan the others made
    planning 2,000 hypervisors quadratic)."""

    __slots__ = ("first", "first_count", "second")

    def __init__(self, kvm_hosts: Sequence[Machine]):
        nics = sorted((nic_of(m) for m in kvm_hosts), reverse=True)
        self.first = nics[0] if nics else 0.0
        self.first_count = sum(1 for n in nics if n == self.first)
        self.second = next((n for n in nics if n < self.first), 0.0)

    def other(self, nic: float) -> float:
        """The fastest link of any other hypervisor than one whose link is `nic`."""
        if nic == self.first and self.first_count == 1:
            return self.second
        return self.first


def best_rate(inventory: Inventory, host: str, links: FastestLinks) -> float:
    """The fastest a VM can leave `host`: its link against the fastest other link."""
    nic = nic_of(inventory.machines[host])
    return link_rate_mib_s(nic, links.other(nic), inventory.policy.rollout.migration_efficiency)
