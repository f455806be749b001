"""How much of anything netcfg reads: every reader refuses more with an input error
(exit 2) instead of running out of memory, stack or time. Generous for real fleets (a
1,000,000-machine inventory stays within them), small enough for a 2-core CI runner."""

from __future__ import annotations

import math
import re

YAML_FILE_BYTES = 64 << 20  # one inventory or approval file
NESTING = 100  # YAML and JSON: an inventory needs 6 levels, a plan or report 4
# Values (scalars and collections) in one YAML file: about 250 bytes of memory each once
# composed, so 4,000,000 is about 1 GB. A 100,000-machine inventory in one file has about
# 2,300,000; `0,` repeated, one value of every two bytes, reached 2 GB at 16 MiB.
YAML_VALUES = 4_000_000
DIGITS = 20  # an integer in YAML: 2^64 has 20 digits
JSON_FILE_BYTES = 256 << 20  # a plan or an impact report of a 1,000,000-machine fleet
PLAN_SECONDS = 1e9  # a time in a plan file: 31 years; far beyond it, a replay's sums overflow
STATE_FILE_BYTES = 16 << 20  # a lab's state file
TEMPLATE_OUTPUT_BYTES = 16 << 20  # one rendered file of a user's template
TEMPLATE_SECONDS = 10.0  # one render of a user's template
TEMPLATE_SEQUENCE = 1 << 20  # items or characters a template may build with * or **
TEMPLATE_MEMORY_BYTES = 2 << 30  # what a render with a user's templates may add to the process
# The fleets `netcfg synth` writes (here, not in inventory/synth.py: its help needs them,
# and `netcfg --help` must not import netaddr).
MIN_MACHINES, MAX_MACHINES = 10, 1_000_000
MIN_NETWORKS, MAX_NETWORKS = 4, 5_000
# A lab's name (namespace lab and VM lab) becomes part of namespace, cgroup and file names.
LAB_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}")


def plan_seconds(value: object) -> float | None:
    """A time as a plan file must give it: a JSON number (not a boolean, not text),
    finite, at most PLAN_SECONDS from 0; else None. The planner, the replays and the
    executor read plans alike with it."""
    if type(value) is float:  # nearly every time: NaN and the infinities fail the range
        return value if -PLAN_SECONDS <= value <= PLAN_SECONDS else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, int) and abs(value) > PLAN_SECONDS:
            return None  # 10**400 is a JSON number too, and no float
        number = float(value)
        if math.isfinite(number) and abs(number) <= PLAN_SECONDS:
            return number
    return None
