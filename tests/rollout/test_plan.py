"""The planner: every plan it makes simulates clean, respects the lower bound, evacuates
before maintenance, keeps services apart; impossible fleets are refused by name."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netcfg.errors import InputError
from netcfg.impact.model import ChangeClass
from netcfg.model.host import Kind
from netcfg.model.inventory import RolloutPolicy
from netcfg.rollout.model import Change, plan_from_dict
from netcfg.rollout.plan import hot_waves, plan_rollout
from netcfg.rollout.simulate import simulate
from netcfg.testing.fleet import fleet

from .conftest import make_inventory

HOT, DISRUPTIVE = ChangeClass.HOT, ChangeClass.DISRUPTIVE


def everything(inventory, change=DISRUPTIVE):
    return [Change(name, change) for name in inventory.machines]


def test_small_fleet_all_disruptive(small_fleet):
    plan = plan_rollout(small_fleet, everything(small_fleet))
    sim = simulate(plan.to_dict(), small_fleet)
    assert sim.clean, sim.violations
    # Every machine has exactly one maintenance window.
    assert sorted(m.host for m in plan.maintenance) == sorted(small_fleet.machines)
    # Every hypervisor is empty when its maintenance starts: all its VMs left before.
    window = {m.host: m for m in plan.maintenance}
    for m in plan.migrations:
        if m.source in window:
            assert m.end_s <= window[m.source].start_s or m.start_s >= window[m.source].end_s
    assert plan.lower_bound_s <= plan.makespan_s <= 1.5 * plan.lower_bound_s
    assert plan.makespan_s == pytest.approx(sim.makespan_s, abs=1e-3)
    assert sim.peak_parallel_evacuations <= small_fleet.policy.rollout.max_parallel_evacuations


def test_service_members_are_maintained_one_at_a_time(small_fleet):
    plan = plan_rollout(small_fleet, everything(small_fleet))
    by_service = defaultdict(list)
    for m in plan.maintenance:
        service = small_fleet.machines[m.host].service
        if service:
            by_service[service].append((m.start_s, m.end_s))
    for windows in by_service.values():
        windows.sort()
        assert all(a[1] <= b[0] for a, b in pairwise(windows))


def test_plan_json_has_the_contract_keys_and_reads_back(small_fleet):
    data = plan_rollout(small_fleet, everything(small_fleet)).to_dict()
    assert {"waves", "migrations", "maintenance", "makespan_s", "lower_bound_s"} <= set(data)
    assert set(data["migrations"][0]) >= {"vm", "from", "to", "start_s", "end_s", "gib"}
    assert set(data["maintenance"][0]) == {"id", "host", "start_s", "end_s", "after"}
    again = plan_from_dict(data)
    assert len(again.migrations) == len(data["migrations"])
    assert again.makespan_s == data["makespan_s"]
    assert again.to_dict() | {"ratio": data["ratio"]} == data | {"lower_bound_parts": {}, "non_converging": []}


def test_hot_changes_need_no_maintenance_and_no_evacuation(small_fleet):
    plan = plan_rollout(small_fleet, everything(small_fleet, HOT))
    assert not plan.migrations and not plan.maintenance
    hosts = [h for w in plan.waves for h in w.hosts]
    assert sorted(hosts) == sorted(small_fleet.machines)
    assert len(plan.waves) >= 2


def test_waves_canary_per_segment_then_growing_with_soak():
    others = [(f"h{i:03d}", Kind.PHYSICAL, ("fe",) if i % 2 else ("srv",), None) for i in range(100)]
    inventory = make_inventory([], [], others=others)
    waves = hot_waves(inventory, [o[0] for o in others], soak_s=300)
    assert len(waves[0].hosts) == 2  # one host per segment
    sizes = [len(w.hosts) for w in waves]
    assert sizes == [2, 5, 25, 68]
    assert all(b.start_s - a.end_s == 300 for a, b in pairwise(waves))
    assert sorted(h for w in waves for h in w.hosts) == sorted(o[0] for o in others)


@pytest.mark.parametrize("count", [2, 3, 5])
def test_never_all_hosts_in_one_wave(count):
    others = [(f"h{i}", Kind.PHYSICAL, ("fe", "srv", "mgm"), None) for i in range(count)]
    inventory = make_inventory([], [], others=others)
    waves = hot_waves(inventory, [o[0] for o in others], soak_s=10)
    assert len(waves) >= 2 and all(len(w.hosts) < count for w in waves)


def test_not_enough_spare_memory_names_hosts_and_missing_memory():
    # Three 64 GiB hosts holding 48 each: evacuating one needs 48 GiB, the others have 32.
    hosts = [(f"kvm{i}", 64, 10) for i in range(3)]
    vms = [(f"vm{i}{j}", f"kvm{i}", 24, 10, None) for i in range(3) for j in range(2)]
    inventory = make_inventory(hosts, vms)
    with pytest.raises(InputError) as caught:
        plan_rollout(inventory, [Change("kvm0", DISRUPTIVE)])
    message = str(caught.value)
    assert "kvm0" in message and "16 GiB missing" in message


def test_a_lone_hypervisor_has_nowhere_to_send_its_vms_which_is_not_a_convergence_problem():
    inventory = make_inventory([("kvm0", 64, 10)], [("vm0", "kvm0", 8, 0, None)])
    with pytest.raises(InputError, match="evacuating kvm0 needs 8 GiB free on the other hypervisors.*8 GiB missing"):
        plan_rollout(inventory, [Change("kvm0", DISRUPTIVE)])


def test_a_vm_too_big_for_any_other_host_is_named():
    inventory = make_inventory(
        [("big", 256, 10), ("small", 64, 10), ("small2", 64, 10)], [("huge", "big", 100, 0, None)]
    )
    with pytest.raises(InputError, match="huge .*fits on no other hypervisor.*36 GiB missing"):
        plan_rollout(inventory, [Change("big", DISRUPTIVE)])


def test_non_converging_vm_is_reported_not_timed():
    inventory = make_inventory(
        [("a", 64, 1), ("b", 64, 1), ("c", 64, 1)],
        [("busy", "a", 8, 200, None), ("calm", "a", 8, 5, None), ("other", "b", 8, 5, None)],
    )
    plan = plan_rollout(inventory, [Change("a", DISRUPTIVE), Change("b", DISRUPTIVE)])
    assert [n.vm for n in plan.non_converging] == ["busy"]
    assert "offline" in plan.non_converging[0].advice
    assert plan.unscheduled == ("a",)
    assert all(m.source != "a" for m in plan.migrations)
    assert "a" not in {m.host for m in plan.maintenance}
    assert simulate(plan.to_dict(), inventory).clean
    data = plan.to_dict()
    assert data["non_converging"][0]["vm"] == "busy" and data["unscheduled"] == ["a"]


def test_unknown_host_is_an_input_error(small_fleet):
    with pytest.raises(InputError, match="nope"):
        plan_rollout(small_fleet, [Change("nope", DISRUPTIVE)])


def test_untouched_hosts_take_the_vms_so_nothing_moves_twice():
    hosts = [("old1", 64, 10), ("old2", 64, 10), ("spare", 128, 10)]
    vms = [(f"v{i}", "old1" if i < 3 else "old2", 16, 20, None) for i in range(6)]
    inventory = make_inventory(hosts, vms)
    plan = plan_rollout(inventory, [Change("old1", DISRUPTIVE), Change("old2", DISRUPTIVE)])
    assert len(plan.migrations) == 6  # each VM once
    assert simulate(plan.to_dict(), inventory).clean


def test_fleet_of_fifty_within_the_bound():
    inventory = fleet(50, 20)
    plan = plan_rollout(inventory, everything(inventory))
    sim = simulate(plan.to_dict(), inventory)
    assert sim.clean
    assert plan.ratio <= 1.5


@st.composite
def fleets(draw):
    n = draw(st.integers(2, 6))
    hosts = [(f"k{i}", draw(st.sampled_from([32, 64, 96])), draw(st.sampled_from([1, 10, 25]))) for i in range(n)]
    vms = []
    for i, (name, cap, _) in enumerate(hosts):
        used = 0
        for j in range(draw(st.integers(0, 5))):
            gib = draw(st.sampled_from([1, 2, 4, 8, 16]))
            if used + gib > cap:
                break
            used += gib
            vms.append(
                (
                    f"v{i}_{j}",
                    name,
                    gib,
                    draw(st.sampled_from([0, 10, 50, 90, 150])),
                    draw(st.sampled_from([None, "s1", "s2"])),
                )
            )
    rollout = RolloutPolicy(
        max_parallel_evacuations=draw(st.integers(1, 3)),
        max_migrations_per_host=draw(st.integers(1, 3)),
        reconfigure_s=draw(st.sampled_from([10, 60])),
    )
    inventory = make_inventory(hosts, vms, rollout=rollout)
    touched = draw(st.lists(st.sampled_from(sorted(inventory.machines)), min_size=1, unique=True))
    kinds = [draw(st.sampled_from([HOT, DISRUPTIVE])) for _ in touched]
    return inventory, [Change(h, k) for h, k in zip(touched, kinds, strict=True)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_any_plan_the_planner_makes_simulates_clean(case):
    inventory, changes = case
    try:
        plan = plan_rollout(inventory, changes)
    except InputError as error:
        assert "no safe plan" in str(error)
        return
    sim = simulate(plan.to_dict(), inventory)
    assert sim.clean, sim.violations
    assert plan.makespan_s + 1e-6 >= plan.lower_bound_s
    scheduled = {m.host for m in plan.maintenance} | {h for w in plan.waves for h in w.hosts}
    assert scheduled == {c.host for c in changes} - set(plan.unscheduled)


def test_free_memory_in_pieces_too_small_is_refused_by_name():
    # 32 GiB free in total but 16 + 16: a 24 GiB VM fits nowhere.
    hosts = [(f"kvm{i}", 64, 10) for i in range(3)]
    vms = [("big", "kvm0", 24, 10, None)] + [(f"f{i}", f"kvm{i}", 48, 10, None) for i in (1, 2)]
    inventory = make_inventory(hosts, vms)
    with pytest.raises(
        InputError, match=r"kvm0 cannot be evacuated.*24 GiB.*largest free block elsewhere is 16 GiB: 8 GiB missing"
    ):
        plan_rollout(inventory, [Change("kvm0", DISRUPTIVE)])


def test_a_host_whose_vms_fit_nowhere_yet_waits_for_one_that_frees_a_host():
    # Every host has 40 GiB free: a and b (one 60 GiB VM each) fit nowhere until c
    # (two 30 GiB VMs, which fit) has been evacuated and maintained. Admitting a first
    # (longest evacuation) used to hold the only slot and end in "no safe plan".
    hosts = [("a", 100, 10), ("b", 100, 10), ("c", 100, 10)]
    vms = [("a1", "a", 60, 500, None), ("b1", "b", 60, 700, None), ("c1", "c", 30, 5, None), ("c2", "c", 30, 10, None)]
    inventory = make_inventory(hosts, vms, rollout=RolloutPolicy(max_parallel_evacuations=1))
    changes = [Change(h, DISRUPTIVE) for h in ("a", "b", "c")]
    plan = plan_rollout(inventory, changes)
    assert simulate(plan.to_dict(), inventory).clean
    assert {m.host for m in plan.maintenance} >= {"a", "b", "c"}
    # Behind a 1 Gbit/s link c's free memory is out of reach for the busy VMs: refused,
    # and the message says why the free memory there does not count.
    slow = make_inventory([("a", 100, 10), ("b", 100, 10), ("c", 100, 1)], vms)
    with pytest.raises(InputError, match=r"link is too slow for a1's dirty rate"):
        plan_rollout(slow, changes)


def test_vms_that_need_a_fast_link_leave_before_the_fast_hosts_fill_up():
    # busy VMs (300 MiB/s) converge only between the two 10 Gbit/s hosts; sending their
    # idle neighbours first filled that room and ended in a false "no safe plan".
    hosts = [("h0", 96, 10), ("h1", 96, 1), ("h2", 128, 10)]
    vms = [
        ("h0v0", "h0", 24, 300, None),
        ("h0v1", "h0", 24, 0, None),
        ("h1v0", "h1", 24, 60, None),
        ("h1v1", "h1", 24, 20, None),
        ("h2v0", "h2", 16, 300, None),
    ]
    inventory = make_inventory(hosts, vms)
    plan = plan_rollout(inventory, [Change(h, DISRUPTIVE) for h, _, _ in hosts])
    assert simulate(plan.to_dict(), inventory).clean
    assert not plan.unscheduled


def test_fast_hosts_filled_by_slow_sources_are_retried_keeping_room():
    # h1's VMs (1 Gbit/s: any target gives the same rate) filled the two fast hosts, and
    # h2v0 (300 MiB/s) converges only between them: the retry keeps room there for it.
    hosts = [("h0", 64, 10), ("h1", 128, 1), ("h2", 64, 10)]
    vms = [
        ("h0v0", "h0", 8, 5, "s1"),
        ("h0v1", "h0", 4, 5, None),
        ("h0v2", "h0", 4, 20, "s1"),
        ("h1v0", "h1", 4, 0, "s2"),
        ("h1v1", "h1", 24, 5, None),
        ("h1v2", "h1", 4, 60, None),
        ("h2v0", "h2", 16, 300, "s2"),
        ("h2v1", "h2", 16, 20, "s1"),
        ("h2v2", "h2", 4, 5, None),
    ]
    inventory = make_inventory(hosts, vms)
    plan = plan_rollout(inventory, [Change(h, DISRUPTIVE) for h, _, _ in hosts])
    assert simulate(plan.to_dict(), inventory).clean
    assert {"h0", "h1", "h2"} <= {m.host for m in plan.maintenance}


def test_a_host_held_by_a_non_converging_vm_still_receives():
    # b's 48 GiB fit only with a's free memory: a is held (its VM cannot move) but up.
    inventory = make_inventory(
        [("a", 64, 10), ("b", 64, 10), ("c", 64, 10)],
        [("busy", "a", 8, 5000, None), ("b1", "b", 24, 5, None), ("b2", "b", 24, 5, None), ("c1", "c", 48, 5, None)],
    )
    plan = plan_rollout(inventory, [Change("a", DISRUPTIVE), Change("b", DISRUPTIVE)])
    assert plan.unscheduled == ("a",)
    assert {m.target for m in plan.migrations} == {"a"}
    assert simulate(plan.to_dict(), inventory).clean


def test_a_fast_source_sends_in_parallel_to_slower_targets():
    inventory = make_inventory(
        [("fast", 128, 25), ("t1", 64, 10), ("t2", 64, 10)],
        [(f"v{i}", "fast", 8, 10, None) for i in range(6)],
        rollout=RolloutPolicy(max_migrations_per_host=2),
    )
    plan = plan_rollout(inventory, [Change("fast", DISRUPTIVE)])
    first = sorted(plan.migrations, key=lambda m: m.start_s)[:2]
    assert first[0].start_s == first[1].start_s == 0  # two lanes of 12.5 Gbit/s each
    assert simulate(plan.to_dict(), inventory).clean


def test_a_fast_host_among_slower_ones_is_not_starved():
    # One 25 Gbit/s hypervisor among 10 Gbit/s ones, one migration per host: it must
    # still evacuate alongside the others, not wait until everything else is done.
    hosts = [("fast", 128, 25)] + [(f"s{i}", 128, 10) for i in range(4)]
    vms = [(f"v{h}{j}", h, 16, 10, None) for h, _, _ in hosts for j in range(3)]
    inventory = make_inventory(hosts, vms, rollout=RolloutPolicy(max_migrations_per_host=1))
    plan = plan_rollout(inventory, [Change(h, DISRUPTIVE) for h, _, _ in hosts])
    assert simulate(plan.to_dict(), inventory).clean
    # Before the fix it waited for everything else (ratio 2.7); what remains over the
    # bound is VMs moved twice in a fleet this small.
    assert plan.ratio <= 2.0


def test_routers_are_maintained_one_at_a_time_once_the_canary_has_soaked():
    """Both routers restarted at t=0, beside the canary and together, took down the
    routing of every segment before the change had proved itself anywhere."""
    from netcfg.rollout.jitter import simulate_jittered

    others = [("rt1", Kind.ROUTER, ["fe", "srv"], None), ("rt2", Kind.ROUTER, ["fe", "srv"], None)]
    others += [(f"web{i}", Kind.PHYSICAL, ["fe"], None) for i in range(1, 5)]
    inventory = make_inventory([("kvm1", 64, 10)], [], others=others, rollout=RolloutPolicy(soak_s=300))
    changes = [Change(f"web{i}", HOT) for i in range(1, 5)] + [Change("rt1", DISRUPTIVE), Change("rt2", DISRUPTIVE)]
    plan = plan_rollout(inventory, changes)
    canary = plan.waves[0]
    windows = sorted(plan.maintenance, key=lambda w: w.start_s)
    assert [w.host for w in windows] == ["rt1", "rt2"]
    assert windows[0].start_s >= canary.end_s + canary.soak_s and windows[1].start_s >= windows[0].end_s
    assert windows[0].after == (canary.id,) and windows[1].after == (windows[0].id,)
    assert ("routers", canary.end_s + canary.soak_s + 2 * 60.0) in plan.lower_bound_parts
    assert not simulate(plan.to_dict(), inventory).violations
    assert not simulate_jittered(plan.to_dict(), inventory, 0.3, 3.0, 50, 3).violations


def _routers_fleet(hot_hosts: int, others_disruptive: int) -> tuple:
    others = [("rt1", Kind.ROUTER, ["fe", "srv"], None), ("rt2", Kind.ROUTER, ["fe", "srv"], None)]
    others += [(f"web{i}", Kind.PHYSICAL, ["fe"], None) for i in range(hot_hosts + others_disruptive)]
    inventory = make_inventory([("kvm1", 64, 10)], [], others=others, rollout=RolloutPolicy(soak_s=300))
    changes = [Change(f"web{i}", HOT) for i in range(hot_hosts)]
    changes += [Change(f"web{i}", DISRUPTIVE) for i in range(hot_hosts, hot_hosts + others_disruptive)]
    return inventory, changes + [Change("rt1", DISRUPTIVE), Change("rt2", DISRUPTIVE)]


def test_a_lone_canary_still_soaks_before_the_routers():
    """The last wave soaks 0 s (nothing follows it); a canary that is the only wave was
    followed by the routers at once."""
    inventory, changes = _routers_fleet(1, 0)
    plan = plan_rollout(inventory, changes)
    (canary,) = plan.waves
    assert canary.soak_s == 300
    first = min(plan.maintenance, key=lambda w: w.start_s)
    assert first.start_s == canary.end_s + 300 and first.after == (canary.id,)
    assert simulate(plan.to_dict(), inventory).clean


def test_without_hot_waves_routers_wait_for_another_machine_to_come_back():
    inventory, changes = _routers_fleet(0, 3)
    plan = plan_rollout(inventory, changes)
    windows = {w.host: w for w in plan.maintenance}
    routers = sorted((windows["rt1"], windows["rt2"]), key=lambda w: w.start_s)
    first_back = min((w for h, w in windows.items() if h.startswith("web")), key=lambda w: w.end_s)
    assert routers[0].start_s >= first_back.end_s and routers[0].after == (first_back.id,)
    assert routers[1].after == (routers[0].id,)
    assert ("routers", 3 * 60.0) in plan.lower_bound_parts
    assert simulate(plan.to_dict(), inventory).clean
