"""The JSON report of an analysis: the contract CI, the rollout planner and people read.

Required keys (never renamed): decision, digest, design, hosts_total, hosts_touched,
fraction, reasons, hosts (name, kind, segments, change, causes, added, removed,
evacuate). Extra keys: base, head, reconfigure, totals, segments, kinds, changes,
approvals, approved_by, state (per host: added | removed | changed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from netcfg.inventory.approvals import Approval
from netcfg.impact.inventory_diff import EntityChange
from netcfg.impact.diff import DISRUPTIVE, HOT
from netcfg.impact.seatbelt import Decision

if TYPE_CHECKING:
    from netcfg.impact.analysis import TouchedHost


def build_report(
    *,
    design: str,
    reconfigure: str,
    total: int,
    hosts: Iterable[TouchedHost],
    decision: Decision,
    change_digest: str,
    changes: Iterable[EntityChange],
    segment_members: Mapping[str, list[str]],
    kinds: Mapping[str, str],
    approvals: Iterable[Approval],
    base_label: str,
    head_label: str,
) -> dict[str, Any]:
    hosts = list(hosts)
    touched = {h.diff.name for h in hosts}
    per_kind: dict[str, dict[str, int]] = {}
    for name, kind in sorted(kinds.items()):
        row = per_kind.setdefault(kind, {"machines": 0, "touched": 0})
        row["machines"] += 1
        row["touched"] += name in touched
    touched_by_change = Counter(text for h in hosts for text in h.causes)
    return {
        "decision": decision.decision,
        "digest": change_digest,
        "design": design,
        "hosts_total": total,
        "hosts_touched": len(hosts),
        "fraction": round(len(hosts) / total, 6) if total else 0.0,
        "reasons": list(decision.reasons),
        "base": base_label,
        "head": head_label,
        "reconfigure": reconfigure,
        "totals": {
            HOT: sum(h.change == HOT for h in hosts),
            DISRUPTIVE: sum(h.change == DISRUPTIVE for h in hosts),
            "added": sum(h.diff.state == "added" for h in hosts),
            "removed": sum(h.diff.state == "removed" for h in hosts),
            "evacuate": sum(len(h.evacuate) for h in hosts),
        },
        "segments": {
            s: {"machines": len(members), "touched": len(touched & set(members))}
            for s, members in sorted(segment_members.items())
        },
        "kinds": {k: per_kind[k] for k in sorted(per_kind)},
        "changes": [
            {"text": c.text, "where": c.where, "touches": touched_by_change.get(c.text, 0)} for c in changes
        ],
        "approvals": [
            {"file": a.file, "by": a.by, "reason": a.reason, "digest": a.digest, "matches": a.digest == change_digest}
            for a in approvals
        ],
        "approved_by": decision.approved_by.by if decision.approved_by else None,
        "hosts": [
            {
                "name": h.diff.name,
                "kind": h.diff.kind,
                "segments": list(h.diff.segments),
                "change": h.change,
                "state": h.diff.state,
                "causes": list(h.causes),
                "added": list(h.diff.added),
                "removed": list(h.diff.removed),
                "evacuate": list(h.evacuate),
            }
            for h in hosts
        ],
    }


def invalid_report(problems: Iterable[object]) -> dict[str, Any]:
    """The report `check` writes when an inventory does not load (exit 2)."""
    errors = [str(p) for p in problems]
    # Every key of a normal report is there too (nothing analysed), so a consumer reading
    # `report["hosts_touched"]` needs no special case; `errors` lists the problems.
    return {
        "decision": "invalid",
        "digest": None,
        "design": None,
        "hosts_total": 0,
        "hosts_touched": 0,
        "fraction": 0.0,
        "reasons": [f"the inventory does not load ({len(errors)} problem{'s' if len(errors) != 1 else ''}): nothing was analysed"],
        "hosts": [],
        "errors": errors,
    }
