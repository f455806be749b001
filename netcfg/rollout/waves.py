"""Hot changes: a canary, then growing waves with soak time between them."""

from __future__ import annotations

import math
from collections.abc import Sequence

from netcfg.model.inventory import Inventory
from netcfg.rollout.estimate import HOT_S
from netcfg.rollout.model import Wave

WAVE_FRACTIONS = (0.05, 0.25)  # after the canary; the last wave takes the rest


def hot_waves(inventory: Inventory, hosts: Sequence[str], soak_s: float) -> list[Wave]:
    """Canary (one host per segment), then about 5 %, 25 % and the rest, soaking between.

    Never all hosts in one wave: with two or more hosts the canary leaves some out."""
    remaining = sorted(hosts)
    if not remaining:
        return []
    canary: list[str] = []
    seen: set[str] = set()
    for host in remaining:
        segments = {i.segment for i in inventory.machines[host].interfaces}
        if segments - seen:
            canary.append(host)
            seen |= segments
    if not canary:
        canary = remaining[:1]
    if len(canary) >= len(remaining) and len(remaining) > 1:
        canary = canary[: max(1, len(remaining) // 2)]
    groups = [canary]
    rest = [h for h in remaining if h not in set(canary)]
    total = len(remaining)
    for fraction in WAVE_FRACTIONS:
        size = math.ceil(total * fraction)
        if rest and size < len(rest):
            groups.append(rest[:size])
            rest = rest[size:]
    if rest:
        groups.append(rest)
    waves, start = [], 0.0
    for index, group in enumerate(groups):
        waves.append(Wave(index, start, start + HOT_S, tuple(group)))
        start += HOT_S + soak_s
    return waves
