"""An impact for the terminal (`netcfg impact`): a summary and two tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netcfg.impact.model import ChangeClass, HostState, Impact
from netcfg.words import plural

if TYPE_CHECKING:
    from rich.console import RenderableType


def touched(impact: Impact) -> str:
    """ "12 of 190 machines touched (6.3 %)"; with nothing loaded, no total to show. The
    percentage is the one the seatbelt judges, of the smaller fleet when a change adds
    or removes machines."""
    if impact.hosts_total is None:
        return "no machine touched"
    share = f"{impact.fraction * 100:.1f} %"
    if impact.judged_fleet != impact.hosts_total:
        share += f" of the smaller fleet, {impact.judged_fleet}"
    return f"{impact.hosts_touched} of {impact.hosts_total} machines touched ({share})"


def summary_lines(impact: Impact) -> list[str]:
    lines = [
        f"{touched(impact)} under {impact.design}, reconfigure {impact.reconfigure}: "
        f"{impact.total(ChangeClass.HOT)} hot, {impact.total(ChangeClass.DISRUPTIVE)} disruptive, "
        f"{plural(impact.evacuations, 'VM')} to evacuate",
        f"decision: {impact.decision}  (digest {impact.digest})",
    ]
    lines += [f"  - {reason}" for reason in impact.reasons]
    flows = impact.flows
    if flows is not None and flows.changed:
        moved = ", ".join(f"{n:,} {change}" for change, n in flows.by_change)
        lines.append(f"flows: {flows.changed:,} of {flows.compared:,} flow classes move ({moved})")
        lines += [f"  > {e}" for e in flows.examples]
    touches = impact.touched_by_change()
    lines += [f"  * {change.text}: {touches.get(change.text, 0)} touched" for change in impact.changes]
    return lines


def tables(impact: Impact, limit: int) -> list[RenderableType]:
    """Touched per group, then the affected machines (at most `limit`, 0: all)."""
    from rich.table import Table  # only for the terminal: check's Markdown does not load rich

    groups = Table(title="touched / machines", title_justify="left")
    groups.add_column("group")
    groups.add_column("touched", justify="right")
    groups.add_column("machines", justify="right")
    for name, count in impact.segments:
        groups.add_row(f"segment {name}", str(count.touched), str(count.machines))
    for name, count in impact.kinds:
        groups.add_row(f"kind {name}", str(count.touched), str(count.machines))
    if not impact.hosts:
        return [groups]
    shown = impact.hosts if limit == 0 else impact.hosts[:limit]
    table = Table(title="affected machines (most important first)", title_justify="left")
    for column in ("machine", "kind", "change", "segments", "+", "-"):
        table.add_column(column, no_wrap=True)
    for column in ("evacuate", "causes"):
        table.add_column(column, overflow="fold")
    for h in shown:
        table.add_row(
            h.diff.name,
            str(h.diff.kind),
            f"{h.change}" + ("" if h.diff.state is HostState.CHANGED else f" ({h.diff.state})"),
            ",".join(h.diff.segments),
            str(len(h.diff.added)),
            str(len(h.diff.removed)),
            ", ".join(h.evacuate),
            h.causes[0] + (f" (+{len(h.causes) - 1} more)" if len(h.causes) > 1 else ""),
        )
    found: list[RenderableType] = [groups, table]
    if len(shown) < len(impact.hosts):
        found.append(f"... and {len(impact.hosts) - len(shown)} more (--limit 0 shows all)")
    return found
