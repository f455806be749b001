"""The seatbelt: pass, stagger or block a change, with reasons, a digest and approvals.

DESIGN.md "Seatbelt and approvals": at most `stagger_above` touched machines pass; more
are staggered; touched machines above `max_fraction` of all or above `max_hosts`, or
every machine of a segment with more than `stagger_above` machines, block until an
approval names this change's digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

from netcfg.impact.model import ChangeClass, Decision, HostDiff, Verdict
from netcfg.inventory.approvals import Approval
from netcfg.model.host import DesignName
from netcfg.model.inventory import Seatbelt


def digest(design: DesignName, changes: Iterable[tuple[HostDiff, ChangeClass]]) -> str:
    """sha256 over the canonical semantic diff: machines by name, items sorted, with
    their class. Depends on nothing but what would be applied, so reformatting,
    reordering or commenting the inventory never changes it."""
    canonical = {
        "design": design.value,
        "hosts": [
            {
                "name": d.name,
                "state": d.state.value,
                "change": change.value,
                "added": sorted(d.added),
                "removed": sorted(d.removed),
            }
            for d, change in sorted(changes, key=lambda c: c[0].name)
        ],
    }
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def stricter(base: Seatbelt, head: Seatbelt) -> Seatbelt:
    """The limits a change is judged by: the head's, except that a change cannot loosen
    the seatbelt it is judged by (a pull request raising max_fraction together with a
    fleet-wide change would otherwise pass unattended). Tightening applies at once."""
    return Seatbelt(
        max_fraction=min(base.max_fraction, head.max_fraction),
        max_hosts=min(base.max_hosts, head.max_hosts),
        stagger_above=min(base.stagger_above, head.stagger_above),
    )


def _pct(x: float) -> str:
    return f"{x * 100:.1f} %"


def decide(
    touched: set[str],
    total: int,
    segment_members: Mapping[str, Iterable[str]],
    seatbelt: Seatbelt,
    change_digest: str,
    approvals: Iterable[Approval] = (),
) -> Verdict:
    n = len(touched)
    fraction = n / total if total else 0.0
    blockers: list[str] = []
    if fraction > seatbelt.max_fraction:
        blockers.append(
            f"{n} of {total} machines touched ({_pct(fraction)}), above max_fraction {_pct(seatbelt.max_fraction)}"
        )
    if n > seatbelt.max_hosts:
        blockers.append(f"{n} machines touched, above max_hosts {seatbelt.max_hosts}")
    for segment in sorted(segment_members):
        members = set(segment_members[segment])
        if len(members) > seatbelt.stagger_above and members <= touched:
            blockers.append(
                f"every machine of segment {segment} ({len(members)}) is touched "
                f"(more than stagger_above {seatbelt.stagger_above})"
            )
    staggered = n > seatbelt.stagger_above
    size = (
        f"{n} machines touched, above stagger_above {seatbelt.stagger_above}: staggered rollout"
        if staggered
        else f"{n} machine{'s' if n != 1 else ''} touched, at most stagger_above {seatbelt.stagger_above}"
    )
    approvals = sorted(approvals)
    if not blockers:
        return Verdict(Decision.STAGGER if staggered else Decision.PASS, (size,))
    matching = [a for a in approvals if a.digest == change_digest]
    stale = [
        f"approval {a.file} by {a.by} does not match this change (digest {a.digest[:12]}…, "
        f"this change is {change_digest[:12]}…)"
        for a in approvals
        if a.digest != change_digest
    ]
    if matching:
        approval = matching[0]
        reasons = (
            *[f"{b} (would block)" for b in blockers],
            f"approved by {approval.by} in {approval.file}: {approval.reason}",
            size,
        )
        return Verdict(Decision.STAGGER if staggered else Decision.PASS, tuple(reasons), approval)
    reasons = (*blockers, *stale, f"blocked: approve it with an approvals/*.yaml naming digest {change_digest}")
    return Verdict(Decision.BLOCK, tuple(reasons))
