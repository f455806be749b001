"""The Markdown summary of a report, fit for a pull-request comment.

Short on top (decision, totals, reasons, inventory changes), the 20 most important
machines in a table, the rest folded into a <details> block. GitHub refuses comments
over 65,536 characters, so the folded list is capped and points at the JSON report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

TOP = 20
FOLDED_MAX = 200  # rows in the <details> block; the JSON report has them all
MAX_CAUSES = 3  # per machine in the tables

_TITLE = {
    "pass": "pass",
    "stagger": "stagger (rollout in waves)",
    "block": "**BLOCKED** until approved",
    "invalid": "**invalid inventory**",
}


def _cell(text: object) -> str:
    # A table cell must not contain a pipe or a newline.
    return str(text).replace("|", "\\|").replace("\n", " ")


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.1f} %"


def _host_rows(hosts: Iterable[Mapping[str, Any]]) -> list[str]:
    rows = [
        "| machine | kind | change | segments | causes | +/− | evacuate |",
        "|---|---|---|---|---|---|---|",
    ]
    for h in hosts:
        causes = "; ".join(h["causes"][:MAX_CAUSES])
        if len(h["causes"]) > MAX_CAUSES:
            causes += f" (+{len(h['causes']) - MAX_CAUSES} more)"
        evacuate = ", ".join(h["evacuate"][:5]) + (f" (+{len(h['evacuate']) - 5})" if len(h["evacuate"]) > 5 else "")
        state = f" ({h['state']})" if h.get("state") not in (None, "changed") else ""
        rows.append(
            f"| `{_cell(h['name'])}`{state} | {h['kind']} | {h['change']} | {_cell(', '.join(h['segments']))} "
            f"| {_cell(causes)} | +{len(h['added'])} −{len(h['removed'])} | {_cell(evacuate)} |"
        )
    return rows


def summary(report: Mapping[str, Any], title: str = "netcfg check") -> str:
    if report["decision"] == "invalid":
        return invalid_summary(report.get("errors", []), title)
    totals = report.get("totals", {})
    lines = [
        f"### {title}: {_TITLE.get(report['decision'], report['decision'])}",
        "",
        f"**{report['hosts_touched']} of {report['hosts_total']} machines touched "
        f"({_pct(report['fraction'])})** · design `{report['design']}` · reconfigure "
        f"`{report.get('reconfigure', '?')}`  ",
        f"{totals.get('hot', 0)} hot · {totals.get('disruptive', 0)} disruptive · "
        f"{totals.get('evacuate', 0)} VMs to evacuate · digest `{report['digest'][:16]}`",
        "",
        "**Decision**",
        "",
        *[f"- {_cell(r)}" for r in report["reasons"]],
    ]
    changes = report.get("changes", [])
    if changes:
        lines += ["", "**Inventory changes**", ""]
        for c in changes[:50]:
            where = f" (`{c['where']}`)" if c.get("where") else ""
            touches = c.get("touches", 0)
            lines.append(f"- {_cell(c['text'])}{where}: {touches} machine{'s' if touches != 1 else ''} touched")
        if len(changes) > 50:
            lines.append(f"- … and {len(changes) - 50} more (JSON report)")
    segments = {s: v for s, v in report.get("segments", {}).items() if v["touched"]}
    kinds = {k: v for k, v in report.get("kinds", {}).items() if v["touched"]}
    if segments or kinds:
        lines += ["", "| touched | " + " | ".join([*segments, *kinds]) + " |"]
        lines.append("|---|" + "---|" * (len(segments) + len(kinds)))
        cells = [f"{v['touched']} / {v['machines']}" for v in [*segments.values(), *kinds.values()]]
        lines.append("| machines | " + " | ".join(cells) + " |")
    hosts = report["hosts"]
    if hosts:
        top = hosts[:TOP]
        heading = f"all {len(hosts)}" if len(hosts) <= TOP else f"{TOP} most important of {len(hosts)}"
        lines += ["", f"**Machines** ({heading}; disruptive KVM hosts first)", ""]
        lines += _host_rows(top)
        rest = hosts[TOP:]
        if rest:
            shown = rest[:FOLDED_MAX]
            lines += ["", f"<details><summary>{len(rest)} more machines</summary>", ""]
            lines += _host_rows(shown)
            if len(rest) > len(shown):
                lines += ["", f"… and {len(rest) - len(shown)} more: see the JSON report."]
            lines += ["", "</details>"]
    if report["decision"] == "block":
        lines += [
            "",
            "To approve exactly this change, add a file `approvals/<name>.yaml` to the inventory:",
            "",
            "```yaml",
            f"digest: {report['digest']}",
            "by: <your name>",
            "reason: <why this fleet-wide change is safe>",
            "```",
        ]
    return "\n".join(lines) + "\n"


def invalid_summary(errors: Iterable[str], title: str = "netcfg check") -> str:
    errors = list(errors)
    lines = [
        f"### {title}: {_TITLE['invalid']}",
        "",
        f"The inventory does not load ({len(errors)} problem{'s' if len(errors) != 1 else ''}); nothing was analysed.",
        "",
        "```",
        *errors[:200],
        *([f"… and {len(errors) - 200} more"] if len(errors) > 200 else []),
        "```",
    ]
    return "\n".join(lines) + "\n"
