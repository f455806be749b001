"""The plan as a picture: one self-contained HTML page, inline CSS and SVG, no scripts
or external resources (it must open from a CI artifact or a mail attachment).

Per host one lane (`<g class="lane" data-host=...>`): its evacuation span, migrations
out and in, its maintenance, and underneath its memory (resident + incoming) over time
against its capacity, red where the plan would overcommit it. Hot-change waves and the
maintenance of VMs and other machines are summarised in bands at the top.

This module computes the geometry; `timeline.html.j2` lays it out (autoescaped, so no
inventory name can break out of the page).
"""

from __future__ import annotations

import importlib.resources
from collections import defaultdict
from dataclasses import dataclass, replace

import jinja2

from netcfg.impact.model import Decision
from netcfg.rollout.model import Maintenance, Migration, NonConverging, Plan
from netcfg.rollout.simulate import Simulation
from netcfg.words import clock, plural

LABEL_W = 150
PLOT_W = 1150
LANE_H = 46
BAND_H = 22
WAVE_BAND_H = 2 * BAND_H  # two rows of labels: neighbouring waves do not overwrite each other
WAVE_MIN_W = 6.0  # px: a ten-minute wave in a three-day plan is still seen
LABEL_CHAR_W = 6.2  # px per character of an 11 px label, to know whether it fits
TOP = 30
TICK_CHOICES = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
LEGEND = (
    ("evacuation", "#dbe8fb"),
    ("migration out", "#2f6fd6"),
    ("migration in", "#2e9e58"),
    ("maintenance", "#f29d38"),
    ("hot wave", "#8a5cd1"),
    ("cannot live-migrate", "#b00020"),
    ("memory over capacity", "#e08a99"),
)


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle on the page, with the text shown on hover."""

    x: float
    y: float
    width: float
    height: float
    title: str
    css: str = ""
    data: str = ""  # the data-wave index of a hot wave
    label: str = ""  # text drawn on the page (a wave's name and size)
    label_y: float = 0.0
    label_x: float = 0.0
    label_anchor: str = "start"  # "end": drawn left of the box, at the page's right edge


@dataclass(frozen=True, slots=True)
class Lane:
    host: str
    y: float
    peak: float
    capacity: float
    boxes: tuple[Box, ...]
    capacity_y: float
    memory_path: str  # SVG path of resident + incoming memory over time
    over: float | None  # worst overcommitment, GiB
    strip_y: float
    held: str = ""  # why the host is not scheduled: VMs that cannot live-migrate


class _Scale:
    def __init__(self, makespan: float):
        self.factor = PLOT_W / makespan

    def x(self, t: float) -> float:
        return LABEL_W + t * self.factor

    def width(self, start: float, end: float, least: float) -> float:
        return max(least, (end - start) * self.factor)


def render_html(
    plan: Plan, simulation: Simulation, title: str = "netcfg rollout plan", decision: Decision | None = None
) -> str:
    """The page for `plan`, with memory curves from `simulation`; a change the seatbelt
    blocked (`decision`) says so before anything else."""
    makespan = max(plan.makespan_s, simulation.makespan_s, 1.0)
    scale = _Scale(makespan)
    outgoing: dict[str, list[Migration]] = defaultdict(list)
    incoming: dict[str, list[Migration]] = defaultdict(list)
    for m in plan.migrations:
        outgoing[m.source].append(m)
        incoming[m.target].append(m)
    windows: dict[str, list[Maintenance]] = defaultdict(list)
    for w in plan.maintenance:
        windows[w.host].append(w)
    hypervisors = set(simulation.capacity_gib)
    held = _held(plan.non_converging)
    lanes_hosts = sorted(
        {h for h in windows if h in hypervisors} | set(outgoing) | set(incoming) | set(held) | set(plan.unscheduled),
        key=lambda h: (
            min([w.start_s for w in windows.get(h, [])] + [m.start_s for m in outgoing.get(h, [])] + [float("inf")]),
            h,
        ),
    )
    others = sorted(h for h in windows if h not in hypervisors)
    height = TOP + WAVE_BAND_H + BAND_H + len(lanes_hosts) * LANE_H + 20

    step = next((s for s in TICK_CHOICES if makespan / s <= 12), TICK_CHOICES[-1])
    ticks = []
    t = 0.0
    while t <= makespan + 1e-9:
        ticks.append((scale.x(t), clock(t)))
        t += step

    waves = _waves(plan, scale)
    other_windows = tuple(
        Box(
            scale.x(w.start_s),
            TOP + WAVE_BAND_H + 4,
            scale.width(w.start_s, w.end_s, 1.0),
            BAND_H - 8,
            f"{h}: maintenance {clock(w.start_s)} to {clock(w.end_s)}",
            "vmmaint",
        )
        for h in others
        for w in windows[h]
    )
    over = simulation.overcommitted()
    y = TOP + WAVE_BAND_H + BAND_H
    lanes = []
    for host in lanes_hosts:
        lane = _lane(host, y, scale, outgoing[host], incoming[host], windows.get(host, []), simulation, over.get(host))
        if host in held or host in plan.unscheduled:
            lane = replace(lane, held=held.get(host, "not scheduled"))
        lanes.append(lane)
        y += LANE_H
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    source = importlib.resources.files("netcfg.present").joinpath("timeline.html.j2").read_text(encoding="utf-8")
    return environment.from_string(source).render(
        title=title,
        blocked=decision is Decision.BLOCK,
        plan=plan,
        non_converging=plan.non_converging,
        simulation=simulation,
        makespan=makespan,
        clock=clock,
        plural=plural,
        overcommitted=len(over),
        peak_evacuations=simulation.peak_parallel_evacuations,
        legend=LEGEND,
        width=LABEL_W + PLOT_W + 20,
        height=height,
        ticks=ticks,
        top=TOP,
        band_h=BAND_H,
        wave_band_h=WAVE_BAND_H,
        label_w=LABEL_W,
        plot_w=PLOT_W,
        waves=waves,
        others=len(others),
        other_windows=other_windows,
        lanes=lanes,
    )


def _waves(plan: Plan, scale: _Scale) -> tuple[Box, ...]:
    """Hot waves in their band, each named with its size on the page and its hosts on
    hover; a label that would run into the next wave's moves to the second row."""
    boxes = []
    row_free = [float("-inf"), float("-inf")]  # where each row's last label ends
    for w in plan.waves:
        x, width = scale.x(w.start_s), scale.width(w.start_s, w.end_s, WAVE_MIN_W)
        label = f"{w.name} · {plural(len(w.hosts), 'host')}"
        label_w = len(label) * LABEL_CHAR_W
        row = 0 if row_free[0] <= x else 1 if row_free[1] <= x else min((0, 1), key=lambda r: row_free[r])
        row_free[row] = x + width + label_w + 8
        fits = x + width + 3 + label_w <= LABEL_W + PLOT_W + 16
        hosts = ", ".join(w.hosts[:40]) + (f" and {len(w.hosts) - 40} more" if len(w.hosts) > 40 else "")
        boxes.append(
            Box(
                x,
                TOP + 4 + row * BAND_H,
                width,
                BAND_H - 8,
                f"{w.name}, {clock(w.start_s)} to {clock(w.end_s)}: {plural(len(w.hosts), 'host')}: {hosts}",
                "wave",
                str(w.index),
                label,
                TOP + 4 + row * BAND_H + BAND_H - 10,
                x + width + 3 if fits else x - 3,
                "start" if fits else "end",
            )
        )
    return tuple(boxes)


def _held(non_converging: tuple[NonConverging, ...]) -> dict[str, str]:
    """Per host, why it is not scheduled: its VMs whose pre-copy never converges."""
    reasons: dict[str, list[str]] = defaultdict(list)
    for n in non_converging:
        reasons[n.host].append(f"{n.vm} dirties {n.dirty_mib_s:,.0f} MiB/s, link {n.rate_mib_s:,.0f} MiB/s")
    return {
        host: f"not scheduled: {plural(len(vms), 'VM')} cannot live-migrate ({'; '.join(vms)})"
        for host, vms in reasons.items()
    }


def _lane(
    host: str,
    y: float,
    scale: _Scale,
    outgoing: list[Migration],
    incoming: list[Migration],
    windows: list[Maintenance],
    simulation: Simulation,
    over: float | None,
) -> Lane:
    capacity = simulation.capacity_gib.get(host, 0.0)
    peak = simulation.peak_gib.get(host, 0.0)
    boxes = []
    if outgoing:
        start = min(m.start_s for m in outgoing)
        end = max(m.end_s for m in outgoing)
        boxes.append(
            Box(
                scale.x(start),
                y + 2,
                scale.width(start, end, 1.0),
                18,
                f"{host} evacuates {plural(len(outgoing), 'VM')}",
                "evac",
            )
        )
    for row, items, css, verb in ((0, outgoing, "out", "to"), (1, incoming, "in", "from")):
        for m in items:
            other = m.target if css == "out" else m.source
            boxes.append(
                Box(
                    scale.x(m.start_s),
                    y + 4 + row * 8,
                    scale.width(m.start_s, m.end_s, 1.0),
                    6,
                    f"{m.vm} ({m.gib:g} GiB) {verb} {other}: {clock(m.start_s)} to {clock(m.end_s)}"
                    f" ({m.end_s - m.start_s:,.0f} s)",
                    css,
                )
            )
    for w in windows:
        boxes.append(
            Box(
                scale.x(w.start_s),
                y + 2,
                scale.width(w.start_s, w.end_s, 2.0),
                18,
                f"{host} maintenance {clock(w.start_s)} to {clock(w.end_s)}",
                "maint",
            )
        )
    # Memory: a step line scaled so the capacity sits at the top of a 20 px strip.
    base_y, strip = y + LANE_H - 4, 20.0
    top_value = max(capacity, peak, 1e-9)
    path = []
    points = simulation.series.get(host, [])
    for i, (t, value) in enumerate(points):
        py = base_y - strip * value / top_value
        path.append(f"M{scale.x(t):.1f},{py:.1f}" if i == 0 else f"H{scale.x(t):.1f}V{py:.1f}")
    if points:
        path.append(f"H{scale.x(max(simulation.makespan_s, points[-1][0])):.1f}")
    return Lane(
        host,
        y,
        peak,
        capacity,
        tuple(boxes),
        base_y - strip * capacity / top_value,
        "".join(path),
        over,
        base_y - strip,
    )
