"""`netcfg migrate --to flat`: move a fleet from its designs to another, in stages no
one of which drops a flow.

1. The target (every machine under the new design) must drop no flow class the fleet
   delivers today; if it does, no order helps, since the last stage is the target:
   the flows that force the refusal, and the inventory fixes that would help, are the
   answer.
2. Stages of at most --max-stage machines (by default the most the seatbelt lets
   through without an approval), in name order, but never every host and VM of a
   segment the seatbelt guards in one stage (one moves on), each intermediate fleet counted
   against the start (`verify`). A stage whose fleet would drop a flow is merged with
   the next one, until the fleet after it drops none; the last stage is the target,
   which drops none, so a safe order always exists when the target is safe.

   In the model a flow's verdict is what its source decides (its request's way out
   and through the routers, whether it lets the reply in) and what its destination
   decides (whether it lets the request in, its reply's way): a packet reaches a
   machine on the interface of the address it is sent to, whatever the way it took.
   So a fleet half moved drops no flow that both the start and the target deliver,
   and merging never happens with these two designs; the check runs all the same.
3. Each stage is a change like any other: the moved machines' rendered configurations
   are diffed, classified (hot or disruptive), judged by the seatbelt, and planned and
   simulated by the rollout planner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from netcfg.designs import render
from netcfg.gc_tuning import rare_full_collections
from netcfg.impact.analysis import classify
from netcfg.impact.diff import diff_configs
from netcfg.impact.graph import machines_of_segment
from netcfg.impact.model import ChangeClass, Decision, HostDiff
from netcfg.impact.seatbelt import decide, digest
from netcfg.inventory.digest import inventory_digest
from netcfg.model.host import DesignName, HostConfig, Kind
from netcfg.model.inventory import Inventory
from netcfg.progress import Progress, silent
from netcfg.rollout.jitter import simulate_plan
from netcfg.rollout.model import Change
from netcfg.rollout.plan import plan_rollout
from netcfg.verify.classes import build
from netcfg.verify.engine import Key, Side, Verdict
from netcfg.verify.fib import RpFilter
from netcfg.verify.flows import MovedFlow, examples_of
from netcfg.verify.joint import Counted, tally
from netcfg.verify.path import Reason
from netcfg.words import plural

EXAMPLES = 3  # per group of blocking flows
# Up to this many stages, each intermediate fleet is also counted on its own (its flow
# classes, delivered, dropped, asymmetric); beyond, one count covers them all (what a
# stage would drop), and stage by stage only its drops are said.
DETAILED_STAGES = 20


@dataclass(frozen=True, slots=True)
class StageCheck:
    """The fleet after a stage, counted against the start (None: not counted stage by
    stage; its drops, covered by the count of every intermediate fleet at once)."""

    flow_classes: int | None
    delivered: int | None
    dropped: int | None
    newly_dropped: int
    asymmetric: int | None

    def to_json(self) -> dict[str, int | None]:
        return {
            "flow_classes": self.flow_classes,
            "delivered": self.delivered,
            "dropped": self.dropped,
            "newly_dropped": self.newly_dropped,
            "asymmetric": self.asymmetric,
        }


@dataclass(frozen=True, slots=True)
class Stage:
    index: int
    machines: tuple[str, ...]
    check: StageCheck
    decision: Decision
    reasons: tuple[str, ...]
    digest: str
    hot: int
    disruptive: int
    makespan_s: float
    waves: int
    evacuations: int

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "machines": list(self.machines),
            "flows_dropped": self.check.newly_dropped,
            "decision": self.decision.value,
            "makespan_s": round(self.makespan_s, 3),
            "verification": self.check.to_json(),
            "reasons": list(self.reasons),
            "digest": self.digest,
            "hot": self.hot,
            "disruptive": self.disruptive,
            "waves": self.waves,
            "evacuations": self.evacuations,
        }


@dataclass(frozen=True, slots=True)
class Blocking:
    """Flow classes a move would drop, alike: how many, and examples."""

    verdict: Verdict  # after the move
    count: int
    examples: tuple[MovedFlow, ...]

    def to_json(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "flow_classes": self.count,
            "reason": v.reason.value if v.reason else None,
            "direction": v.direction,
            "at": v.at,
            "from_segment": v.src_segment,
            "to_segment": v.dst_segment,
            "family": v.family,
            "examples": [e.to_json() for e in self.examples],
        }


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why no safe order exists."""

    reason: str
    flows: tuple[Blocking, ...]
    fixes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "flows": [f.to_json() for f in self.flows], "fixes": list(self.fixes)}


@dataclass(frozen=True, slots=True)
class Migration:
    to: DesignName
    inventory: str
    machines: int
    moving: int
    stages: tuple[Stage, ...] = ()
    refusal: Refusal | None = None
    notes: tuple[str, ...] = ()
    inventory_digest: str | None = None  # what `--stage PLAN:K` checks its inventory against
    soak_s: float = 0.0  # watched between two stages, as between two waves
    rp_filter: str = "strict"  # what every stage was verified under

    @property
    def total_makespan_s(self) -> float:
        """Stages run one after the other: each begins once the one before has ended and
        soaked (a stage of one wave has no soak of its own, and 24 stages of one machine
        are not 24 x 5 s)."""
        return sum(s.makespan_s for s in self.stages) + self.soak_s * max(0, len(self.stages) - 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "to": self.to.value,
            "inventory": self.inventory,
            "inventory_digest": self.inventory_digest,
            "machines": self.machines,
            "moving": self.moving,
            "stages": [s.to_json() for s in self.stages],
            "total_makespan_s": round(self.total_makespan_s, 3),
            "rp_filter": self.rp_filter,
            "refused": self.refusal.to_json() if self.refusal else None,
            "notes": list(self.notes),
        }


def stage_limit(inventory: Inventory) -> int:
    """The most machines a stage may move and still not need an approval."""
    belt = inventory.policy.seatbelt
    total = len(inventory.machines)
    return max(1, min(belt.max_hosts, int(belt.max_fraction * total)))


def plan_migration(
    inventory: Inventory,
    to: DesignName,
    max_stage: int | None = None,
    *,
    progress: Progress = silent,
    rp_filter: RpFilter = RpFilter.STRICT,
) -> Migration:
    """The stages moving every machine of `inventory` to `to`, or why there are none.
    Raises InputError when a machine cannot be rendered under `to` (a gateway missing)."""
    with rare_full_collections():  # millions of small long-lived objects, no cycles
        return _plan(inventory, to, max_stage, progress, rp_filter)


def _plan(
    inventory: Inventory, to: DesignName, max_stage: int | None, progress: Progress, rp_filter: RpFilter
) -> Migration:
    movers = sorted(
        m.name for m in inventory.machines.values() if m.kind is not Kind.ROUTER and inventory.design_of(m) != to
    )
    base = Migration(
        to,
        inventory.source,
        len(inventory.machines),
        len(movers),
        inventory_digest=inventory_digest(inventory),
        soak_s=float(inventory.policy.rollout.soak_s),
        rp_filter=rp_filter.value,
    )
    if not movers:
        return base
    progress("rendering the fleet as it is and under the target design")
    start = render(inventory)
    target = render(inventory, to)
    progress("following every flow class, as it is and under the target design")
    sides = [Side(build(start.values(), rp_filter)), Side(build(target.values(), rp_filter))]

    final = tally(sides, _new_drop, lambda m: 1, witnesses=64)
    blocking = _blocking(sides, final, rp_filter)
    if blocking:
        dropped = sum(b.count for b in blocking)
        refusal = Refusal(
            f"the fleet under {to} would drop {dropped:,} flow {'class' if dropped == 1 else 'classes'} it delivers "
            f"today: no order of stages avoids what the last stage does",
            tuple(blocking),
            tuple(fixes(blocking, sides)),
        )
        return replace(base, refusal=refusal)

    limit = max_stage or stage_limit(inventory)
    stages_needed = -(-len(movers) // limit)  # as few stages as the limit allows, of even size
    size = -(-len(movers) // stages_needed)
    members = {s: [m.name for m in ms] for s, ms in machines_of_segment(inventory).items()}
    routers = frozenset(n for n, m in inventory.machines.items() if m.kind is Kind.ROUTER)
    stagger_above = inventory.policy.seatbelt.stagger_above
    chunks = spread_segments(
        [movers[i : i + size] for i in range(0, len(movers), size)], members, routers, stagger_above, limit
    )
    checks: dict[int, StageCheck] = {}

    # Every intermediate fleet at once: each machine still to move taken both moved and
    # not, every pair of parts counted. Any flow class of any stage is one of them, with
    # the same halves: none newly dropped here, none in any stage.
    progress("verifying every intermediate fleet at once")
    every = tally(sides, _new_drop, lambda m: 0, frozenset(movers))
    clear = not any(n > 0 and _new_drop(k) for k, n in every.tally.counts.items())
    detailed = len(chunks) <= DETAILED_STAGES

    def safe(moved: frozenset[str], index: int, total: int) -> bool:
        if clear and not detailed:
            checks[len(moved)] = StageCheck(None, None, None, 0, None)
            return True
        progress(f"verifying the fleet after stage {index} of {total}", index, total)
        checks[len(moved)] = _check(tally(sides, _new_drop, lambda m: 1 if m in moved else 0).tally.counts)
        return checks[len(moved)].newly_dropped == 0

    planned = safe_stages(chunks, safe)
    stages = []
    progress("comparing every moving machine's configuration before and after")
    diffs = moved_diffs(movers, start, target)
    moved = 0
    for index, chunk in enumerate(planned, 1):
        progress(f"planning stage {index} of {len(planned)}", index, len(planned))
        moved += len(chunk)
        stages.append(_stage(inventory, to, index, chunk, checks[moved], diffs, members))
    notes = []
    if any(len(c) > limit for c in planned):
        notes.append(f"some stages move more than {limit} machines: a smaller one would drop flows")
    return replace(base, stages=tuple(stages), notes=tuple(notes))


def spread_segments(
    chunks: Sequence[Sequence[str]],
    members: dict[str, list[str]],
    routers: frozenset[str],
    stagger_above: int,
    limit: int,
) -> list[list[str]]:
    """`chunks` with none holding every host and VM of a segment the seatbelt guards (more
    than `stagger_above` of them): such a stage would be blocked. The last of them by
    name moves on to the next chunk (trading places with one of it when that is full,
    `limit`), or to a new one. A segment of one host is left as it is: moving it
    touches all of it."""
    guarded = [g for g in (frozenset(ms) - routers for ms in members.values()) if len(g) > max(stagger_above, 1)]
    out = [list(c) for c in chunks]
    i = 0
    while i < len(out):
        full = next((g for g in guarded if g <= set(out[i])), None)
        if full is None:
            i += 1
            continue
        machine = max(full)
        out[i].remove(machine)
        if i + 1 == len(out):
            out.append([machine])
            continue
        nxt = out[i + 1]
        if len(nxt) >= limit:
            # Full: trade places with a machine of it that completes no segment here.
            back = next((m for m in nxt if not any(g <= {*out[i], m} for g in guarded)), None)
            if back is None:
                out.insert(i + 1, [machine])
                continue
            nxt.remove(back)
            out[i].append(back)
        nxt.append(machine)
    return out


def safe_stages(chunks: Sequence[Sequence[str]], safe: Callable[[frozenset[str], int, int], bool]) -> list[list[str]]:
    """Stages from `chunks` in order, each merged with the next while the fleet after it
    is not `safe(moved machines, its index, how many)`. The fleet after the last chunk
    must be safe (the target)."""
    stages: list[list[str]] = []
    moved: set[str] = set()
    pending: list[str] = []
    for index, chunk in enumerate(chunks, 1):
        pending += chunk
        moved.update(chunk)
        if safe(frozenset(moved), index, len(chunks)):
            stages.append(pending)
            pending = []
    if pending:
        raise RuntimeError("the target drops flows the start delivers, yet it was found safe")
    return stages


def _new_drop(key: Key) -> bool:
    a, b = key
    return a is not None and b is not None and a.delivered and b.dropped


# --- what forbids an order ----------------------------------------------------------


def _blocking(
    sides: Sequence[Side], counted: Counted, rp_filter: RpFilter, only: Sequence[Key] | None = None
) -> list[Blocking]:
    """Newly dropped flow classes grouped by what drops them, most first, with examples."""
    counts, witnesses = counted.tally.counts, counted.tally.witnesses
    groups: dict[tuple[object, ...], list[tuple[Key, Verdict]]] = {}
    for key, n in counts.items():
        v = key[1]
        if n > 0 and v is not None and _new_drop(key) and (only is None or key in only):
            what = (v.reason, v.direction, v.at, v.src_segment, v.dst_segment, v.family)
            groups.setdefault(what, []).append((key, v))
    found = []
    for members in groups.values():
        total = sum(counts[k] for k, _ in members)
        members.sort(key=lambda kv: -counts[kv[0]])
        drawn = {k: witnesses.get(k, []) for k, _ in members}
        examples = examples_of(sides, counted, drawn, rp_filter, EXAMPLES)
        found.append(Blocking(members[0][1], total, tuple(examples)))
    found.sort(key=lambda b: -b.count)
    return found


def fixes(blocking: Sequence[Blocking], sides: Sequence[Side]) -> list[str]:
    """Inventory changes that would let these flows through, from what drops them."""
    out: list[str] = []
    start = sides[0].c
    for b in blocking:
        v = b.verdict
        for e in b.examples[:1]:
            if v.reason is Reason.NO_ROUTE and e.dropped_at in start.routers:
                lost = e.destination_address if v.direction == "request" else e.source_address
                network, holders = _network_of(start, lost)
                out.append(
                    f"give {e.dropped_at} an address in {network}: it forwards only to the networks it holds an "
                    f"address in"
                    + (f" (today {', '.join(holders)})" if holders else "")
                    + "; or let one router hold the gateways of the networks that reach each other through it"
                )
            elif v.reason is Reason.RP_FILTER and e.dropped_at in start.routers:
                out.append(
                    f"{e.dropped_at} drops what {e.source if v.direction == 'request' else e.destination} sends from "
                    f"its {v.src_segment if v.direction == 'request' else v.dst_segment} address ({e.detail}): "
                    f"a machine sends what is not on-link by its preferred segment's gateway, whatever the source "
                    f"address; make that segment its preferred one (the lowest priority of its segments), or use "
                    f"its address on its preferred segment for these flows"
                )
            elif v.reason is Reason.RP_FILTER:
                if e.by_default_route:
                    out.append(
                        f"{e.dropped_at} answers by its default route on another segment than the one it is reached "
                        f"on ({e.detail}): make the segment it is reached on its preferred one (a priority below "
                        f"its other segments'), or reach it on its address on its preferred segment"
                    )
                else:
                    out.append(
                        f"{e.dropped_at} shares a network with the other end on another segment than the one it is "
                        f"reached on ({e.detail}): reach it on its address in that shared network (the data centre's "
                        f"own traffic uses the private network under flat)"
                    )
            else:
                out.append(
                    f"{v.reason} at {e.dropped_at}: see `netcfg verify --flow {e.source} {e.destination_address}`"
                )
    return list(dict.fromkeys(out))


def _network_of(classes: Any, address: str) -> tuple[str, list[str]]:
    """The network holding `address`, and the routers with an address in it."""
    from netcfg.verify.prefix import parse_address

    family, value = parse_address(address)
    for net in classes.networks:
        if net.prefix.contains(family, value):
            routers = sorted(
                name
                for name, fib in classes.routers.items()
                if any(
                    f == family and net.prefix.contains(f, a)
                    for i in fib.interfaces.values()
                    for f, a, _ in i.addresses
                )
            )
            return str(net.prefix), [f"{r} holds an address in it" for r in routers]
    return address, []


# --- one stage ----------------------------------------------------------------------


def moved_diffs(
    movers: Sequence[str], start: dict[str, HostConfig], target: dict[str, HostConfig]
) -> dict[str, HostDiff]:
    """Every moving machine's diff, as `diff_configs` gives it. A design changes rules
    and routes only, and machines of one class lose and gain the very same ones (the
    designs share them): one of them is diffed, the others get its diff under their own
    name and segments. A machine whose interfaces or addresses change too is diffed on
    its own."""
    groups: dict[tuple[object, ...], list[str]] = {}
    for name in movers:
        before, after = start[name], target[name]
        if before.interfaces != after.interfaces or before.forwarding != after.forwarding:
            groups[("alone", name)] = [name]
            continue
        key = (
            id(before.rules),
            id(before.routes),
            id(after.rules) if len(after.rules) > 16 else after.rules,
            id(after.routes) if len(after.routes) > 16 else after.routes,
            before.kind,
        )
        groups.setdefault(key, []).append(name)
    firsts = [names[0] for names in groups.values()]
    diffs = diff_configs({m: start[m] for m in firsts}, {m: target[m] for m in firsts})
    out: dict[str, HostDiff] = {}
    for names in groups.values():
        first = diffs.get(names[0])
        if first is None:
            continue  # nothing changes for them (already as rendered)
        for name in names:
            segments = tuple(sorted({i.segment for i in start[name].interfaces}))
            out[name] = first if name == names[0] else replace(first, name=name, segments=segments)
    return out


def _stage(
    inventory: Inventory,
    to: DesignName,
    index: int,
    chunk: Sequence[str],
    check: StageCheck,
    diffs: dict[str, HostDiff],
    members: dict[str, list[str]],
) -> Stage:
    """A stage as a change: classified, judged by the seatbelt (its digest is the one
    `netcfg check` gives the inventory change that makes it: these machines' design:),
    planned and simulated."""
    mine = {m: diffs[m] for m in sorted(chunk) if m in diffs}
    causes = {m: [f"design of {m} changed from {inventory.machines[m].design or 'the policy'} to {to}"] for m in chunk}
    reconfigure = inventory.policy.reconfigure
    touched = classify(mine, inventory, causes, reconfigure)
    texts = sorted(c[0] for c in causes.values())
    change_digest = digest(
        inventory.policy.design, [(t.diff, t.change) for t in touched], reconfigure, inventory.policy.rollout, texts
    )
    blocked = [f"drops {plural(check.newly_dropped, 'flow class', 'flow classes')}"] if check.newly_dropped else []
    verdict = decide(
        {t.diff.name for t in touched},
        len(inventory.machines),
        members,
        inventory.policy.seatbelt,
        change_digest,
        (),
        frozenset(n for n, m in inventory.machines.items() if m.kind is Kind.ROUTER),
        blocked_because=blocked,
    )
    changes = [Change(t.diff.name, t.change) for t in touched]
    # Hot changes only (rules and routes, no restart): no evacuation, nothing moves
    # between hypervisors, so the planner and its simulator need only the machines
    # touched; a disruptive stage is planned against the whole fleet.
    planned = inventory
    if all(c.change is ChangeClass.HOT for c in changes):
        planned = Inventory.build(
            dict(inventory.segments), (), [inventory.machines[c.host] for c in changes], inventory.policy
        )
    plan = plan_rollout(planned, changes)
    simulation = simulate_plan(plan.to_dict(), planned)
    if not simulation.clean:
        raise RuntimeError(f"stage {index}: the planner produced a plan its simulator rejects")
    return Stage(
        index,
        tuple(sorted(chunk)),
        check,
        verdict.decision,
        verdict.reasons,
        change_digest,
        sum(t.change.value == "hot" for t in touched),
        sum(t.change.value == "disruptive" for t in touched),
        plan.makespan_s,
        len(plan.waves),
        len(plan.migrations),
    )


def _check(counts: Any) -> StageCheck:
    total = delivered = dropped = new = asymmetric = 0
    for (a, b), n in counts.items():
        if a is None or b is None:
            raise RuntimeError(f"flow count left {n} pairs without a flow")
        total += n
        delivered += n if b.delivered else 0
        dropped += n if b.dropped else 0
        new += n if (a.delivered and b.dropped) else 0
        asymmetric += n if b.asymmetric else 0
    return StageCheck(total, delivered, dropped, new, asymmetric)
