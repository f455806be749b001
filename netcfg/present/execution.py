"""A rollout run in words and JSON: what it would do (--dry-run), what it did."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netcfg.errors import printable
from netcfg.execute.driver import Step, StepKind
from netcfg.execute.executor import Outcome, State
from netcfg.words import clock, plural

SHOWN_HOSTS = 6


def describe(step: Step) -> str:
    """`migration vm1 kvm01 -> kvm02`, `maintenance kvm01`, `hot 12 hosts: a, b, …`."""
    if step.kind is StepKind.MIGRATION:
        return f"migration {step.vm} {step.source} -> {step.target}"
    if step.kind is StepKind.MAINTENANCE:
        return f"maintenance {step.hosts[0]}"
    more = f", … {len(step.hosts) - SHOWN_HOSTS} more" if len(step.hosts) > SHOWN_HOSTS else ""
    return f"hot {plural(len(step.hosts), 'host')}: {', '.join(step.hosts[:SHOWN_HOSTS])}{more}"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f} s"
    if value < 3600:
        return f"{value:,.1f} s"
    return f"{value:,.0f} s ({clock(value)})"


def dry_run_lines(
    levels: list[list[Step]], preview: Callable[[Step], list[str]] | None, done: set[str] | frozenset[str] = frozenset()
) -> list[str]:
    """The order steps would run in: by dependency level, each step with what it runs."""
    lines = []
    for n, level in enumerate(levels):
        waiting = [s for s in level if s.id not in done]
        finished = len(level) - len(waiting)
        note = f" ({finished} done in an earlier run)" if finished else ""
        lines.append(f"level {n}: {plural(len(level), 'step')}{note}")
        for step in waiting:
            after = f" after {', '.join(printable(a) for a in step.after)}" if step.after else ""
            lines.append(
                f"  {printable(step.id)}: {describe(step)}{after} (planned {seconds(step.planned_duration_s)})"
            )
            for argv in preview(step) if preview is not None else []:
                lines.append(f"    $ {printable(argv)}")
    return lines


def summary_dict(outcome: Outcome) -> dict[str, Any]:
    return {
        "steps": [
            {
                "id": o.step.id,
                "kind": o.step.kind.value,
                "state": o.state.value,
                "planned_s": round(o.step.planned_duration_s * outcome.clock, 3),
                "actual_s": None if o.actual_s is None else round(o.actual_s, 3),
                "detail": o.detail,
            }
            for o in outcome.steps
        ],
        "makespan_s": round(outcome.elapsed_s, 3),
        "planned_makespan_s": round(outcome.planned_makespan_s * outcome.clock, 3),
        "clock": outcome.clock,
        "failed": list(outcome.failed),
    }


def summary_lines(outcome: Outcome) -> list[str]:
    """The table of planned against actual durations, then the totals and what failed."""
    rows = [("step", "kind", "state", "planned", "actual", "detail")]
    for o in outcome.steps:
        rows.append(
            (
                printable(o.step.id),
                o.step.kind.value,
                o.state.value,
                seconds(o.step.planned_duration_s * outcome.clock),
                seconds(o.actual_s),
                printable(o.detail),
            )
        )
    widths = [max(len(row[c]) for row in rows) for c in range(5)]
    lines = [
        "  ".join(
            cell.ljust(w) if c < 3 else cell.rjust(w) for c, (cell, w) in enumerate(zip(row[:5], widths, strict=True))
        ).rstrip()
        + (f"  {row[5]}" if row[5] else "")
        for row in rows
    ]
    counts = {state: sum(1 for o in outcome.steps if o.state is state) for state in State}
    tally = ", ".join(f"{n} {state.value.replace('_', ' ')}" for state, n in counts.items() if n)
    lines.append(
        f"makespan: planned {seconds(outcome.planned_makespan_s * outcome.clock)}, actual"
        f" {seconds(outcome.elapsed_s)} (this run); " + (tally or "no steps")
    )
    if outcome.clock != 1.0:
        lines.append(
            f"planned times are on the driver's clock: the plan's x {outcome.clock:g}"
            f" ({seconds(outcome.planned_makespan_s)} in the plan)"
        )
    return lines
