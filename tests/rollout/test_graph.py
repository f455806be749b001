"""The plan is a dependency graph: every step has an id and the ids it waits for, and
those dependencies alone keep every invariant whatever the durations (checked by the
independent replay with durations stretched and shrunk at random)."""

from __future__ import annotations

import copy
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings

from netcfg.errors import InputError
from netcfg.forked import beside
from netcfg.impact.model import ChangeClass
from netcfg.inventory.load import load_inventory
from netcfg.model.inventory import RolloutPolicy
from netcfg.rollout import jitter
from netcfg.rollout.jitter import read_graph, retime, simulate_jittered, simulate_plan
from netcfg.rollout.model import Change
from netcfg.rollout.plan import plan_rollout
from netcfg.testing.fleet import fleet

from .conftest import INCIDENT, make_inventory
from .test_plan import fleets

DISRUPTIVE = ChangeClass.DISRUPTIVE


def everything(inventory):
    return [Change(name, DISRUPTIVE) for name in inventory.machines]


def steps(data):
    return {s["id"]: s for kind in ("waves", "migrations", "maintenance") for s in data[kind]}


def ancestors(data, step_id):
    by_id, seen, todo = steps(data), set(), [step_id]
    while todo:
        for before in by_id[todo.pop()]["after"]:
            if before not in seen:
                seen.add(before)
                todo.append(before)
    return seen


def test_every_step_has_an_id_and_waits_only_for_steps_that_end_before_it(small_fleet):
    data = plan_rollout(small_fleet, everything(small_fleet)).to_dict()
    by_id = steps(data)
    assert len(by_id) == len(data["migrations"]) + len(data["maintenance"]) + len(data["waves"])
    assert [m["id"] for m in data["migrations"]] == [f"migrate-{n}" for n in range(len(data["migrations"]))]
    assert {w["id"] for w in data["maintenance"]} == {f"maint-{w['host']}" for w in data["maintenance"]}
    for step in by_id.values():
        for before in step["after"]:
            assert by_id[before]["end_s"] <= step["start_s"] + 1e-9, (before, step["id"])
    assert data["limits"] == {"max_parallel_evacuations": 2, "max_migrations_per_host": 2}


def test_a_hypervisor_is_maintained_after_every_vm_has_left_and_receives_after(small_fleet):
    data = plan_rollout(small_fleet, everything(small_fleet)).to_dict()
    for window in data["maintenance"]:
        host = window["host"]
        if not host.startswith("kvm"):
            continue
        before = ancestors(data, window["id"])
        for m in data["migrations"]:
            if m["from"] == host or (m["to"] == host and m["end_s"] <= window["start_s"]):
                assert m["id"] in before, (m["id"], host)
            elif m["to"] == host:
                assert window["id"] in ancestors(data, m["id"]), (m["id"], host)


def test_a_vm_moves_once_at_a_time_and_services_are_maintained_in_turn(small_fleet):
    data = plan_rollout(small_fleet, everything(small_fleet)).to_dict()
    by_vm = defaultdict(list)
    for m in data["migrations"]:
        by_vm[m["vm"]].append(m["id"])
    for ids in by_vm.values():
        for earlier, later in zip(ids, ids[1:], strict=False):
            assert earlier in ancestors(data, later)
    by_service = defaultdict(list)
    for w in data["maintenance"]:
        service = small_fleet.machines[w["host"]].service
        if service:
            by_service[service].append(w)
    for windows in by_service.values():
        windows.sort(key=lambda w: w["start_s"])
        for earlier, later in zip(windows, windows[1:], strict=False):
            assert earlier["id"] in ancestors(data, later["id"])


def test_waves_wait_for_each_other_and_keep_their_soak():
    inventory = load_inventory(INCIDENT / "after-live")
    data = plan_rollout(inventory, [Change(n, ChangeClass.HOT) for n in inventory.machines]).to_dict()
    waves = data["waves"]
    assert [w["id"] for w in waves] == [f"hot-{i}" for i in range(len(waves))]
    assert [w["after"] for w in waves] == [[]] + [[f"hot-{i}"] for i in range(len(waves) - 1)]
    assert [w["soak_s"] for w in waves] == [300.0] * (len(waves) - 1) + [0.0]
    # Replayed with planned durations, the soaks keep the waves where the plan has them.
    graph = read_graph(data)
    starts, _ = retime(graph, [1.0] * len(graph.duration))
    assert starts[: len(waves)] == pytest.approx([w["start_s"] for w in waves])


def test_the_graph_at_the_estimates_ends_no_later_than_the_timetable(small_fleet):
    data = plan_rollout(small_fleet, everything(small_fleet)).to_dict()
    result = simulate_jittered(data, small_fleet, 1.0, 1.0, 1, 0)
    assert result.clean
    assert result.makespans[0] <= data["makespan_s"] + 1e-6


@pytest.mark.parametrize(
    "rollout",
    [RolloutPolicy(), RolloutPolicy(max_parallel_evacuations=3, max_migrations_per_host=1), RolloutPolicy(4, 3)],
)
def test_jittered_replays_of_a_fleet_are_clean(rollout):
    inventory = fleet(24, 12, seed=3, rollout=rollout)
    data = plan_rollout(inventory, everything(inventory)).to_dict()
    result = simulate_jittered(data, inventory, 0.3, 3.0, 60, 7)
    assert result.clean, result.examples[:5]
    assert result.runs == 60 and len(result.makespans) == 60
    assert result.percentile(50) <= result.percentile(95)


def test_jittered_replays_of_the_incident_are_clean():
    inventory = load_inventory(INCIDENT / "after")
    data = plan_rollout(inventory, everything(inventory)).to_dict()
    result = simulate_jittered(data, inventory, 0.3, 3.0, 200, 1)
    assert result.clean, result.examples[:5]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_any_plan_the_planner_makes_stays_clean_under_jitter(case):
    inventory, changes = case
    try:
        plan = plan_rollout(inventory, changes)
    except InputError as error:
        assert "no safe plan" in str(error)
        return
    result = simulate_jittered(plan.to_dict(), inventory, 0.3, 3.0, 25, 11)
    assert result.clean, result.examples[:5]


def without(data, step_id, before_id):
    broken = copy.deepcopy(data)
    steps(broken)[step_id]["after"].remove(before_id)
    return broken


def test_the_last_migration_out_removed_from_a_maintenance_is_caught():
    inventory = load_inventory(INCIDENT / "after")
    data = plan_rollout(inventory, everything(inventory)).to_dict()
    window = next(w for w in data["maintenance"] if w["host"] == "kvm01")
    last_out = [a for a in window["after"] if steps(data)[a].get("from") == "kvm01"]
    assert last_out
    result = simulate_jittered(without(data, window["id"], last_out[0]), inventory, 0.3, 3.0, 200, 1)
    assert result.violations > 0
    assert {v.invariant for _, v in result.examples} >= {"maintenance"}


def test_receiving_before_the_maintenance_ended_is_caught():
    # Tight: every host 75 % full, so a VM can only land where the others have left.
    hosts = [(f"k{i}", 64, 10) for i in range(4)]
    vms = [(f"v{i}{j}", f"k{i}", 16, 20, None) for i in range(4) for j in range(3)]
    inventory = make_inventory(hosts, vms, rollout=RolloutPolicy(max_parallel_evacuations=1))
    data = plan_rollout(inventory, everything(inventory)).to_dict()
    assert simulate_jittered(data, inventory, 0.3, 3.0, 100, 3).clean
    # Each dependency of a migration on a maintenance (its target receives again).
    receiving = [(m["id"], a) for m in data["migrations"] for a in m["after"] if a == f"maint-{m['to']}"]
    assert receiving
    caught = set()
    for step_id, before in receiving:
        result = simulate_jittered(without(data, step_id, before), inventory, 0.3, 3.0, 100, 3)
        assert result.violations > 0, (step_id, before)
        caught |= {v.invariant for _, v in result.examples}
    assert "maintenance" in caught


def test_a_plan_without_ids_or_with_a_cycle_has_no_graph(small_fleet):
    data = plan_rollout(small_fleet, everything(small_fleet)).to_dict()
    bare = copy.deepcopy(data)
    del bare["migrations"][0]["id"]
    with pytest.raises(InputError, match=r"migrations\[0\] has no id or no after: the plan is not a dependency graph"):
        read_graph(bare)
    cyclic = copy.deepcopy(data)
    cyclic["migrations"][0]["after"] = [cyclic["maintenance"][-1]["id"]]
    cyclic["maintenance"][-1]["after"].append("migrate-0")
    with pytest.raises(InputError, match="the dependencies form a cycle"):
        read_graph(cyclic)
    unknown = copy.deepcopy(data)
    unknown["migrations"][0]["after"] = ["migrate-999"]
    with pytest.raises(InputError, match=r"migrations\[0\]: after names 'migrate-999', which is no step of the plan"):
        read_graph(unknown)
    twice = copy.deepcopy(data)
    twice["migrations"][1]["id"] = "migrate-0"
    with pytest.raises(InputError, match="id 'migrate-0' is used twice"):
        read_graph(twice)
    for bad in (42, "", ["migrate-0"]):
        # An id of the wrong kind is that, not a plan of an older netcfg without ids.
        wrong = copy.deepcopy(data)
        wrong["migrations"][1]["id"] = bad
        with pytest.raises(InputError, match=r"migrations\[1\]: id must be a non-empty string, not ") as caught:
            read_graph(wrong)
        assert "no id or no after" not in str(caught.value)


def test_a_plan_checked_beside_its_exact_replay_finds_what_one_process_finds(monkeypatch):
    inventory = load_inventory(INCIDENT / "after")
    data = plan_rollout(inventory, everything(inventory)).to_dict()
    window = next(w for w in data["maintenance"] if w["host"] == "kvm01")
    unordered = without(data, window["id"], window["after"][0])
    early = copy.deepcopy(data)
    early["maintenance"][-1]["start_s"] = 0.0
    cyclic = copy.deepcopy(data)
    cyclic["migrations"][0]["after"] = [cyclic["maintenance"][-1]["id"]]
    forked = []
    monkeypatch.setattr(jitter, "PARALLEL_MIN", 0)
    monkeypatch.setattr(jitter, "can_fork", lambda: True)  # whatever threads earlier tests left
    monkeypatch.setattr(jitter, "beside", lambda *args: forked.append(1) or beside(*args))
    for plan in (data, unordered, early):
        alone = simulate_plan(plan, inventory, jobs=1)
        assert simulate_plan(plan, inventory, jobs=2) == alone
    assert len(forked) == 3
    assert simulate_plan(data, inventory, jobs=2).clean
    assert "order" in {v.invariant for v in simulate_plan(early, inventory, jobs=2).violations}  # the worker's
    assert "maintenance" in {v.invariant for v in simulate_plan(unordered, inventory, jobs=2).violations}
    with pytest.raises(InputError, match="the dependencies form a cycle"):
        simulate_plan(cyclic, inventory, jobs=2)
