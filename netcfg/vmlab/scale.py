"""How the lab shrinks a fleet: memory by `mib_per_gib`, time by `speedup`.

A GiB of the inventory is `mib_per_gib` MiB in the lab (memory ratio m = mib_per_gib /
1024). Rates (link speeds, dirty rates) are scaled by m x speedup, so every migration
moves m times the data at m x speedup times the rate: it takes 1/speedup of the time
the plan gives it, and its convergence (dirty rate against bandwidth) is unchanged.
Waits (`reconfigure_s`) are divided by speedup too. With speedup 1 the lab runs on the
plan's clock; the default (16) keeps a 1 Gbit/s link at about 24 MiB/s of migration at
the default memory scale, which 2 cores of TCG guests can keep up with.
"""

from __future__ import annotations

from dataclasses import dataclass

from netcfg.rollout.estimate import MIB_PER_GBIT

DEFAULT_MIB_PER_GIB = 16.0
DEFAULT_SPEEDUP = 16.0


# What tc is asked to shape a link to, at most: far beyond what a veth pair carries (a
# few GiB/s), and within what tc's token bucket can express.
MAX_LINK_MIB_S = 64 * 1024


@dataclass(frozen=True, slots=True)
class Scale:
    mib_per_gib: float = DEFAULT_MIB_PER_GIB
    speedup: float = DEFAULT_SPEEDUP

    @property
    def memory_ratio(self) -> float:
        return self.mib_per_gib / 1024.0

    def memory_mib(self, gib: float) -> int:
        """Lab MiB of `gib` inventory GiB, whole MiB (QEMU's -m and cgroup limits)."""
        return round(gib * self.mib_per_gib)

    def rate_mib_s(self, mib_s: float) -> float:
        """A rate of the inventory (MiB/s) in the lab."""
        return mib_s * self.memory_ratio * self.speedup

    def nic_mib_s(self, gbit: float) -> float:
        return self.rate_mib_s(gbit * MIB_PER_GBIT)

    def seconds(self, inventory_s: float) -> float:
        """How long `inventory_s` of the plan's clock lasts in the lab."""
        return inventory_s / self.speedup
