"""Hot-change wave sizes (policy `rollout.waves`): what the inventory may say and what it
means. The inventory keeps the entries as normalised text (`canary`, `5%`, `10`,
`rest`), so they hash and print as written; `wave_plan` turns them into sizes.

    rollout: {waves: [canary, 5%, 25%, rest]}   # the default

- `canary`, first only: one low-risk machine per segment the change touches;
- `N%`: N percent of the machines with a hot change (rounded up), 0 < N < 100;
- a whole number: that many machines;
- `rest`, last and required: every machine left. Never all machines in one wave.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from netcfg.errors import quote

CANARY = "canary"
REST = "rest"
DEFAULT_WAVES: tuple[str, ...] = (CANARY, "5%", "25%", REST)
UNREADABLE = "?"  # an entry already reported: the list is still checked around it
_PERCENT = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*%")
_COUNT = re.compile(r"[0-9]+")


def normalise_wave(text: str) -> str:
    """The canonical text of one entry; ValueError with the reason when it is none."""
    value = text.strip().lower()
    if value in (CANARY, REST):
        return value
    percent = _PERCENT.fullmatch(value)
    if percent:
        number = float(percent.group(1))
        if not 0 < number < 100:
            raise ValueError(f"{quote(text)}: a percentage must be above 0 % and below 100 % (the last wave is `rest`)")
        return f"{number:g}%"
    if _COUNT.fullmatch(value):
        if int(value) < 1:
            raise ValueError(f"{quote(text)}: a wave holds at least one machine")
        return str(int(value))
    raise ValueError(
        f"{quote(text)} is not a wave size: expected canary, a percentage such as 5%, a number of machines, or rest"
    )


def check_waves(entries: tuple[str, ...]) -> list[tuple[int, str]]:
    """Problems of a whole (normalised) list, as (entry index, message)."""
    problems = []
    if len(entries) < 2:
        problems.append((0, "needs at least two waves, the last one `rest`: never every machine in one wave"))
    for i, entry in enumerate(entries):
        if entry == CANARY and i != 0:
            problems.append((i, "`canary` can only be the first wave"))
        if entry == REST and i != len(entries) - 1:
            problems.append((i, "`rest` can only be the last wave (it takes every machine left)"))
    if len(entries) >= 2 and entries[-1] not in (REST, UNREADABLE):
        problems.append((len(entries) - 1, "the last wave must be `rest` (it takes every machine left)"))
    return problems


@dataclass(frozen=True, slots=True)
class WavePlan:
    """`canary` first or not, then the sizes of the waves between it and `rest`."""

    canary: bool
    sizes: tuple[str, ...]  # "5%" or "10"

    def size(self, entry: str, total: int) -> int:
        if entry.endswith("%"):
            return max(1, math.ceil(total * float(entry[:-1]) / 100.0 - 1e-9))
        return int(entry)


def wave_plan(entries: tuple[str, ...]) -> WavePlan:
    canary = bool(entries) and entries[0] == CANARY
    middle = tuple(e for e in entries if e not in (CANARY, REST))
    return WavePlan(canary, middle)
