"""Plain-text and JSON forms of the semantic diff (`netcfg diff`)."""

from __future__ import annotations

from typing import Any

from netcfg.impact.model import HostState, Impact
from netcfg.words import plural


def diff_json(impact: Impact) -> dict[str, Any]:
    hosts = sorted(impact.hosts, key=lambda h: h.diff.name)
    return {
        "base": impact.base,
        "head": impact.head,
        "design": impact.design.value if impact.design else None,
        "machines_added": [h.diff.name for h in hosts if h.diff.state is HostState.ADDED],
        "machines_removed": [h.diff.name for h in hosts if h.diff.state is HostState.REMOVED],
        "hosts": [
            {
                "name": h.diff.name,
                "kind": h.diff.kind.value,
                "state": h.diff.state.value,
                "change": h.change.value,
                "segments": list(h.diff.segments),
                "added": list(h.diff.added),
                "removed": list(h.diff.removed),
            }
            for h in hosts
        ],
    }


def diff_text(impact: Impact) -> str:
    hosts = sorted(impact.hosts, key=lambda h: h.diff.name)
    if not hosts:
        return "no machine's configuration changes\n"
    lines = []
    for h in hosts:
        state = "" if h.diff.state is HostState.CHANGED else f"{h.diff.state}, "
        lines.append(f"{h.diff.name} ({h.diff.kind}, {state}{h.change})")
        lines += [f"  - {item}" for item in h.diff.removed]
        lines += [f"  + {item}" for item in h.diff.added]
    added = sum(h.diff.state is HostState.ADDED for h in hosts)
    removed = sum(h.diff.state is HostState.REMOVED for h in hosts)
    lines.append(f"{plural(len(hosts), 'machine')} changed ({added} added, {removed} removed)")
    return "\n".join(lines) + "\n"
