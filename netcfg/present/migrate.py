"""A migration plan for a person: lines for the terminal, a self-contained page."""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from netcfg.rollout.migrate import Migration, Stage
from netcfg.words import clock, plural

BAR_W = 300  # px of the longest stage's bar


def _names(machines: tuple[str, ...], shown: int = 6) -> str:
    more = f", ... ({len(machines) - shown} more)" if len(machines) > shown else ""
    return ", ".join(machines[:shown]) + more


def stage_line(s: Stage) -> str:
    c = s.check
    counted = (
        f"{c.flow_classes:,} flow classes, {c.newly_dropped} newly dropped, {c.asymmetric:,} asymmetric"
        if c.flow_classes is not None and c.asymmetric is not None
        else f"{c.newly_dropped} flow classes newly dropped"
    )
    return (
        f"stage {s.index}: {plural(len(s.machines), 'machine')} ({_names(s.machines)}); {counted}; "
        f"seatbelt {s.decision}; rollout {clock(s.makespan_s)} ({plural(s.waves, 'wave')}"
        + (f", {plural(s.evacuations, 'migration')}" if s.evacuations else "")
        + ")"
    )


def migration_lines(m: Migration) -> Iterator[str]:
    yield f"migrate to {m.to}: {m.moving} of {plural(m.machines, 'machine')} to move"
    if m.refusal is not None:
        yield f"no safe order: {m.refusal.reason}"
        for b in m.refusal.flows:
            v = b.verdict
            yield (
                f"  {b.count:,} flow classes {v.src_segment} -> {v.dst_segment} IPv{v.family}: "
                f"{v.direction} dropped at {v.at}: {v.reason}"
            )
            for e in b.examples:
                yield f"    e.g. {e.source} {e.source_address} -> {e.destination} {e.destination_address}: {e.after}"
        yield "what would help:"
        for fix in m.refusal.fixes:
            yield f"  - {fix}"
        return
    if not m.stages:
        yield "nothing to do: every machine is already under it"
        return
    for stage in m.stages:
        yield stage_line(stage)
    for note in m.notes:
        yield f"note: {note}"
    soak = f", {m.soak_s:g} s of soak between stages" if len(m.stages) > 1 and m.soak_s else ""
    yield f"total: {plural(len(m.stages), 'stage')}, {clock(m.total_makespan_s)} stage after stage{soak}"


def render_html(m: Migration, title: str = "netcfg migrate") -> str:
    """The page: stages with their machines, check, seatbelt and rollout, or why there are none."""
    environment = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    source = importlib.resources.files("netcfg.present").joinpath("migrate.html.j2").read_text(encoding="utf-8")
    longest = max((s.makespan_s for s in m.stages), default=0.0) or 1.0
    return environment.from_string(source).render(
        title=title,
        migration=m,
        clock=clock,
        plural=plural,
        width=lambda seconds: BAR_W * seconds / longest,
    )
