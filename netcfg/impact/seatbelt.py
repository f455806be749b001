"""The seatbelt: pass, stagger or block a change, with reasons, a digest and approvals.

docs/design.md "Classification and the seatbelt": at most `stagger_above` touched machines pass; more
are staggered; touched machines above `max_fraction` of all or above `max_hosts`, or
every machine of a segment with more than `stagger_above` machines, block until an
approval names this change's digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence

from netcfg.errors import quote
from netcfg.impact.model import ChangeClass, Decision, HostDiff, Verdict
from netcfg.inventory.approvals import Approval
from netcfg.model.host import DesignName
from netcfg.model.inventory import Reconfigure, RolloutPolicy, Seatbelt
from netcfg.model.waves import DEFAULT_WAVES
from netcfg.words import plural


def digest(
    design: DesignName,
    changes: Iterable[tuple[HostDiff, ChangeClass]],
    reconfigure: Reconfigure = Reconfigure.LIVE,
    rollout: RolloutPolicy = RolloutPolicy(),
    inventory_changes: Iterable[str] = (),
) -> str:
    """sha256 over the canonical semantic diff: machines by name, items sorted, with
    their class; and what decides how the change rolls out: the reconfigure it is
    judged under, the rollout policy, and the inventory's own changes in words (a VM
    moved, a hypervisor's memory), so an approval approves the rollout its approver saw,
    not only the rules and routes. Reformatting, reordering or commenting the inventory
    never changes it."""
    canonical = {
        "design": design.value,
        "reconfigure": reconfigure.value,
        "rollout": {
            name: getattr(rollout, name)
            for name in sorted(rollout.__dataclass_fields__)
            # Wave sizes count once set; at their default they are left out, so the
            # digests approvals already name stay what they were.
            if name != "waves" or rollout.waves != DEFAULT_WAVES
        },
        "inventory": sorted(inventory_changes),
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
    """The seatbelt a change is judged by: a change cannot loosen it (a pull request
    raising max_fraction together with a fleet-wide change would otherwise pass
    unattended), so each limit is the stricter of base and head, and the approvers are
    the base's alone (a pull request cannot make its author an approver). Tightening
    applies at once."""
    return Seatbelt(
        max_fraction=min(base.max_fraction, head.max_fraction),
        max_hosts=min(base.max_hosts, head.max_hosts),
        stagger_above=min(base.stagger_above, head.stagger_above),
        approvers=base.approvers,
    )


def stricter_reconfigure(base: Reconfigure, head: Reconfigure) -> Reconfigure:
    """`restart` if either side says so: a change cannot reclassify itself as hot (and
    drop every evacuation) by switching its own policy to `live`."""
    return Reconfigure.RESTART if Reconfigure.RESTART in (base, head) else Reconfigure.LIVE


def _refusal(approval: Approval, approvers: Sequence[str]) -> str:
    """Why an approval of this very change does not count ('' when it does): its `by`
    must be one of the base's approvers, and when it was read from git, the commit that
    last changed it must be that approver's: a change cannot approve itself."""
    if not approvers:
        return "the base inventory names no approvers (policy.seatbelt.approvers)"
    if approval.by not in approvers:
        return f"{quote(approval.by)} is not one of the base's approvers ({', '.join(approvers)})"
    origin = approval.origin
    if origin.unverifiable:
        return f"who added it cannot be verified: {origin.unverifiable}"
    if origin.commit and not origin.made_by(approval.by):
        return f"it names {approval.by} but was committed by {origin}: a change cannot approve itself"
    return ""


def _pct(x: float) -> str:
    return f"{x * 100:.1f} %"


def decide(
    touched: set[str],
    total: int,
    segment_members: Mapping[str, Iterable[str]],
    seatbelt: Seatbelt,
    change_digest: str,
    approvals: Iterable[Approval] = (),
    routers: frozenset[str] = frozenset(),
    blocked_because: Sequence[str] = (),
) -> Verdict:
    """The verdict on a change touching `touched` of `total` machines. A segment whose
    every host and VM (its `segment_members` but the `routers`, which carry no segment
    rules) is touched blocks; its reason counts as the report's table does: touched
    machines of all the segment's machines. `blocked_because`: reasons to block whatever
    the change's size (flows it drops)."""
    n = len(touched)
    fraction = n / total if total else 0.0
    blockers: list[str] = list(blocked_because)
    if fraction > seatbelt.max_fraction:
        blockers.append(
            f"{n} of {total} machines touched ({_pct(fraction)}), above max_fraction {_pct(seatbelt.max_fraction)}"
        )
    if n > seatbelt.max_hosts:
        blockers.append(f"{plural(n, 'machine')} touched, above max_hosts {seatbelt.max_hosts}")
    for segment in sorted(segment_members):
        members = set(segment_members[segment])
        hosts = members - routers
        if len(hosts) > seatbelt.stagger_above and hosts <= touched:
            spared = len(members) - len(members & touched)  # routers all: every host is touched
            untouched = "the untouched one is a router" if spared == 1 else f"the {spared} untouched are routers"
            but = f"; {untouched} (routers carry no segment rules)" if spared else ""
            blockers.append(
                f"every host and VM of segment {segment} is touched: {len(members & touched)} of its "
                f"{len(members)} machines{but} (more than stagger_above {seatbelt.stagger_above})"
            )
    staggered = n > seatbelt.stagger_above
    size = (
        f"{plural(n, 'machine')} touched, above stagger_above {seatbelt.stagger_above}: staggered rollout"
        if staggered
        else f"{plural(n, 'machine')} touched, at most stagger_above {seatbelt.stagger_above}"
    )
    approvals = sorted(approvals)
    if not blockers:
        return Verdict(Decision.STAGGER if staggered else Decision.PASS, (size,))
    refused: list[str] = []
    accepted: list[tuple[Approval, str]] = []
    for a in approvals:
        if a.digest != change_digest:
            refused.append(
                f"approval {a.file} by {a.by} does not match this change (digest {a.digest[:12]}…, "
                f"this change is {change_digest[:12]}…)"
            )
            continue
        why_not = _refusal(a, seatbelt.approvers)
        if why_not:
            refused.append(f"approval {a.file} does not count: {why_not}")
        else:
            note = f" (verified: {a.origin})" if a.origin.commit else " (unverified: read from a directory, not git)"
            accepted.append((a, note))
    if accepted:
        approval, note = accepted[0]
        reasons = (
            *[f"{b} (would block)" for b in blockers],
            f"approved by {approval.by} in {approval.file}{note}: {approval.reason}",
            *refused,
            size,
        )
        return Verdict(Decision.STAGGER if staggered else Decision.PASS, tuple(reasons), approval)
    reasons = (*blockers, *refused, f"blocked: approve it with an approvals/*.yaml naming digest {change_digest}")
    return Verdict(Decision.BLOCK, tuple(reasons))
