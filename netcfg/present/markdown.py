"""The Markdown summary of an impact, fit for a pull-request comment.

Short on top (decision, totals, reasons, inventory changes), the 20 most important
machines in a table, the rest folded into a <details> block. GitHub refuses comments
over 65,536 characters, so the folded list is capped and points at the JSON report.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from netcfg.errors import printable
from netcfg.impact.model import ChangeClass, Decision, HostState, Impact, TouchedHost
from netcfg.present.impact import touched
from netcfg.words import plural

TOP = 20
FOLDED_MAX = 200  # rows in the <details> block; the JSON report has them all
MAX_CAUSES = 3  # per machine in the tables
MAX_ERRORS = 200

_TITLE = {
    Decision.PASS: "pass",
    Decision.STAGGER: "stagger (rollout in waves)",
    Decision.BLOCK: "**BLOCKED** until approved",
    Decision.INVALID: "**invalid inventory**",
}


# Characters that start Markdown formatting; `<` and `&` (HTML) are escaped as entities.
_MARKDOWN = re.compile(r"([\\`*_\[\]|~#])")
# What GitHub turns into a mention or a link by itself: a word joiner (U+2060, not
# shown) after the `@` or in the scheme stops it.
_MENTION = re.compile(r"@(?=\w)")
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp)(:)(?=//)|\b(www)(\.)")
_BACKTICKS = re.compile(r"`+")


def _cell(text: object) -> str:
    """Inventory text as Markdown text: one line, nothing in it formats, mentions,
    links or breaks out of a table or a code fence (a service named `</details>` is
    just text)."""
    one_line = printable(" ".join(str(text).split()))
    escaped = _MARKDOWN.sub(r"\\\1", html.escape(one_line, quote=False))
    escaped = _AUTOLINK.sub(lambda m: f"{m.group(1) or m.group(3)}\u2060{m.group(2) or m.group(4)}", escaped)
    return _MENTION.sub("@\u2060", escaped)


def _code(text: object) -> str:
    """Inventory text as an inline code span, fenced by more backticks than it holds."""
    value = printable(" ".join(str(text).split()))
    fence = "`" * (1 + max((len(run) for run in _BACKTICKS.findall(value)), default=0))
    return f"{fence} {value} {fence}" if "`" in value else f"`{value}`"


def _fence(lines: list[str]) -> str:
    """A fence for a code block holding `lines`: longer than any backtick run in them."""
    return "`" * max(3, 1 + max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0))


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _host_rows(hosts: Iterable[TouchedHost]) -> list[str]:
    rows = [
        "| machine | kind | change | segments | causes | +/− | evacuate |",
        "|---|---|---|---|---|---|---|",
    ]
    for h in hosts:
        causes = "; ".join(h.causes[:MAX_CAUSES])
        if len(h.causes) > MAX_CAUSES:
            causes += f" (+{len(h.causes) - MAX_CAUSES} more)"
        evacuate = ", ".join(h.evacuate[:5]) + (f" (+{len(h.evacuate) - 5})" if len(h.evacuate) > 5 else "")
        state = f" ({h.diff.state})" if h.diff.state is not HostState.CHANGED else ""
        rows.append(
            f"| {_code(h.diff.name)}{state} | {h.diff.kind} | {h.change} | {_cell(', '.join(h.diff.segments))} "
            f"| {_cell(causes)} | +{len(h.diff.added)} −{len(h.diff.removed)} | {_cell(evacuate)} |"
        )
    return rows


def summary(impact: Impact, title: str = "netcfg check") -> str:
    if impact.decision is Decision.INVALID:
        return invalid_summary(impact.errors, title)
    lines = [
        f"### {title}: {_TITLE[impact.decision]}",
        "",
        f"**{touched(impact)}** · design `{impact.design}` · reconfigure `{impact.reconfigure}`  ",
        f"{impact.total(ChangeClass.HOT)} hot · {impact.total(ChangeClass.DISRUPTIVE)} disruptive · "
        f"{plural(impact.evacuations, 'VM')} to evacuate · digest `{(impact.digest or '')[:16]}`",
        "",
        "**Decision**",
        "",
        *[f"- {_cell(r)}" for r in impact.reasons],
    ]
    if impact.changes:
        touches = impact.touched_by_change()
        lines += ["", "**Inventory changes**", ""]
        for c in impact.changes[:50]:
            where = f" ({_code(c.where)})" if c.where else ""
            lines.append(f"- {_cell(c.text)}{where}: {_plural(touches.get(c.text, 0), 'machine')} touched")
        if len(impact.changes) > 50:
            lines.append(f"- … and {len(impact.changes) - 50} more (JSON report)")
    flows = impact.flows
    if flows is not None and flows.changed:
        moved = " · ".join(f"{n:,} {change}" for change, n in flows.by_change)
        lines += ["", f"**Flows** ({flows.changed:,} of {flows.compared:,} flow classes move: {moved})", ""]
        lines += [f"- {_cell(str(e))}" for e in flows.examples]
    groups = [(s, c) for s, c in impact.segments if c.touched] + [(k, c) for k, c in impact.kinds if c.touched]
    if groups:
        lines += ["", "| touched | " + " | ".join(_cell(name) for name, _ in groups) + " |"]
        lines.append("|---|" + "---|" * len(groups))
        lines.append("| machines | " + " | ".join(f"{c.touched} / {c.machines}" for _, c in groups) + " |")
    hosts = impact.hosts
    if hosts:
        heading = f"all {len(hosts)}" if len(hosts) <= TOP else f"{TOP} most important of {len(hosts)}"
        lines += ["", f"**Machines** ({heading}; disruptive KVM hosts first)", ""]
        lines += _host_rows(hosts[:TOP])
        rest = hosts[TOP:]
        if rest:
            shown = rest[:FOLDED_MAX]
            lines += ["", f"<details><summary>{len(rest)} more machines</summary>", ""]
            lines += _host_rows(shown)
            if len(rest) > len(shown):
                lines += ["", f"… and {len(rest) - len(shown)} more: see the JSON report."]
            lines += ["", "</details>"]
    if impact.decision is Decision.BLOCK:
        lines += [
            "",
            "To approve exactly this change, add a file `approvals/<name>.yaml` to the inventory:",
            "",
            "```yaml",
            f"digest: {impact.digest}",
            "by: <your name>",
            "reason: <why this fleet-wide change is safe>",
            "```",
        ]
    return "\n".join(lines) + "\n"


def invalid_summary(errors: Iterable[str], title: str = "netcfg check") -> str:
    errors = list(errors)
    shown = [printable(e) for e in errors[:MAX_ERRORS]]
    shown += [f"… and {len(errors) - MAX_ERRORS} more"] if len(errors) > MAX_ERRORS else []
    fence = _fence(shown)
    lines = [
        f"### {title}: {_TITLE[Decision.INVALID]}",
        "",
        f"The inventory does not load ({_plural(len(errors), 'problem')}); nothing was analysed.",
        "",
        fence,
        *shown,
        fence,
    ]
    return "\n".join(lines) + "\n"
