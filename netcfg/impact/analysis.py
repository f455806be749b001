"""`analyse(base, head)`: the whole impact analysis, the one call the CLI and the rollout
planner build on.

Steps: load both sides (directories or git revisions) -> diff the inventories entity by
entity -> map each entity change through the dependency graph to the machines that read
it -> render only those machines on both sides -> diff the semantic configs -> classify
each touched machine (hot / disruptive, VMs to evacuate) -> seatbelt verdict with the
digest and the head's approvals -> the typed Impact.

Policy (reconfigure, seatbelt) comes from the HEAD inventory: the change is judged by
the rules it will be applied under, including a policy it changes itself; except that a
change cannot loosen the seatbelt it is judged by (the stricter limits of both apply).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from netcfg.designs import get_design
from netcfg.designs.gateways import gateway_problems
from netcfg.errors import InputError
from netcfg.gc_tuning import frozen_heap, rare_full_collections
from netcfg.impact.graph import build_graph, dependents, machines_of_segment
from netcfg.impact.inventory_diff import diff_inventories
from netcfg.impact.model import ChangeClass, Count, HostDiff, HostState, Impact, TouchedHost
from netcfg.impact.parallel import render_and_diff
from netcfg.impact.seatbelt import decide, digest, stricter, stricter_reconfigure
from netcfg.inventory.approvals import Approval
from netcfg.inventory.digest import inventory_digest
from netcfg.inventory.sameness import same_content
from netcfg.inventory.sources import Source, load_pair_beside, resolve
from netcfg.model.host import DesignName, Kind
from netcfg.model.inventory import Inventory, Reconfigure, Seatbelt
from netcfg.progress import Progress, silent
from netcfg.verify.flows import flow_changes
from netcfg.words import plural


@dataclass(frozen=True, slots=True)
class Analysis:
    """Both inventories, and what going from one to the other does."""

    base: Inventory
    head: Inventory
    impact: Impact


def analyse(
    base: str,
    head: str | None = None,
    *,
    design: DesignName | str | None = None,
    inventory_dir: str = "inventory",
    cwd: str = ".",
    jobs: int = 1,
    progress: Progress = silent,
) -> Analysis:
    """Impact of going from `base` to `head` (directories or git revisions; head None is
    the working tree's `inventory_dir`). Raises InputError for bad input; a blocked
    change is not an error here: its Impact says so. `jobs`: processes, for each side's
    checks beside the rest (load_pair_beside) and the render and diff of a large change."""
    base_source = resolve(base, inventory_dir=inventory_dir, cwd=cwd)
    head_source = resolve(head, inventory_dir=inventory_dir, cwd=cwd)

    def analysed(base_inv: Inventory, head_inv: Inventory, approvals: tuple[Approval, ...]) -> Analysis:
        return analyse_inventories(
            base_inv,
            head_inv,
            design=design,
            approvals=approvals,
            labels=(base_source, head_source),
            jobs=jobs,
            progress=progress,
        )

    return load_pair_beside(base_source, head_source, analysed, jobs, progress)


def unchanged(
    base: str,
    head: str | None = None,
    *,
    design: DesignName | str | None = None,
    inventory_dir: str = "inventory",
    cwd: str = ".",
) -> Impact | None:
    """The impact of comparing an inventory with the same files, found without loading
    either side; None when the sides differ (or that cannot be told cheaply)."""
    base_source = resolve(base, inventory_dir=inventory_dir, cwd=cwd)
    head_source = resolve(head, inventory_dir=inventory_dir, cwd=cwd)
    same = same_content(base_source, head_source)
    if same is None:
        return None
    chosen = DesignName(design) if design is not None else same.policy.design
    reconfigure = same.policy.reconfigure
    return Impact.unchanged(
        same.files,
        digest(chosen, [], reconfigure, same.policy.rollout),
        chosen,
        reconfigure,
        base_source.label,
        head_source.label,
    )


def analyse_inventories(
    base: Inventory,
    head: Inventory,
    *,
    design: DesignName | str | None = None,
    approvals: tuple[Approval, ...] = (),
    full_render: bool = False,
    labels: tuple[Source, Source] | None = None,
    jobs: int = 1,
    progress: Progress = silent,
) -> Analysis:
    """The analysis of two loaded inventories. `full_render` renders every machine
    instead of the graph's candidates (used by tests to prove both agree)."""
    with rare_full_collections(), frozen_heap():
        impact = _impact(base, head, design, approvals, full_render, labels, jobs, progress)
    return Analysis(base, head, impact)


def _impact(
    base: Inventory,
    head: Inventory,
    design: DesignName | str | None,
    approvals: tuple[Approval, ...],
    full_render: bool,
    labels: tuple[Source, Source] | None,
    jobs: int,
    progress: Progress,
) -> Impact:
    overridden = design is not None
    head_design = DesignName(design) if design is not None else head.policy.design
    base_design = head_design if overridden else base.policy.design
    forced = head_design if overridden else None  # else each machine's own design

    progress("finding the machines the change touches")
    changes = tuple(diff_inventories(base, head, design_overridden=overridden))
    base_graph = build_graph(base, forced)
    head_graph = build_graph(head, forced)
    causes: dict[str, list[str]] = {}
    for change in changes:
        for name in dependents(base_graph, change.node) | dependents(head_graph, change.node):
            causes.setdefault(name, []).append(change.text)

    # Machines outside the dependents of every change read nothing that changed: their
    # configurations are identical on both sides and need no rendering.
    candidates = set(base.machines) | set(head.machines) if full_render else set(causes)
    if overridden:
        _require_renderable(base, base_design, candidates)
        _require_renderable(head, head_design, candidates)
    diffs = render_and_diff(base, head, forced, forced, sorted(candidates), jobs, progress)

    reconfigure = stricter_reconfigure(base.policy.reconfigure, head.policy.reconfigure)
    touched = classify(diffs, head, causes, reconfigure)
    change_digest = digest(
        head_design,
        [(t.diff, t.change) for t in touched],
        reconfigure,
        head.policy.rollout,
        (c.text for c in changes),
    )
    flows = flow_changes(base, head, forced, progress=progress)
    members = {s: [m.name for m in ms] for s, ms in machines_of_segment(head).items()}
    total = len(set(base.machines) | set(head.machines))
    fleet = _fraction_of(len(base.machines), len(head.machines))
    seatbelt = stricter(base.policy.seatbelt, head.policy.seatbelt)
    verdict = decide(
        {t.diff.name for t in touched},
        fleet,
        members,
        seatbelt,
        change_digest,
        approvals,
        frozenset(n for n, m in head.machines.items() if m.kind is Kind.ROUTER),
        blocked_because=[b for b in [flows.blocker(), _moves_vms_it_disrupts(base, head, touched)] if b],
    )
    verdict = replace(verdict, reasons=(*_self_judging(base, head, seatbelt, reconfigure), *verdict.reasons))
    names = {t.diff.name for t in touched}
    kinds: dict[str, list[str]] = {}
    for name, kind in sorted(_kinds(base, head).items()):
        kinds.setdefault(kind.value, []).append(name)
    return Impact(
        verdict=verdict,
        digest=change_digest,
        design=head_design,
        hosts_total=total,
        hosts=tuple(touched),
        base=labels[0].label if labels else base.source,
        head=labels[1].label if labels else head.source,
        reconfigure=reconfigure,
        segments=tuple((s, Count(len(m), len(names & set(m)))) for s, m in sorted(members.items())),
        kinds=tuple((k, Count(len(m), len(names & set(m)))) for k, m in sorted(kinds.items())),
        changes=changes,
        approvals=tuple(sorted(approvals)),
        inventory_digest=inventory_digest(head),
        flows=flows,
        fleet=fleet,
    )


def _moves_vms_it_disrupts(base: Inventory, head: Inventory, touched: list[TouchedHost]) -> str:
    """Why a change moving VMs to or from a hypervisor it restarts, adds or removes
    blocks ('' if it does not). netcfg moves no VM and plans on the head's placement:
    a change that moved kvm01's VMs to kvm02 in the inventory would restart kvm01 with
    its VMs still on it (renaming a hypervisor does the same). So every VM that runs on
    such a hypervisor in the base must be there in the head, under its name and as a
    VM (renamed, made physical or removed, it would not be evacuated), and a VM the
    head puts there must have been there. Only a person can say where they run; the
    approval names this exact move (the digest covers it)."""
    shaken = {
        t.diff.name for t in touched if t.change is ChangeClass.DISRUPTIVE or t.diff.state is not HostState.CHANGED
    }
    moved = {
        name
        for name, vm in head.machines.items()
        if vm.kind is Kind.VM
        and (was := base.machines.get(name)) is not None
        and was.host != vm.host
        and {was.host, vm.host} & shaken
    }
    for host in shaken:
        for vm in base.vms_of(host):
            now = head.machines.get(vm.name)
            if now is None or now.kind is not Kind.VM or now.host != host:
                moved.add(vm.name)
    if not moved:
        return ""
    names = sorted(moved)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (
        f"it moves {plural(len(names), 'VM')} ({shown}) to or from a hypervisor it restarts, adds or removes "
        "(or renames, removes or retypes them there): netcfg moves no VM and plans on the head's placement, "
        "so approve it once they run where the head says"
    )


def _fraction_of(base: int, head: int) -> int:
    """The fleet max_fraction is measured against: the smaller of base's and head's, as
    for every limit (machines a change adds, say with no interfaces, touch nothing and
    would otherwise dilute its own fraction); the other side's when one is empty."""
    return min(base, head) or max(base, head)


def _self_judging(base: Inventory, head: Inventory, seatbelt: Seatbelt, reconfigure: Reconfigure) -> list[str]:
    """What the change tried to decide about itself, and what it is judged by instead."""
    notes = []
    limits = (seatbelt.max_fraction, seatbelt.max_hosts, seatbelt.stagger_above)
    own = head.policy.seatbelt
    if limits != (own.max_fraction, own.max_hosts, own.stagger_above):
        notes.append(
            f"this change loosens the seatbelt: it is judged by the stricter limits of base and head "
            f"(max_fraction {seatbelt.max_fraction:g}, max_hosts {seatbelt.max_hosts}, "
            f"stagger_above {seatbelt.stagger_above})"
        )
    if own.approvers != seatbelt.approvers:
        notes.append("this change edits the approvers: its approvals are judged by the base's list")
    if reconfigure is not head.policy.reconfigure:
        notes.append(
            f"this change switches reconfigure from {base.policy.reconfigure} to {head.policy.reconfigure}: "
            f"it is judged under {reconfigure}"
        )
    return notes


def _require_renderable(inventory: Inventory, design: DesignName, names: set[str]) -> None:
    """Under a design the inventory does not name, what that design needs of the
    machines about to be rendered (the inventory's checks only knew its own design)."""
    if design == inventory.policy.design:
        return
    machines = [m for name, m in inventory.machines.items() if name in names]
    problems = gateway_problems(get_design(design), inventory, machines)
    if problems:
        raise InputError(problems)


def classify(
    diffs: Mapping[str, HostDiff], head: Inventory, causes: Mapping[str, list[str]], reconfigure: Reconfigure
) -> list[TouchedHost]:
    """Hot or disruptive under `reconfigure`, the VMs a disruptive KVM host must
    evacuate first (its VMs in the head), and the causes; most important first."""
    touched = []
    for name, d in diffs.items():
        change = d.change(reconfigure)
        # A hypervisor the change adds runs nothing yet: rolled out with the hot waves
        # (rollout.pipeline), nothing to evacuate.
        disruptive_kvm = change is ChangeClass.DISRUPTIVE and d.kind is Kind.KVM_HOST and d.state is not HostState.ADDED
        evacuate = tuple(sorted(vm.name for vm in head.vms_of(name))) if disruptive_kvm else ()
        # A machine always has a cause when the graph is right; the fallback keeps the
        # report honest if it ever is not.
        why = tuple(dict.fromkeys(causes.get(name, ["rendered configuration changed"])))
        touched.append(TouchedHost(d, change, why, evacuate))
    return sorted(touched, key=importance)


def importance(host: TouchedHost) -> tuple[int, int, str]:
    """Disruptive KVM hosts first (most VMs to evacuate first), then other disruptive
    machines, then hot ones; by name within each."""
    d = host.diff
    if host.change is ChangeClass.DISRUPTIVE:
        rank = 0 if d.kind is Kind.KVM_HOST else 1
    else:
        rank = 2
    return (rank, -len(host.evacuate), d.name)


def _kinds(base: Inventory, head: Inventory) -> dict[str, Kind]:
    kinds = {name: m.kind for name, m in base.machines.items()}
    kinds.update({name: m.kind for name, m in head.machines.items()})
    return kinds
