"""The plan as a picture: one self-contained HTML page, inline CSS and SVG, no scripts
or external resources (it must open from a CI artifact or a mail attachment).

Per host one lane (`<g class="lane" data-host=...>`): its evacuation span, migrations
out and in, its maintenance, and underneath its memory (resident + incoming) over time
against its capacity, red where the plan would overcommit it. Hot-change waves and the
maintenance of VMs and other machines are summarised in bands at the top.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any

from netcfg.rollout.simulate import Simulation

LABEL_W = 150
PLOT_W = 1150
LANE_H = 46
BAND_H = 22
TICK_CHOICES = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)

CSS = """
body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222;background:#fff}
h1{font-size:18px;margin:0 0 4px} p.meta{margin:0 0 10px;color:#555}
.ok{color:#176b2c;font-weight:600} .bad{color:#b00020;font-weight:600}
svg text{font:11px system-ui,sans-serif;fill:#333}
.grid{stroke:#e4e4e4} .axis{stroke:#999}
.evac{fill:#dbe8fb} .out{fill:#2f6fd6} .in{fill:#2e9e58} .maint{fill:#f29d38}
.wave{fill:#8a5cd1} .vmmaint{fill:#f29d38;opacity:.55}
.mem{fill:none;stroke:#444;stroke-width:1.2} .cap{stroke:#b00020;stroke-dasharray:4 3}
.over{fill:#b00020;opacity:.35} .lanebg{fill:#fafafa}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:middle}
"""


def _clock(seconds: float) -> str:
    minutes = int(round(seconds / 60))
    return f"{minutes // 60}:{minutes % 60:02d}"


def render_html(plan: dict[str, Any], simulation: Simulation, title: str = "netcfg rollout plan") -> str:
    """The page for `plan` (plan-file JSON) with memory curves from `simulation`."""
    makespan = max(float(plan.get("makespan_s", 0.0)), simulation.makespan_s, 1.0)
    scale = PLOT_W / makespan

    def x(t: float) -> float:
        return LABEL_W + t * scale

    outgoing, incoming = defaultdict(list), defaultdict(list)
    for m in plan.get("migrations", []):
        outgoing[m["from"]].append(m)
        incoming[m["to"]].append(m)
    windows = defaultdict(list)
    for w in plan.get("maintenance", []):
        windows[w["host"]].append(w)
    hypervisors = set(simulation.capacity_gib)
    lanes = sorted(
        {h for h in windows if h in hypervisors} | set(outgoing) | set(incoming),
        key=lambda h: (min([w["start_s"] for w in windows.get(h, [])] + [m["start_s"] for m in outgoing.get(h, [])]
                           + [float("inf")]), h),
    )
    others = sorted(h for h in windows if h not in hypervisors)

    top = 30
    bands = 2
    height = top + bands * BAND_H + len(lanes) * LANE_H + 20
    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_W + PLOT_W + 20}" height="{height}" '
        f'role="img" aria-label="rollout timeline">'
    ]
    # Time axis and grid.
    step = next((s for s in TICK_CHOICES if makespan / s <= 12), TICK_CHOICES[-1])
    t = 0.0
    while t <= makespan + 1e-9:
        parts.append(f'<line class="grid" x1="{x(t):.1f}" y1="{top - 4}" x2="{x(t):.1f}" y2="{height - 16}"/>')
        parts.append(f'<text x="{x(t):.1f}" y="{top - 8}" text-anchor="middle">{_clock(t)}</text>')
        t += step
    y = top
    # Band: hot waves.
    parts.append(f'<text x="4" y="{y + 14}">hot waves</text>')
    for w in plan.get("waves", []):
        width = max(2.0, (w["end_s"] - w["start_s"]) * scale)
        hosts = escape(", ".join(w["hosts"][:20]) + (" …" if len(w["hosts"]) > 20 else ""))
        parts.append(f'<rect class="wave" data-wave="{w["index"]}" x="{x(w["start_s"]):.1f}" y="{y + 4}" '
                     f'width="{width:.1f}" height="{BAND_H - 8}"><title>wave {w["index"]}: '
                     f'{len(w["hosts"])} hosts: {hosts}</title></rect>')
    y += BAND_H
    # Band: maintenance of machines that are not hypervisors (VMs, physical, routers).
    parts.append(f'<text x="4" y="{y + 14}">other windows<title>maintenance of {len(others)} VMs and '
                 f'other machines</title></text><text x="{LABEL_W - 6}" y="{y + 14}" text-anchor="end">'
                 f'{len(others)}</text>')
    for h in others:
        for w in windows[h]:
            width = max(1.0, (w["end_s"] - w["start_s"]) * scale)
            parts.append(f'<rect class="vmmaint" x="{x(w["start_s"]):.1f}" y="{y + 4}" width="{width:.1f}" '
                         f'height="{BAND_H - 8}"><title>{escape(h)}: {w["start_s"]:.0f}-{w["end_s"]:.0f} s</title></rect>')
    y += BAND_H
    over = simulation.overcommitted()
    for host in lanes:
        parts.append(_lane(host, y, x, scale, outgoing[host], incoming[host], windows.get(host, []),
                           simulation, over.get(host)))
        y += LANE_H
    parts.append("</svg>")

    summary = simulation.to_dict()
    verdict = ('<span class="ok">simulates clean</span>' if simulation.clean else
               f'<span class="bad">{len(simulation.violations)} invariant violations; '
               f'{len(over)} hosts overcommitted</span>')
    ratio = plan.get("ratio")
    meta = (f'makespan {_clock(makespan)} ({makespan:.0f} s), lower bound '
            f'{float(plan.get("lower_bound_s", 0)):.0f} s'
            + (f', ratio {ratio:.2f}' if isinstance(ratio, (int, float)) else "")
            + f'; {len(plan.get("migrations", []))} migrations, peak '
            f'{summary["peak_parallel_evacuations"]} parallel evacuations; ')
    legend = ''.join(f'<span><i style="background:{c}"></i>{n}</span>' for n, c in (
        ("evacuation", "#dbe8fb"), ("migration out", "#2f6fd6"), ("migration in", "#2e9e58"),
        ("maintenance", "#f29d38"), ("hot wave", "#8a5cd1"), ("memory over capacity", "#e08a99")))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1><p class=\"meta\">{meta}{verdict}</p>"
        f"<p class=\"legend\">{legend}<span>memory: line = resident + incoming, dashed = capacity</span></p>"
        + "".join(parts) + "</body></html>\n"
    )


def _lane(host, y, x, scale, outgoing, incoming, windows, simulation: Simulation, over) -> str:
    capacity = simulation.capacity_gib.get(host, 0.0)
    peak = simulation.peak_gib.get(host, 0.0)
    label = escape(host)
    parts = [f'<g class="lane" data-host="{label}">',
             f'<rect class="lanebg" x="{LABEL_W}" y="{y + 1}" width="{PLOT_W}" height="{LANE_H - 2}"/>',
             f'<text x="4" y="{y + 14}">{label}</text>',
             f'<text x="4" y="{y + 28}">peak {peak:.0f}/{capacity:.0f} GiB</text>']
    if outgoing:
        start = min(m["start_s"] for m in outgoing)
        end = max(m["end_s"] for m in outgoing)
        parts.append(f'<rect class="evac" x="{x(start):.1f}" y="{y + 2}" width="{max(1.0, (end - start) * scale):.1f}" '
                     f'height="18"><title>{label} evacuates {len(outgoing)} VMs</title></rect>')
    for row, items, cls, verb in ((0, outgoing, "out", "to"), (1, incoming, "in", "from")):
        for m in items:
            other = m["to"] if cls == "out" else m["from"]
            parts.append(
                f'<rect class="{cls}" x="{x(m["start_s"]):.1f}" y="{y + 4 + row * 8}" '
                f'width="{max(1.0, (m["end_s"] - m["start_s"]) * scale):.1f}" height="6">'
                f'<title>{escape(m["vm"])} ({m["gib"]:g} GiB) {verb} {escape(other)}: '
                f'{m["start_s"]:.0f}-{m["end_s"]:.0f} s</title></rect>')
    for w in windows:
        parts.append(f'<rect class="maint" x="{x(w["start_s"]):.1f}" y="{y + 2}" '
                     f'width="{max(2.0, (w["end_s"] - w["start_s"]) * scale):.1f}" height="18">'
                     f'<title>{label} maintenance {w["start_s"]:.0f}-{w["end_s"]:.0f} s</title></rect>')
    # Memory: a step line scaled so the capacity sits at the top of a 20 px strip.
    base_y, strip = y + LANE_H - 4, 20.0
    top_value = max(capacity, peak, 1e-9)
    cap_y = base_y - strip * capacity / top_value
    parts.append(f'<line class="cap" x1="{LABEL_W}" y1="{cap_y:.1f}" x2="{LABEL_W + PLOT_W}" y2="{cap_y:.1f}"/>')
    points = simulation.series.get(host, [])
    if points:
        path = []
        previous = None
        for t, value in points:
            py = base_y - strip * value / top_value
            if previous is None:
                path.append(f"M{x(t):.1f},{py:.1f}")
            else:
                path.append(f"H{x(t):.1f}V{py:.1f}")
            previous = py
        end_x = x(max(simulation.makespan_s, points[-1][0]))
        path.append(f"H{end_x:.1f}")
        parts.append(f'<path class="mem" d="{"".join(path)}"/>')
        if over:
            parts.append(f'<rect class="over" x="{LABEL_W}" y="{base_y - strip:.1f}" width="{PLOT_W}" '
                         f'height="{strip:.1f}"><title>{label} overcommitted by up to {over:.0f} GiB</title></rect>')
    parts.append("</g>")
    return "".join(parts)
