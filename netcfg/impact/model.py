"""The typed result of an impact analysis: what CI, the planner and people read.

`Impact.to_json()` is the one place that knows the JSON report's keys. Required keys
(never renamed): decision, digest, design, hosts_total, hosts_touched, fraction,
reasons, hosts (name, kind, segments, change, causes, added, removed, evacuate). Extra
keys: inventory_digest (the head's content, for `plan --from-report`), base, head,
reconfigure, totals, segments, kinds, changes, approvals,
approved_by, state (per host: added | removed | changed), flows_changed and
flows_dropped (flow classes whose path the change moves, and those it drops) with
flows (by change, examples); errors for an inventory that does not load.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from netcfg.errors import quote
from netcfg.inventory.approvals import Approval
from netcfg.model.host import DesignName, Kind
from netcfg.model.inventory import Reconfigure

if TYPE_CHECKING:
    from netcfg.verify.flows import FlowChanges


class Decision(StrEnum):
    PASS = "pass"
    STAGGER = "stagger"  # a rollout in waves
    BLOCK = "block"  # until approved
    INVALID = "invalid"  # the inventory does not load: nothing was analysed


def decision_problem(value: object) -> str:
    """What is wrong with a `decision` read from a report or a plan file, or ''."""
    if type(value) is str and value in Decision._value2member_map_:
        return ""
    return f"$.decision: expected one of {', '.join(Decision)}, found {quote(value)}"


class ChangeClass(StrEnum):
    """How a machine takes its change (docs/design.md "Classification and the seatbelt")."""

    HOT = "hot"  # rules and routes over netlink, no interruption
    DISRUPTIVE = "disruptive"  # an interface restart; a KVM host is evacuated first


class HostState(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class HostDiff:
    """What one machine's rendered configuration gains and loses."""

    name: str
    kind: Kind
    state: HostState
    segments: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    structural: bool  # an address, interface or bridge changes: needs a restart

    def change(self, reconfigure: Reconfigure) -> ChangeClass:
        """hot or disruptive under the given reconfigure policy."""
        if reconfigure is Reconfigure.RESTART or self.structural:
            return ChangeClass.DISRUPTIVE
        return ChangeClass.HOT


@dataclass(frozen=True, slots=True)
class TouchedHost:
    """One machine whose configuration changes, with why and what it costs."""

    diff: HostDiff
    change: ChangeClass
    causes: tuple[str, ...]
    evacuate: tuple[str, ...]  # VMs to live-migrate away first (disruptive KVM host)


@dataclass(frozen=True, slots=True, order=True)
class EntityChange:
    """One change of the inventory itself, in words, at the graph node it concerns."""

    node: tuple[str, ...]
    text: str
    where: str = ""  # file:line:col in the head inventory (the base one for removals)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The seatbelt's decision on a change, and why."""

    decision: Decision
    reasons: tuple[str, ...]
    approved_by: Approval | None = None


@dataclass(frozen=True, slots=True)
class Count:
    """Machines of a group (a segment, a kind) and how many of them are touched."""

    machines: int
    touched: int


@dataclass(frozen=True, slots=True)
class Impact:
    verdict: Verdict
    digest: str | None
    design: DesignName | None
    hosts_total: int | None  # None: not counted, the inventory was not loaded (see `unchanged`)
    hosts: tuple[TouchedHost, ...] = ()  # most important first
    base: str = ""
    head: str = ""
    reconfigure: Reconfigure | None = None
    segments: tuple[tuple[str, Count], ...] = ()
    kinds: tuple[tuple[str, Count], ...] = ()
    changes: tuple[EntityChange, ...] = ()
    approvals: tuple[Approval, ...] = ()
    errors: tuple[str, ...] = ()  # an inventory that does not load: its problems
    inventory_digest: str | None = None  # the head's content (netcfg.inventory.digest)
    flows: FlowChanges | None = None  # flow classes whose path the change moves
    # What max_fraction is measured against: the smaller of base's and head's machines
    # (hosts_total counts both sides'); None: as hosts_total.
    fleet: int | None = None

    @staticmethod
    def invalid(problems: Iterable[object]) -> Impact:
        """The impact of a change whose inventory does not load (exit 2)."""
        errors = tuple(str(p) for p in problems)
        reason = f"the inventory does not load ({_count(len(errors), 'problem')}): nothing was analysed"
        return Impact(Verdict(Decision.INVALID, (reason,)), None, None, 0, errors=errors)

    @staticmethod
    def unchanged(
        files: int, digest: str, design: DesignName, reconfigure: Reconfigure, base: str, head: str
    ) -> Impact:
        """Base and head hold the same files byte for byte: nothing was loaded or rendered."""
        reason = (
            f"base and head hold the same {_count(files, 'file')}, byte for byte: nothing changes"
            " (nothing was loaded, so nothing was validated either: netcfg validate does that)"
        )
        return Impact(Verdict(Decision.PASS, (reason,)), digest, design, None, (), base, head, reconfigure)

    @property
    def decision(self) -> Decision:
        return self.verdict.decision

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.verdict.reasons

    @property
    def hosts_touched(self) -> int:
        return len(self.hosts)

    @property
    def judged_fleet(self) -> int | None:
        return self.hosts_total if self.fleet is None else self.fleet

    @property
    def fraction(self) -> float:
        """The touched fraction the seatbelt judges."""
        fleet = self.judged_fleet
        return round(len(self.hosts) / fleet, 6) if fleet else 0.0

    def total(self, change: ChangeClass) -> int:
        return sum(h.change is change for h in self.hosts)

    @property
    def evacuations(self) -> int:
        return sum(len(h.evacuate) for h in self.hosts)

    def touched_by_change(self) -> dict[str, int]:
        """Machines each inventory change touched, by the change's text."""
        counts: dict[str, int] = {}
        for h in self.hosts:
            for text in h.causes:
                counts[text] = counts.get(text, 0) + 1
        return counts

    def to_json(self) -> dict[str, Any]:
        head: dict[str, Any] = {
            "decision": self.decision.value,
            "digest": self.digest,
            "inventory_digest": self.inventory_digest,
            "design": self.design.value if self.design else None,
            "hosts_total": self.hosts_total,
            "hosts_touched": self.hosts_touched,
            "fraction": self.fraction,
            "fleet": self.judged_fleet,
            "reasons": list(self.reasons),
        }
        if self.decision is Decision.INVALID:
            # Every key of a normal report is there too (nothing analysed), so a consumer
            # reading `report["hosts_touched"]` needs no special case.
            return {**head, "flows_changed": 0, "flows_dropped": 0, "hosts": [], "errors": list(self.errors)}
        touched_by_change = self.touched_by_change()
        return {
            **head,
            "base": self.base,
            "head": self.head,
            "reconfigure": self.reconfigure.value if self.reconfigure else None,
            "totals": {
                ChangeClass.HOT.value: self.total(ChangeClass.HOT),
                ChangeClass.DISRUPTIVE.value: self.total(ChangeClass.DISRUPTIVE),
                "added": sum(h.diff.state is HostState.ADDED for h in self.hosts),
                "removed": sum(h.diff.state is HostState.REMOVED for h in self.hosts),
                "evacuate": self.evacuations,
            },
            "segments": {s: {"machines": c.machines, "touched": c.touched} for s, c in self.segments},
            "kinds": {k: {"machines": c.machines, "touched": c.touched} for k, c in self.kinds},
            "changes": [
                {"text": c.text, "where": c.where, "touches": touched_by_change.get(c.text, 0)} for c in self.changes
            ],
            "approvals": [
                {"file": a.file, "by": a.by, "reason": a.reason, "digest": a.digest, "matches": a.digest == self.digest}
                for a in self.approvals
            ],
            "approved_by": self.verdict.approved_by.by if self.verdict.approved_by else None,
            "flows_changed": self.flows.changed if self.flows else 0,
            "flows_dropped": self.flows.dropped if self.flows else 0,
            "flows": self.flows.to_json() if self.flows else None,
            "hosts": [
                {
                    "name": h.diff.name,
                    "kind": h.diff.kind.value,
                    "segments": list(h.diff.segments),
                    "change": h.change.value,
                    "state": h.diff.state.value,
                    "causes": list(h.causes),
                    "added": list(h.diff.added),
                    "removed": list(h.diff.removed),
                    "evacuate": list(h.evacuate),
                }
                for h in self.hosts
            ],
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
