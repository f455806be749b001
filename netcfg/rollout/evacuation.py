"""Evacuating hypervisors: every VM gets a target and a time, and the capacity
invariant holds throughout.

How the evacuation schedule is built (an event-driven list scheduler):
- hypervisors to evacuate are queued largest first (longest-processing-time order keeps
  the parallel evacuation slots evenly busy to the end);
- at most `max_parallel_evacuations` evacuate at once; one starts only when the hosts
  that may receive have room for it and for what the running evacuations still have
  to place (admission control, so parallel evacuations cannot starve each other);
- a source sends through `lanes` parallel migrations (1 unless its link is faster than
  the targets' and `max_migrations_per_host` allows more), each with an even share of
  its link; a target receives one migration at a time, so every migration gets the
  full bandwidth its share allows and the pre-copy model sends the least data;
- targets are chosen among hosts that are done (maintained) or untouched first, so a VM
  moves once; only when none is free does a VM go to a hypervisor still waiting for
  its own evacuation (the latest in the queue), which happens at the very start;
- a host whose last VM has left goes into maintenance for `reconfigure_s`, then
  receives again.
Targets are found through indexes kept up to date as hosts change (`_Targets`), so
each choice costs O(log hosts), not a scan of the fleet.
The plan is then checked by `netcfg.rollout.simulate`, which shares none of this code.
"""

from __future__ import annotations

import functools
import heapq
import math
from collections import defaultdict
from collections.abc import Callable, Sequence

from netcfg.errors import InputError
from netcfg.model.host import Kind
from netcfg.model.inventory import Inventory, Machine
from netcfg.problems import Location, Problem
from netcfg.rollout.bounds import evacuation_seconds
from netcfg.rollout.estimate import (
    MIB_PER_GBIT,
    OFFLINE_ADVICE,
    FastestLinks,
    best_rate,
    link_rate_mib_s,
    nic_of,
    precopy,
    vm_memory,
)
from netcfg.rollout.index import NONE, LazyMax, RightmostTree
from netcfg.rollout.model import Maintenance, Migration, NonConverging
from netcfg.words import plural

# Host states in the evacuation scheduler.
PENDING, EVACUATING, MAINTENANCE, DONE, UNTOUCHED, HELD = range(6)
# Held hosts (a VM there cannot be live-migrated) are not maintained in this plan but
# may receive: like pending ones, what they receive moves again later.
RECEIVES = (PENDING, DONE, UNTOUCHED, HELD)
FINAL = (DONE, UNTOUCHED)
# Where the index of available targets keeps a host: PENDING, HELD, or these.
NOT_AVAILABLE, FINAL_GROUP = -1, -2


def where(inventory: Inventory, machine: Machine | None = None) -> Location:
    """Where a planning problem is reported: the machine's definition, else the inventory."""
    if machine is not None and machine.location.file != "<none>":
        return machine.location
    return Location(inventory.source or "<inventory>")


def non_converging(inventory: Inventory, hosts: Sequence[str]) -> list[NonConverging]:
    links = FastestLinks([m for m in inventory.machines.values() if m.kind is Kind.KVM_HOST])
    found = []
    for host in hosts:
        rate = best_rate(inventory, host, links)
        if rate <= 0:
            continue  # no other hypervisor to go to: check_spare_memory says so, not this
        for vm in inventory.vms_of(host):
            dirty = float(vm.dirty_mib_s or 0.0)
            if vm_memory(vm) > 0 and dirty >= rate:
                found.append(NonConverging(vm.name, host, dirty, rate, OFFLINE_ADVICE))
    return found


def check_spare_memory(inventory: Inventory, evacuate: Sequence[str]) -> None:
    """Evacuating h needs every VM to fit on the other hypervisors: the total of what
    runs on the fleet must fit in the fleet's capacity without h. Checked for every h
    (one evacuation at a time is the least demanding schedule), plus each VM against
    the largest other hypervisor."""
    kvm_hosts = [m for m in inventory.machines.values() if m.kind is Kind.KVM_HOST]
    up = kvm_hosts  # held hosts stay up and may receive
    used = {m.name: sum(vm_memory(v) for v in inventory.vms_of(m.name)) for m in up}
    total_used = sum(used.values())
    total_cap = sum(float(m.memory_gib or 0.0) for m in up)
    # The two largest capacities: the largest other hypervisor of any host, in O(1).
    largest = sorted(((float(m.memory_gib or 0.0), m.name) for m in up), reverse=True)[:2]
    problems = []
    for host in evacuate:
        machine = inventory.machines[host]
        room = total_cap - float(machine.memory_gib or 0.0) - (total_used - used[host])
        if room < used[host] - 1e-9:
            problems.append(
                Problem(
                    where(inventory, machine),
                    f"no safe plan: evacuating {host} needs {used[host]:g} GiB free on the other "
                    f"hypervisors, which have {max(room, 0):g} GiB: {used[host] - max(room, 0):g} GiB missing",
                    "add hypervisor capacity or move VMs off the fleet first",
                )
            )
            continue
        largest_other = next((cap for cap, name in largest if name != host), 0.0)
        for vm in inventory.vms_of(host):
            if vm_memory(vm) > largest_other:
                problems.append(
                    Problem(
                        where(inventory, vm),
                        f"no safe plan: {vm.name} ({vm_memory(vm):g} GiB) on {host} fits on no other "
                        f"hypervisor (largest {largest_other:g} GiB): "
                        f"{vm_memory(vm) - largest_other:g} GiB missing",
                    )
                )
    if problems:
        raise InputError(problems)


class _Host:
    __slots__ = (
        "name",
        "rank",
        "cap",
        "nic",
        "load",
        "state",
        "queue_pos",
        "sending",
        "receiving",
        "lanes",
        "waiting",
        "vms",
        "free_at",
        "best_other",
        "room",
        "listed",
        "group",
    )

    def __init__(self, machine: Machine, vms: list[str], load: float, rank: int):
        self.name = machine.name
        self.rank = rank  # position in name order: the last tie-break between targets
        self.cap = float(machine.memory_gib or 0.0)
        self.nic = nic_of(machine)
        self.load = load  # resident plus incoming: what the capacity invariant bounds
        self.state = UNTOUCHED
        self.queue_pos = -1
        self.sending = 0
        self.receiving = 0
        self.lanes = 1
        self.waiting: list[str] = []  # VMs still to send (evacuating hosts), largest last
        self.vms = set(vms)  # resident now
        self.free_at = 0.0  # when its current incoming migration or maintenance ends
        self.best_other = self.nic  # the fastest link among the other hypervisors
        self.room = 0.0  # what it adds to the free memory of the receiving hosts
        self.listed = False  # in the index of receiving hosts by free memory
        self.group = NOT_AVAILABLE  # where the index of available targets has it


class _Targets:
    """The hypervisors that may receive, indexed per link speed so that the scheduler
    finds the best target for a VM in O(log hosts):
    - `free`: every receiving host by free memory (for admission: the largest free
      block per link speed);
    - available hosts (receiving, not busy receiving, some memory free), split as the
      target choice ranks them: done or untouched hosts by (free, name); held hosts
      (which rank above any pending one) by (free, name); pending hosts by their place
      in the evacuation queue (the latest first);
    - `room`: the free memory of all receiving hosts together."""

    def __init__(self, hosts: Sequence[_Host], queued: int):
        self.nics = sorted({h.nic for h in hosts}, reverse=True)
        self.free = {nic: LazyMax() for nic in self.nics}
        self.final = {nic: LazyMax() for nic in self.nics}
        self.held = {nic: LazyMax() for nic in self.nics}
        self.pending = {nic: RightmostTree(queued) for nic in self.nics}
        self.queued = queued
        self.by_pos: dict[int, _Host] = {}
        self.by_name = {h.name: h for h in hosts}
        self.room = 0.0
        self.available: set[str] = set()
        for host in hosts:
            if 0 <= host.queue_pos < queued:
                self.by_pos[host.queue_pos] = host
            self.update(host)

    def update(self, host: _Host) -> None:
        """Re-index `host` after a change of its state, load or incoming migrations."""
        free = host.cap - host.load
        state = host.state
        receives = state in RECEIVES
        room = (free if free > 0 else 0.0) if receives else 0.0
        self.room += room - host.room
        host.room = room
        if receives or host.listed:
            self.free[host.nic].set(host.name, (free, host.rank) if receives else None)
            host.listed = receives
        group = NOT_AVAILABLE
        if receives and host.receiving == 0 and free > 0:
            group = FINAL_GROUP if state in FINAL else state  # HELD or PENDING
        if host.group != group:
            self._drop(host)
            host.group = group
        if group == NOT_AVAILABLE:
            self.available.discard(host.name)
            return
        self.available.add(host.name)
        if group == PENDING:
            self.pending[host.nic].set(host.queue_pos, free)
        else:
            (self.final if group == FINAL_GROUP else self.held)[host.nic].set(host.name, (free, host.rank))

    def _drop(self, host: _Host) -> None:
        if host.group == PENDING:
            self.pending[host.nic].set(host.queue_pos, NONE)
        elif host.group == FINAL_GROUP:
            self.final[host.nic].set(host.name, None)
        elif host.group == HELD:
            self.held[host.nic].set(host.name, None)

    def largest_free(self, nic: float, exclude: _Host) -> float:
        """The most free memory on one receiving host with link `nic`, `exclude` aside."""
        top = self.free[nic].top(exclude.name)
        return top[0][0] if top is not None else NONE

    def best(self, nics: Sequence[float], fits: Callable[[float, float], bool]) -> _Host | None:
        """Among available hosts with a link in `nics` whose free memory `fits` (monotone
        in the free memory), the one the target choice ranks first: done or untouched,
        then held, then the latest pending one; within a class the most free memory,
        then the name."""
        for group in (self.final, self.held):
            best_key, best_name = None, None
            for nic in nics:
                top = group[nic].top()
                if top is not None and fits(nic, top[0][0]) and (best_key is None or top[0] > best_key):
                    best_key, best_name = top[0], top[1]
            if best_name is not None:
                return self.by_name[str(best_name)]
        best_pos = None
        for nic in nics:
            pos = self.pending[nic].rightmost(functools.partial(fits, nic))
            if pos is not None and (best_pos is None or pos > best_pos):
                best_pos = pos
        return self.by_pos[best_pos] if best_pos is not None else None


class Evacuation:
    """Mutable scheduling state, private to one plan_rollout call."""

    def __init__(
        self, inventory: Inventory, evacuate: Sequence[str], held: Sequence[str], keep_fast_room: bool = False
    ):
        policy = inventory.policy.rollout
        self.inventory = inventory
        self.efficiency = policy.migration_efficiency
        self.parallel = max(1, policy.max_parallel_evacuations)
        self.per_host = max(1, policy.max_migrations_per_host)
        self.reconfigure_s = float(policy.reconfigure_s)
        self.vm_gib: dict[str, float] = {}
        self.vm_dirty: dict[str, float] = {}
        by_host: dict[str, list[str]] = defaultdict(list)
        for m in inventory.machines.values():
            if m.kind is Kind.VM and m.host is not None and m.host in inventory.machines:
                by_host[m.host].append(m.name)
                self.vm_gib[m.name] = vm_memory(m)
                self.vm_dirty[m.name] = float(m.dirty_mib_s or 0.0)
        self.hosts: dict[str, _Host] = {}
        for m in inventory.machines.values():  # in name order: the rank is the name's
            if m.kind is Kind.KVM_HOST:
                vms = by_host.get(m.name, [])
                self.hosts[m.name] = _Host(m, vms, sum(self.vm_gib[v] for v in vms), len(self.hosts))
        for name in held:
            self.hosts[name].state = HELD
            self.hosts[name].queue_pos = len(evacuate)  # after every queued host
        self.mib_per_gbit = MIB_PER_GBIT * self.efficiency  # link_rate_mib_s, inlined
        # Longest evacuation first (LPT: the parallel slots stay evenly busy to the end);
        # ties by name for a stable plan.
        kvm_machines = [m for m in inventory.machines.values() if m.kind is Kind.KVM_HOST]
        links = FastestLinks(kvm_machines)
        length = {h: evacuation_seconds(inventory, h, links) for h in evacuate}
        # The slowest link's migration rate: a VM dirtying at least that much converges
        # only over faster links, so it is sent before its host's other VMs (which any
        # link carries), while fast hosts still have room for it.
        self.slowest = min((nic_of(m) for m in kvm_machines), default=0.0) * self.mib_per_gbit
        # With keep_fast_room, a fast host keeps free the room of the largest such VM:
        # VMs that any link carries do not take its last `reserve` GiB (unless nothing
        # else is under way). Costs makespan, so only a retry uses it.
        self.reserve = (
            max(
                (self.vm_gib[v] for h in evacuate for v in by_host.get(h, ()) if self.vm_dirty[v] >= self.slowest),
                default=0.0,
            )
            if keep_fast_room
            else 0.0
        )
        order = sorted(evacuate, key=lambda h: (-length[h], h))
        self.queue: list[_Host] = []
        for pos, name in enumerate(order):
            host = self.hosts[name]
            host.state = PENDING
            host.queue_pos = pos
            # Parallel lanes only pay when the source's link outruns every target's.
            others = links.other(host.nic) or host.nic
            host.best_other = others
            # (Each lane's share stays at least the fastest target's link, so lanes never
            # make a migration slower than one lane would: no VM stops converging.)
            host.lanes = max(1, min(self.per_host, int(host.nic // others)))
            self.queue.append(host)
        self.targets = _Targets(list(self.hosts.values()), len(order))
        self.tiers: dict[float, list[tuple[float, list[float]]]] = {}
        self.maintained: set[str] = set()  # hosts in maintenance now
        self.active: list[_Host] = []
        self.events: list[tuple[float, int, int, object]] = []
        self.seq = 0
        self.migrations: list[Migration] = []
        self.maintenance: list[Maintenance] = []
        self.now = 0.0
        self.empties_maintained = False

    def _push(self, time: float, kind: int, payload: object) -> None:
        self.seq += 1
        heapq.heappush(self.events, (time, kind, self.seq, payload))

    # Event kinds; at one instant ends are handled before anything starts.
    MIGRATION_END, MAINTENANCE_END = 0, 1

    def run(self) -> tuple[list[Migration], list[Maintenance]]:
        while True:
            self._admit()
            self._dispatch()
            if not self.events:
                if self.queue or self.active:
                    self._stuck()
                break
            self.now = self.events[0][0]
            while self.events and self.events[0][0] <= self.now:
                _, kind, _, payload = heapq.heappop(self.events)
                if kind == self.MIGRATION_END:
                    self._migration_end(payload)
                else:
                    host: _Host = payload  # type: ignore[assignment]
                    host.state = DONE
                    self.maintained.discard(host.name)
                    self.targets.update(host)
        return self.migrations, self.maintenance

    def _room(self, exclude: _Host) -> float:
        return self.targets.room - exclude.room

    def _admit(self) -> None:
        # Hypervisors without VMs need no evacuation slot: maintain them at once.
        while self.queue and self.queue[-1].load == 0 and not self.queue[-1].vms:
            self._start_maintenance(self.queue.pop())
        if len(self.active) >= self.parallel or not self.queue:
            return
        self._admit_pass(placeable_only=True)
        if not self.active and not self.events:
            # Nothing under way and nothing will change by waiting: admit as before
            # (what cannot be placed then ends in _stuck with the memory missing).
            self._admit_pass(placeable_only=False)
        if not self.empties_maintained:
            # Empty hosts anywhere in the queue go straight to maintenance too. Only
            # at the start: a queued host only ever receives, so none empties later.
            self.empties_maintained = True
            for host in [h for h in self.queue if not h.vms]:
                self.queue.remove(host)
                self._start_maintenance(host)

    def _placeable(self, candidate: _Host) -> bool:
        """Can every VM of `candidate` go somewhere now (a receiving hypervisor with room
        over a link it converges on)? Admitting one that cannot holds a slot and the
        aggregate room while it sends nothing: with every host full that is a deadlock,
        even when evacuating another first (whose VMs fit) frees a whole host."""
        blocks = [(nic, self.targets.largest_free(nic, candidate)) for nic in self.targets.nics]
        blocks = [(nic, free) for nic, free in blocks if free > 0.0]  # largest free memory per link speed
        for vm in candidate.vms:
            gib, dirty = self.vm_gib[vm], self.vm_dirty[vm]
            if not any(
                free >= gib - 1e-9 and dirty < min(candidate.nic, nic) * self.mib_per_gbit for nic, free in blocks
            ):
                return False
        return True

    def _admit_pass(self, placeable_only: bool) -> None:
        owed = sum(self.vm_gib[v] for h in self.active for v in h.waiting)
        room = None
        for candidate in self.queue[:8]:  # the next few: a smaller one may fit sooner
            if len(self.active) >= self.parallel:
                break
            if not candidate.vms or candidate.receiving:
                continue  # a host still receiving starts evacuating once that has landed
            if placeable_only and not self._placeable(candidate):
                continue
            if room is None:
                room = self._room(candidate)  # the candidate's own free memory excluded
            if room >= owed + candidate.load - 1e-9:
                self.queue.remove(candidate)
                candidate.state = EVACUATING
                self.targets.update(candidate)
                # Sent from the end: first the VMs that need a fast link, then largest first.
                candidate.waiting = sorted(
                    candidate.vms, key=lambda v: (self.vm_dirty[v] >= self.slowest, self.vm_gib[v], v)
                )
                self.active.append(candidate)
                owed += candidate.load
                room = None

    def _dispatch(self) -> None:
        if not self.active:
            return
        # First only targets that give a source at least half its best rate: waiting
        # for a fast target beats crawling to a slow one. Slow targets are used only
        # when nothing else is under way, i.e. waiting would never end.
        for strict in (True, False):
            if not strict and self.events:
                break
            for source in self.active:
                while source.waiting and source.sending < source.lanes and self.targets.available:
                    choice = self._choose(source, strict)
                    if choice is None:
                        break
                    vm, target, estimate, rate = choice
                    source.waiting.remove(vm)
                    self._start_migration(vm, source, target, estimate, rate)

    def _tiers(self, share: float) -> list[tuple[float, list[float]]]:
        """Link speeds grouped by the rate a source sending at `share` gets over them,
        fastest first (every link at least as fast as the share gives the same rate)."""
        known = self.tiers.get(share)
        if known is None:
            tiers: dict[float, list[float]] = {}
            for nic in self.targets.nics:
                tiers.setdefault((share if share < nic else nic) * self.mib_per_gbit, []).append(nic)
            known = self.tiers[share] = sorted(tiers.items(), reverse=True)
        return known

    def _choose(self, source: _Host, strict: bool):
        """The next VM of `source` to send and its target: the largest VM that has one;
        among targets the fastest link first (a 1 Gbit/s target would slow a 10 Gbit/s
        source tenfold), then a host the VM can stay on (done or untouched), then a
        held one, then the pending host latest in the queue; then the most free
        memory, then the name."""
        top = link_rate_mib_s(source.nic / source.lanes, source.best_other, self.efficiency)
        floor = 0.5 * top if strict else 0.0
        share = source.nic / source.lanes
        tiers = self._tiers(share)
        fast = self.slowest
        for vm in reversed(source.waiting):  # largest first
            gib, dirty = self.vm_gib[vm], self.vm_dirty[vm]
            keep_room = bool(strict and self.reserve and dirty < fast)

            def fits(nic: float, free: float, gib: float = gib, keep_room: bool = keep_room) -> bool:
                if free < gib - 1e-9:
                    return False
                # With keep_fast_room, VMs any link carries leave the reserve free on fast hosts.
                return not (keep_room and nic * self.mib_per_gbit > fast and free - gib < self.reserve - 1e-9)

            for rate, nics in tiers:
                if dirty >= rate or rate < floor:
                    continue
                target = self.targets.best(nics, fits)
                if target is None:
                    continue
                estimate = precopy(gib, dirty, rate)
                seconds = estimate.seconds or 0.0  # a target is only chosen where the VM converges
                if strict and target.state not in FINAL and self._final_soon(gib, seconds):
                    return None  # waiting is cheaper than moving this VM twice
                return vm, target, estimate, rate
        return None

    def _final_soon(self, gib: float, seconds: float) -> bool:
        """Will a hypervisor now in maintenance (the VM could stay on it) be free
        sooner than the VM takes to migrate? Then sending it to a pending host, which
        moves it again later, costs more bottleneck time than waiting. (Only hosts in
        maintenance: a maintained host busy receiving may be claimed again by its
        current source, and waiting for it could starve this one.)"""
        deadline = self.now + seconds
        for name in self.maintained:
            h = self.hosts[name]
            if h.free_at < deadline and h.cap - h.load >= gib - 1e-9:
                return True
        return False

    def _start_migration(self, vm, source: _Host, target: _Host, estimate, rate) -> None:
        gib = self.vm_gib[vm]
        duration = math.ceil(estimate.seconds * 1000.0) / 1000.0  # on the ms grid, rounded up
        end = self.now + duration
        target.load += gib
        target.receiving += 1
        target.free_at = end
        source.sending += 1
        self.targets.update(target)
        self.migrations.append(
            Migration(vm, source.name, target.name, self.now, end, gib, estimate.data_mib / 1024.0, rate)
        )
        self._push(end, self.MIGRATION_END, (vm, source, target))

    def _migration_end(self, payload) -> None:
        vm, source, target = payload
        gib = self.vm_gib[vm]
        source.load -= gib
        source.sending -= 1
        source.vms.discard(vm)
        target.receiving -= 1
        target.vms.add(vm)
        self.targets.update(target)
        if source.state == EVACUATING and not source.waiting and source.sending == 0:
            self.active.remove(source)
            source.load = 0.0  # exactly empty, whatever float sums say
            self._start_maintenance(source)
        else:
            self.targets.update(source)

    def _start_maintenance(self, host: _Host) -> None:
        host.state = MAINTENANCE
        host.free_at = self.now + self.reconfigure_s
        self.maintained.add(host.name)
        self.targets.update(host)
        self.maintenance.append(Maintenance(host.name, self.now, self.now + self.reconfigure_s))
        self._push(self.now + self.reconfigure_s, self.MAINTENANCE_END, host)

    def _stuck(self) -> None:
        """Nothing under way and hosts still to evacuate: the free memory is there in
        total but in pieces too small for the VMs left (or held by other evacuations)."""
        problems = []
        for host in self.active + self.queue:
            left = host.waiting or sorted(host.vms)
            vm = max(left, key=lambda v: (self.vm_gib[v], v))
            biggest = self.vm_gib[vm]
            others = [h for h in self.hosts.values() if h.state in RECEIVES and h is not host]
            largest = max((h.cap - h.load for h in others), default=0.0)
            # Only hosts whose link lets the VM converge can take it live.
            reachable = max(
                (h.cap - h.load for h in others if self.vm_dirty[vm] < min(host.nic, h.nic) * self.mib_per_gbit),
                default=0.0,
            )
            slow = (
                (
                    f" ({largest:g} GiB free on hypervisors whose link is too slow for "
                    f"{vm}'s dirty rate of {self.vm_dirty[vm]:g} MiB/s)"
                )
                if largest > reachable
                else ""
            )
            problems.append(
                Problem(
                    where(self.inventory, self.inventory.machines[host.name]),
                    f"no safe plan: {host.name} cannot be evacuated: {plural(len(left), 'VM')} of up to "
                    f"{biggest:g} GiB find no hypervisor with room; the largest free block elsewhere "
                    f"is {reachable:g} GiB{slow}: {max(biggest - reachable, 0):g} GiB "
                    f"missing on one host",
                    "add hypervisor capacity or lower the VMs' memory",
                )
            )
        raise InputError(problems)
