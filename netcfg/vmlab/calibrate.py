"""The estimator against reality: migrate real guests over a grid of memory sizes, dirty
rates and bandwidths, and compare each with what `netcfg.rollout.estimate.precopy`
predicts (time, data sent, whether it converges at all).

Calibration builds its own lab of two hypervisors (at scale 1: the lab's MiB and MiB/s
are the model's), boots one guest at a time (a second guest would take CPU from the
first and from QEMU's migration thread: two cores), and migrates it once per bandwidth,
back and forth. Each migration runs as the qemu driver runs one: QEMU's max-bandwidth is
the rate the model is given, and tc shapes both links to that rate / migration
efficiency, as the driver shapes a link to its nic and caps a migration at nic x
efficiency.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

from netcfg.model.host import Kind
from netcfg.model.inventory import Inventory, Machine, Policy, RolloutPolicy
from netcfg.rollout.estimate import MIB_PER_GBIT, Estimate, precopy
from netcfg.vmlab import lab, net
from netcfg.vmlab import state as lab_state
from netcfg.vmlab.lab import ALLOWANCE_MIB
from netcfg.vmlab.migrate import Outcome, Verdict, migrate
from netcfg.vmlab.scale import Scale

DEFAULT_MEMORY_MIB = (128, 192, 256)
DEFAULT_DIRTY_MIB_S = (2.0, 8.0, 30.0)
DEFAULT_BANDWIDTH_MIB_S = (24.0, 48.0)  # 30 MiB/s at 24 does not converge
EFFICIENCY = 0.8  # the inventory default: links shaped to bandwidth / efficiency
HOSTS = ("a", "b")
Say = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class Case:
    memory_mib: int
    dirty_mib_s: float
    bandwidth_mib_s: float


@dataclass(frozen=True, slots=True)
class Result:
    case: Case
    predicted: Estimate
    measured: Outcome

    @property
    def converged(self) -> bool:
        return self.measured.verdict is Verdict.COMPLETED

    @property
    def agrees(self) -> bool:
        """The model's verdict (converges or not) is what QEMU did."""
        return self.predicted.converges == self.converged

    @property
    def time_error(self) -> float | None:
        """(predicted - measured) / measured, when both converged."""
        if not (self.converged and self.predicted.seconds is not None) or self.measured.seconds <= 0:
            return None
        return (self.predicted.seconds - self.measured.seconds) / self.measured.seconds

    @property
    def data_error(self) -> float | None:
        if not (self.converged and self.predicted.converges) or self.measured.transferred_mib <= 0:
            return None
        return (self.predicted.data_mib - self.measured.transferred_mib) / self.measured.transferred_mib


@dataclass(frozen=True, slots=True)
class Calibration:
    results: tuple[Result, ...]

    def _errors(self, which: str) -> list[float]:
        values = [getattr(r, which) for r in self.results]
        return [abs(v) for v in values if v is not None]

    @property
    def median_time_error(self) -> float | None:
        errors = self._errors("time_error")
        return statistics.median(errors) if errors else None

    @property
    def worst_time_error(self) -> float | None:
        return max(self._errors("time_error"), default=None)

    @property
    def median_data_error(self) -> float | None:
        errors = self._errors("data_error")
        return statistics.median(errors) if errors else None

    @property
    def worst_data_error(self) -> float | None:
        return max(self._errors("data_error"), default=None)

    @property
    def verdicts_agree(self) -> int:
        return sum(1 for r in self.results if r.agrees)

    def to_dict(self) -> dict[str, Any]:
        def rounded(value: float | None, digits: int = 3) -> float | None:
            return None if value is None else round(value, digits)

        return {
            "cases": [
                {
                    "memory_mib": r.case.memory_mib,
                    "dirty_mib_s": r.case.dirty_mib_s,
                    "bandwidth_mib_s": r.case.bandwidth_mib_s,
                    "predicted": {
                        "converges": r.predicted.converges,
                        "seconds": rounded(r.predicted.seconds),
                        "data_mib": rounded(r.predicted.data_mib) if r.predicted.converges else None,
                        "rounds": r.predicted.rounds if r.predicted.converges else None,
                    },
                    "measured": {
                        "verdict": r.measured.verdict.value,
                        "seconds": rounded(r.measured.seconds),
                        "data_mib": rounded(r.measured.transferred_mib),
                        "rounds": r.measured.syncs,
                        "downtime_ms": r.measured.downtime_ms,
                        "retries": r.measured.retries,
                        "detail": r.measured.detail,
                    },
                    "time_error": rounded(r.time_error),
                    "data_error": rounded(r.data_error),
                    "verdict_agrees": r.agrees,
                }
                for r in self.results
            ],
            "median_time_error": rounded(self.median_time_error),
            "worst_time_error": rounded(self.worst_time_error),
            "median_data_error": rounded(self.median_data_error),
            "worst_data_error": rounded(self.worst_data_error),
            "verdicts_agree": self.verdicts_agree,
            "cases_total": len(self.results),
        }


def grid(memory: Sequence[int], dirty: Sequence[float], bandwidth: Sequence[float]) -> tuple[Case, ...]:
    return tuple(Case(m, d, b) for m, d, b in product(memory, dirty, bandwidth))


def predict(case: Case) -> Estimate:
    return precopy(case.memory_mib / 1024.0, case.dirty_mib_s, case.bandwidth_mib_s)


def calibrate(
    name: str,
    *,
    memory: Sequence[int] = DEFAULT_MEMORY_MIB,
    dirty: Sequence[float] = DEFAULT_DIRTY_MIB_S,
    bandwidth: Sequence[float] = DEFAULT_BANDWIDTH_MIB_S,
    run_dir: str,
    cache_dir: str,
    say: Say = _quiet,
) -> Calibration:
    """Run the grid on a lab of its own called `name`, removed at the end."""
    cases = grid(memory, dirty, bandwidth)
    lab.up(_two_hosts(max(memory)), name, scale=Scale(1024.0, 1.0), run_dir=run_dir, cache_dir=cache_dir, say=say)
    results: list[Result] = []
    try:
        for m, d in product(memory, dirty):
            vm = f"m{m}-d{d:g}"
            lab.add_vm(name, run_dir, vm, HOSTS[0], m, d)
            for b in bandwidth:
                case = Case(m, d, b)
                result = _run(name, run_dir, vm, case)
                results.append(result)
                say(f"calibrate {len(results)}/{len(cases)}: {vm} at {b:g} MiB/s: {result.measured.detail}")
            lab.remove_vm(name, run_dir, vm)
    finally:
        lab.down(name, run_dir=run_dir)
    return Calibration(tuple(results))


def _run(name: str, run_dir: str, vm: str, case: Case) -> Result:
    state = lab_state.read(name, run_dir)
    assert state is not None
    source = state.vms[vm].host
    target = HOSTS[1] if source == HOSTS[0] else HOSTS[0]
    for host in state.hosts.values():
        link = case.bandwidth_mib_s / EFFICIENCY
        net.shape(host.netns, net.LINK, link)
        net.shape(state.switch, net.port(host.index), link)
    predicted = predict(case)
    # A converging case gets five times its predicted time; one that does not is
    # cancelled by the detector after a few rounds, or by this.
    expected = predicted.seconds if predicted.seconds is not None else 4 * case.memory_mib / case.bandwidth_mib_s
    outcome = migrate(name, run_dir, vm, target, case.bandwidth_mib_s, timeout_s=60.0 + 5 * expected)
    return Result(case, predicted, outcome)


def _two_hosts(largest_mib: int) -> Inventory:
    """Two hypervisors with room for the largest guest (and its QEMU) arriving."""
    memory_gib = (largest_mib * 1.25 + ALLOWANCE_MIB) / 1024.0
    hosts = [Machine(h, Kind.KVM_HOST, memory_gib=memory_gib, nic_gbit=1024 / MIB_PER_GBIT) for h in HOSTS]
    policy = Policy(rollout=RolloutPolicy(migration_efficiency=EFFICIENCY))
    return Inventory.build({}, [], hosts, policy, source="<calibrate>")
