"""`analyse(base, head)`: the whole impact analysis, the one call the CLI and the rollout
planner build on.

Steps: load both sides (directories or git revisions) -> diff the inventories entity by
entity -> map each entity change through the dependency graph to the machines that read
it -> render only those machines on both sides -> diff the semantic configs -> classify
each touched machine (hot / disruptive, VMs to evacuate) -> seatbelt decision with the
digest and the head's approvals -> the JSON report.

Policy (reconfigure, seatbelt) comes from the HEAD inventory: the change is judged by
the rules it will be applied under, including a policy it changes itself; except that a
change cannot loosen the seatbelt it is judged by (the stricter limits of both apply).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from netcfg.errors import InputError
from netcfg.inventory.approvals import APPROVALS_DIR, Approval, parse_approvals
from netcfg.impact.inventory_diff import EntityChange, diff_inventories
from netcfg.gc_tuning import rare_full_collections
from netcfg.impact.parallel import render_and_diff
from netcfg.impact.diff import DISRUPTIVE, HostDiff
from netcfg.impact.graph import build_graph, dependents, machines_of_segment
from netcfg.impact.report import build_report
from netcfg.impact.seatbelt import Decision, decide, digest, stricter
from netcfg.inventory.sources import Source, disk_texts, read_texts, resolve
from netcfg.model.inventory import Inventory
from netcfg.inventory.load import load_inventory, load_inventory_texts
from netcfg.model.inventory import DesignName, Kind


@dataclass(frozen=True, slots=True)
class TouchedHost:
    """One machine whose configuration changes, with why and what it costs."""

    diff: HostDiff
    change: str  # hot | disruptive
    causes: tuple[str, ...]
    evacuate: tuple[str, ...]  # VMs to live-migrate away first (disruptive KVM host)


@dataclass(frozen=True, slots=True)
class Analysis:
    base: Inventory
    head: Inventory
    report: dict[str, Any]
    design: str
    hosts: tuple[TouchedHost, ...]  # in report order: most important first
    changes: tuple[EntityChange, ...]
    decision: Decision
    digest: str
    approvals: tuple[Approval, ...] = ()
    base_source: Source = field(default_factory=Source)
    head_source: Source = field(default_factory=Source)


def load_source(source: Source) -> tuple[Inventory, tuple[Approval, ...]]:
    """The inventory of one side and the approvals stored with it."""
    if source.path is not None:
        inventory = load_inventory(source.path)
        if source.path.is_dir():
            return inventory, parse_approvals(disk_texts(source.path, APPROVALS_DIR), str(source.path))
        return inventory, ()
    texts = read_texts(source)
    prefix = APPROVALS_DIR + "/"
    approval_texts = {p: t for p, t in texts.items() if p.startswith(prefix) and "/" not in p[len(prefix):]}
    # Keys name the file as git shows it ("origin/main:inventory/networks.yaml"), so
    # every error points at rev:path:line:col.
    inventory_texts = {f"{source.label}/{p}" if p else source.label: t for p, t in texts.items() if not p.startswith(prefix)}
    inventory = load_inventory_texts(inventory_texts, source=source.label)
    return inventory, parse_approvals(approval_texts, source.label)


def load_pair(base: Source, head: Source) -> tuple[Inventory, Inventory, tuple[Approval, ...]]:
    """Both sides, with every problem of both reported at once."""
    problems = []
    loaded = []
    for side in (base, head):
        try:
            loaded.append(load_source(side))
        except InputError as error:
            problems.extend(error.problems)
    if problems:
        raise InputError(problems)
    (base_inv, _), (head_inv, approvals) = loaded
    return base_inv, head_inv, approvals


def analyse(
    base: str,
    head: str | None = None,
    *,
    design: str | None = None,
    inventory_dir: str = "inventory",
    cwd: str = ".",
) -> Analysis:
    """Impact of going from `base` to `head` (directories or git revisions; head None is
    the working tree's `inventory_dir`). Raises InputError for bad input; a blocked
    change is not an error here: its Analysis says so."""
    base_source = resolve(base, inventory_dir=inventory_dir, cwd=cwd)
    head_source = resolve(head, inventory_dir=inventory_dir, cwd=cwd)
    # Loading builds millions of small objects: see rare_full_collections.
    with rare_full_collections():
        base_inv, head_inv, approvals = load_pair(base_source, head_source)
    return analyse_inventories(
        base_inv, head_inv, design=design, approvals=approvals, base_source=base_source, head_source=head_source
    )


def analyse_inventories(
    base: Inventory,
    head: Inventory,
    *,
    design: str | DesignName | None = None,
    approvals: tuple[Approval, ...] = (),
    full_render: bool = False,
    base_source: Source | None = None,
    head_source: Source | None = None,
) -> Analysis:
    """The analysis of two loaded inventories. `full_render` renders every machine
    instead of the graph's candidates (used by tests to prove both agree)."""
    with rare_full_collections():
        return _analyse(base, head, design, approvals, full_render, base_source, head_source)


def _analyse(
    base: Inventory,
    head: Inventory,
    design: str | DesignName | None,
    approvals: tuple[Approval, ...],
    full_render: bool,
    base_source: Source | None,
    head_source: Source | None,
) -> Analysis:
    overridden = design is not None
    head_design = DesignName(design) if overridden else head.policy.design
    base_design = head_design if overridden else base.policy.design

    changes = tuple(diff_inventories(base, head, design_overridden=overridden))
    base_graph = build_graph(base, base_design)
    head_graph = build_graph(head, head_design)
    causes: dict[str, list[str]] = {}
    for change in changes:
        for name in dependents(base_graph, change.node) | dependents(head_graph, change.node):
            causes.setdefault(name, []).append(change.text)

    # Machines outside the dependents of every change read nothing that changed: their
    # configurations are identical on both sides and need no rendering.
    candidates = set(base.machines) | set(head.machines) if full_render else set(causes)
    diffs = render_and_diff(base, head, base_design, head_design, sorted(candidates))

    touched = classify(diffs, head, causes)
    change_digest = digest(str(head_design), [(t.diff, t.change) for t in touched])
    members = {s: [m.name for m in ms] for s, ms in machines_of_segment(head).items()}
    total = len(set(base.machines) | set(head.machines))
    seatbelt = stricter(base.policy.seatbelt, head.policy.seatbelt)
    decision = decide(
        {t.diff.name for t in touched}, total, _seatbelt_members(head, members), seatbelt,
        change_digest, approvals,
    )
    if seatbelt != head.policy.seatbelt:
        note = (f"this change loosens the seatbelt: it is judged by the stricter limits of base and head "
                f"(max_fraction {seatbelt.max_fraction:g}, max_hosts {seatbelt.max_hosts}, "
                f"stagger_above {seatbelt.stagger_above})")
        decision = replace(decision, reasons=(note, *decision.reasons))
    hosts = tuple(touched)
    report = build_report(
        design=str(head_design),
        reconfigure=str(head.policy.reconfigure),
        total=total,
        hosts=hosts,
        decision=decision,
        change_digest=change_digest,
        changes=changes,
        segment_members=members,
        kinds=_kinds(base, head),
        approvals=approvals,
        base_label=base_source.label if base_source else base.source,
        head_label=head_source.label if head_source else head.source,
    )
    return Analysis(
        base=base,
        head=head,
        report=report,
        design=str(head_design),
        hosts=hosts,
        changes=changes,
        decision=decision,
        digest=change_digest,
        approvals=approvals,
        base_source=base_source or Source(path=Path(base.source or ".")),
        head_source=head_source or Source(path=Path(head.source or ".")),
    )


def classify(diffs: Mapping[str, HostDiff], head: Inventory, causes: Mapping[str, list[str]]) -> list[TouchedHost]:
    """Hot or disruptive under the head's `reconfigure`, the VMs a disruptive KVM host
    must evacuate first (its VMs in the head), and the causes; most important first."""
    vms: dict[str, list[str]] = {}
    for machine in head.machines.values():
        if machine.kind is Kind.VM and machine.host:
            vms.setdefault(machine.host, []).append(machine.name)
    touched = []
    for name, d in diffs.items():
        change = d.change(head.policy.reconfigure)
        evacuate = tuple(sorted(vms.get(name, ()))) if change == DISRUPTIVE and d.kind == str(Kind.KVM_HOST) else ()
        # A machine always has a cause when the graph is right; the fallback keeps the
        # report honest if it ever is not.
        why = tuple(dict.fromkeys(causes.get(name, ["rendered configuration changed"])))
        touched.append(TouchedHost(d, change, why, evacuate))
    return sorted(touched, key=importance)


def _seatbelt_members(head: Inventory, members: Mapping[str, list[str]]) -> dict[str, list[str]]:
    # Routers never carry a segment's rules, so "every machine of the segment" means its
    # hosts and VMs: a fleet-wide change must not slip through because a router is spared.
    return {s: [n for n in names if head.machines[n].kind is not Kind.ROUTER] for s, names in members.items()}


def importance(host: TouchedHost) -> tuple[int, int, str]:
    """Disruptive KVM hosts first (most VMs to evacuate first), then other disruptive
    machines, then hot ones; by name within each."""
    d = host.diff
    if host.change == DISRUPTIVE:
        rank = 0 if d.kind == str(Kind.KVM_HOST) else 1
    else:
        rank = 2
    return (rank, -len(host.evacuate), d.name)


def _kinds(base: Inventory, head: Inventory) -> Mapping[str, str]:
    kinds = {name: str(m.kind) for name, m in base.machines.items()}
    kinds.update({name: str(m.kind) for name, m in head.machines.items()})
    return kinds
