"""Render the candidate machines on both sides and diff them, in parallel when large.

Rendering and diffing are pure and independent per machine, so a fleet-wide change
over thousands of machines is split by machine over forked worker processes (forked.py:
they inherit both inventories copy-on-write; only the small HostDiffs travel back).
Small changes, platforms without fork, and jobs=1 run in process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from netcfg.designs import Renderer
from netcfg.forked import can_fork, run_split
from netcfg.impact.diff import Differ
from netcfg.impact.model import HostDiff
from netcfg.model.host import DesignName
from netcfg.model.inventory import Inventory
from netcfg.progress import Progress, silent
from netcfg.words import plural

PARALLEL_MIN = 2_000  # below this many candidates, forking costs more than it saves
SLICE = 5_000  # machines rendered per call between two reports of progress (1,000 costs 5 %
# more CPU at 100k machines; before Renderer shared work across calls, 5,000 cost 60 %)


def render_and_diff(
    base: Inventory,
    head: Inventory,
    base_design: DesignName | None,
    head_design: DesignName | None,
    names: Sequence[str],
    jobs: int = 1,
    progress: Progress = silent,
) -> dict[str, HostDiff]:
    """Diffs of the machines `names` (changed ones only, by name), over up to `jobs`
    processes."""
    stage = f"rendering and comparing {plural(len(names), 'machine')}"
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        progress(stage, done, len(names))

    def chunk(part: Sequence[str], advance: Callable[[int], None]) -> dict[str, HostDiff]:
        return _chunk(base, head, base_design, head_design, part, advance)

    progress(stage, 0, len(names))
    if jobs <= 1 or len(names) < PARALLEL_MIN or not can_fork():
        return chunk(names, advance)
    out: dict[str, HostDiff] = {}
    for diffs in run_split(chunk, names, jobs, advance, "impact"):
        out.update(diffs)
    return dict(sorted(out.items()))


def _chunk(
    base: Inventory,
    head: Inventory,
    base_design: DesignName | None,
    head_design: DesignName | None,
    names: Sequence[str],
    advance: Callable[[int], None] = lambda count: None,
) -> dict[str, HostDiff]:
    out: dict[str, HostDiff] = {}
    render_base, render_head, differ = Renderer(base, base_design), Renderer(head, head_design), Differ()
    # In slices, to say how far it got; what the machines of several slices share is
    # still built and compared once (Renderer, Differ).
    for start in range(0, len(names), SLICE):
        part = names[start : start + SLICE]
        base_configs = render_base(base.machines[n] for n in part if n in base.machines)
        head_configs = render_head(head.machines[n] for n in part if n in head.machines)
        out.update(differ(base_configs, head_configs))
        advance(len(part))
    return out
