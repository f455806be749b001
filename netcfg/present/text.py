"""Plain-text and JSON forms of the semantic diff (`netcfg diff`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def diff_json(report: Mapping[str, Any]) -> dict[str, Any]:
    hosts = sorted(report["hosts"], key=lambda h: h["name"])
    return {
        "base": report.get("base"),
        "head": report.get("head"),
        "design": report["design"],
        "machines_added": [h["name"] for h in hosts if h.get("state") == "added"],
        "machines_removed": [h["name"] for h in hosts if h.get("state") == "removed"],
        "hosts": [
            {k: h[k] for k in ("name", "kind", "state", "change", "segments", "added", "removed")} for h in hosts
        ],
    }


def diff_text(report: Mapping[str, Any]) -> str:
    data = diff_json(report)
    if not data["hosts"]:
        return "no machine's configuration changes\n"
    lines = []
    for h in data["hosts"]:
        state = "" if h["state"] == "changed" else f"{h['state']}, "
        lines.append(f"{h['name']} ({h['kind']}, {state}{h['change']})")
        lines += [f"  - {item}" for item in h["removed"]]
        lines += [f"  + {item}" for item in h["added"]]
    lines.append(
        f"{len(data['hosts'])} machines changed ({len(data['machines_added'])} added, "
        f"{len(data['machines_removed'])} removed)"
    )
    return "\n".join(lines) + "\n"
