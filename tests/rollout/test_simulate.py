"""The simulator finds each kind of invariant violation in hand-written plans, with its
time, host and amount, and passes a plan that keeps them all."""

from __future__ import annotations

import math

import pytest

from netcfg.errors import InputError
from netcfg.model.host import Kind
from netcfg.model.inventory import RolloutPolicy
from netcfg.rollout.estimate import link_rate_mib_s, precopy
from netcfg.rollout.simulate import simulate

from .conftest import make_inventory

HOSTS = [("a", 32, 10), ("b", 32, 10), ("c", 32, 10)]
VMS = [
    ("v1", "a", 8, 0, "web"),
    ("v2", "a", 8, 0, None),
    ("w1", "b", 16, 0, "web"),
    ("w2", "b", 8, 0, None),
    ("x1", "c", 8, 0, None),
]


def inv(**rollout):
    return make_inventory(HOSTS, VMS, rollout=RolloutPolicy(**rollout) if rollout else None)


def t(gib: float) -> float:
    """Model time of an idle VM over a 10 Gbit/s link used alone (ms grid, rounded up)."""
    seconds = precopy(gib, 0, link_rate_mib_s(10, 10, 0.8)).seconds
    return math.ceil(seconds * 1000) / 1000


def mig(vm, src, dst, start, gib, duration=None):
    return {
        "vm": vm,
        "from": src,
        "to": dst,
        "start_s": start,
        "end_s": start + (duration if duration is not None else t(gib)),
        "gib": gib,
    }


def plan(migrations=(), maintenance=()):
    return {
        "waves": [],
        "migrations": list(migrations),
        "maintenance": list(maintenance),
        "makespan_s": 0,
        "lower_bound_s": 0,
    }


def kinds(sim):
    return sorted({v.invariant for v in sim.violations})


def test_a_safe_evacuation_is_clean():
    p = plan(
        [mig("v1", "a", "c", 0, 8), mig("v2", "a", "c", t(8), 8)],
        [{"host": "a", "start_s": 2 * t(8), "end_s": 2 * t(8) + 60}],
    )
    sim = simulate(p, inv())
    assert sim.clean, sim.violations
    assert sim.peak_gib["c"] == 24 and sim.peak_gib["a"] == 16
    assert sim.peak_parallel_evacuations == 1
    assert sim.makespan_s == 2 * t(8) + 60


def test_capacity_counts_a_migrating_vm_on_both_ends():
    # b holds 24 of 32; v1 (8) fits, v2 arriving at the same time does not: 8 GiB over.
    p = plan([mig("v1", "a", "b", 0, 8), mig("v2", "a", "b", 0, 8)])
    sim = simulate(p, inv())
    over = [v for v in sim.violations if v.invariant == "capacity"]
    assert len(over) == 1
    assert (over[0].host, over[0].amount, over[0].time_s) == ("b", 8, 0)
    assert sim.peak_gib["b"] == 40
    assert sim.overcommitted() == {"b": 8}


def test_memory_is_freed_on_the_source_only_when_the_migration_ends():
    # a holds 16 GiB of 32. w1 (16) and x1 (8) arriving while v1 (8) still leaves
    # make 40; once v1 has gone they make 32, which fits.
    early = plan(
        [mig("v1", "a", "c", 0, 8), mig("w1", "b", "a", t(8) / 2, 16, 100), mig("x1", "c", "a", t(8) / 2, 8, 100)]
    )
    late = plan([mig("v1", "a", "c", 0, 8), mig("w1", "b", "a", t(8), 16, 100), mig("x1", "c", "a", t(8), 8, 100)])
    over = [v for v in simulate(early, inv(max_migrations_per_host=4)).violations if v.invariant == "capacity"]
    assert [(v.host, v.amount) for v in over] == [("a", 8)]
    assert not [v for v in simulate(late, inv(max_migrations_per_host=4)).violations if v.invariant == "capacity"]


def test_a_host_in_maintenance_holds_and_receives_nothing():
    p = plan([mig("x1", "c", "a", 100, 8)], [{"host": "a", "start_s": 0, "end_s": 200}])
    sim = simulate(p, inv())
    messages = [v.message for v in sim.violations if v.invariant == "maintenance"]
    assert any("enters maintenance holding 16 GiB" in m for m in messages)
    assert any("in maintenance but receives x1" in m for m in messages)


def test_parallel_evacuations_are_limited():
    p = plan([mig("v1", "a", "c", 0, 8), mig("w2", "b", "c", 0, 8)])
    sim = simulate(p, inv(max_parallel_evacuations=1, max_migrations_per_host=4))
    ev = [v for v in sim.violations if v.invariant == "evacuations"]
    assert len(ev) == 1 and ev[0].amount == 1
    assert sim.peak_parallel_evacuations == 2


def test_migrations_per_host_are_limited_and_sharing_slows_them():
    p = plan([mig("v1", "a", "c", 0, 8), mig("v2", "a", "c", 0, 8)])
    sim = simulate(p, inv(max_migrations_per_host=1))
    assert "migrations" in kinds(sim)
    # Two migrations share both links: each gets half, so the full-rate time is too short.
    short = [v for v in sim.violations if v.invariant == "migration"]
    assert len(short) == 2 and all("planned" in v.message and v.unit == "s" for v in short)
    assert math.isclose(short[0].amount, t(8), rel_tol=0.01)


def test_a_vm_that_cannot_converge_is_a_violation():
    inventory = make_inventory([("a", 32, 1), ("b", 32, 1)], [("hot", "a", 4, 500, None)])
    sim = simulate(plan([mig("hot", "a", "b", 0, 4, 60)]), inventory)
    assert any("never converges" in v.message for v in sim.violations)


def test_service_members_are_never_down_together():
    p = plan(
        maintenance=[
            {"host": "v1", "start_s": 0, "end_s": 60},
            {"host": "w1", "start_s": 30, "end_s": 90},
            {"host": "v2", "start_s": 30, "end_s": 90},
        ]
    )  # v2 has no service
    sim = simulate(p, inv())
    assert [(v.invariant, v.host) for v in sim.violations] == [("service", "w1")]


def test_two_overlapping_windows_of_one_host_are_caught_and_hide_nothing():
    # The first of v1's windows ended and cleared it from "down" while the second still
    # ran: w1, of the same service, went down beside it unseen.
    p = plan(
        maintenance=[
            {"host": "v1", "start_s": 0, "end_s": 60},
            {"host": "v1", "start_s": 30, "end_s": 120},
            {"host": "w1", "start_s": 90, "end_s": 150},
        ]
    )
    sim = simulate(p, inv())
    assert [(v.invariant, v.host) for v in sim.violations] == [("maintenance", "v1"), ("service", "w1")]
    assert "v1 enters maintenance while already in maintenance" in sim.violations[0].message


def test_hot_waves_keep_their_own_rules():
    def wave(hosts, start=0.0):
        return {"hosts": hosts, "start_s": start, "end_s": start + 5, "soak_s": 0}

    p = plan() | {"waves": [wave(["v1", "w1", "x1"])]}  # v1 and w1: service web
    sim = simulate(p, inv())
    assert [(v.invariant, v.host) for v in sim.violations] == [("waves", "v1"), ("service", "v1")]
    assert "wave 0 holds every host of the change" in sim.violations[0].message
    assert "service web: wave 0 holds every one of its 2 members" in sim.violations[1].message
    assert simulate(plan() | {"waves": [wave(["v1"]), wave(["w1", "x1"], 10)]}, inv()).clean
    assert simulate(plan() | {"waves": [wave(["x1"])]}, inv()).clean  # one host: one wave
    # Split into waves that run at once, they change every host together all the same,
    # and the second starts before the first has ended.
    sim = simulate(plan() | {"waves": [wave(["v1"]), wave(["w1", "x1"], 2)]}, inv())
    assert [v.message for v in sim.violations] == [
        "wave 1 starts at 2 s, before wave 0 has ended and soaked (at 5 s)",
        "waves 0, 1 at once hold every host of the change",
        "service web: waves 0, 1 at once hold every one of its 2 members",
    ]
    # Waves 0 and 2 each overlap wave 1 but never each other: no instant has v1 and w1
    # changing together; only the order is broken.
    staggered = [wave(["v1"]), wave(["x1"], 4), wave(["w1"], 6)]
    sim = simulate(plan() | {"waves": staggered}, inv())
    assert {v.invariant for v in sim.violations} == {"order"}
    # A wave waits for the soak of the one before it, not only for its end.
    soaked = [wave(["v1"]) | {"soak_s": 30}, wave(["w1", "x1"], 20)]
    assert [(v.invariant, v.host, v.amount) for v in simulate(plan() | {"waves": soaked}, inv()).violations] == [
        ("order", "w1", 15.0)
    ]
    assert simulate(plan() | {"waves": [soaked[0], wave(["w1", "x1"], 35)]}, inv()).clean
    # Waves follow one another by their index, wherever the file lists them; a plan of
    # hot waves only lasts until its last wave ends.
    listed = [wave(["w1", "x1"], 35) | {"index": 1}, soaked[0] | {"index": 0}]
    sim = simulate(plan() | {"waves": listed}, inv())
    assert sim.clean and sim.makespan_s == 40
    early = [listed[0] | {"start_s": 20, "end_s": 25}, listed[1]]
    assert [v.message for v in simulate(plan() | {"waves": early}, inv()).violations] == [
        "wave 1 starts at 20 s, before wave 0 has ended and soaked (at 35 s)"
    ]


def test_back_to_back_windows_do_not_overlap():
    p = plan(maintenance=[{"host": "v1", "start_s": 0, "end_s": 60}, {"host": "w1", "start_s": 60, "end_s": 120}])
    assert simulate(p, inv()).clean


def test_a_vm_must_be_where_the_plan_takes_it_from():
    p = plan([mig("x1", "a", "b", 0, 8)])
    sim = simulate(p, inv())
    assert any("x1 leaves a but is on c" in v.message for v in sim.violations)


def test_a_vm_is_not_maintained_while_it_migrates():
    p = plan([mig("v1", "a", "c", 0, 8)], [{"host": "v1", "start_s": 1, "end_s": 61}])
    assert any("while migrating" in v.message for v in simulate(p, inv()).violations)


def test_a_malformed_plan_is_an_input_error():
    with pytest.raises(InputError, match="not a plan file"):
        simulate({"migrations": [{"vm": "v1"}], "maintenance": []}, inv())


# --- the simulator catches a good plan made bad ------------------------------------------


def test_non_finite_times_are_an_input_error_and_a_self_migration_a_violation():
    # JSON admits NaN: a NaN time compares false with everything and passed every check.
    for bad in (
        plan([mig("v1", "a", "c", float("nan"), 8)]),
        plan([], [{"host": "a", "start_s": 0, "end_s": float("inf")}]),
    ):
        with pytest.raises(InputError, match="not a number up to"):
            simulate(bad, inv())
    sim = simulate(plan([mig("v1", "a", "a", 0, 8)]), inv())
    assert [(v.host, v.invariant) for v in sim.violations] == [("a", "migration")]


def test_zero_length_windows_end_and_the_planner_with_reconfigure_0_is_clean():
    # A [t, t] window used to sort its end before its start: the host stayed in
    # maintenance for ever, and every plan made with reconfigure_s 0 failed (exit 1).
    p = plan(
        [mig("v1", "a", "c", 10, 8)],
        [
            {"host": "x1", "start_s": 5, "end_s": 5},
            {"host": "v2", "start_s": 0, "end_s": 0},
            {"host": "w1", "start_s": 0, "end_s": 0},
        ],
    )
    assert simulate(p, inv()).clean, simulate(p, inv()).violations
    # Ending before it starts, or at a time given as text: no plan, as the executor says.
    for window in ({"host": "c", "start_s": 5, "end_s": 4}, {"host": "c", "start_s": "0", "end_s": 4}):
        with pytest.raises(InputError, match=r"maintenance\[0\] has a time .* \(or an end before its start\)"):
            simulate(plan([], [window]), inv())
    from netcfg.impact.model import ChangeClass
    from netcfg.rollout.model import Change
    from netcfg.rollout.plan import plan_rollout

    inventory = make_inventory(HOSTS, VMS, rollout=RolloutPolicy(reconfigure_s=0))
    made = plan_rollout(inventory, [Change(h, ChangeClass.DISRUPTIVE) for h in ("a", "b", "c", "v1", "w1")])
    assert simulate(made.to_dict(), inventory).clean


def _incident_plan():
    from netcfg.impact.model import ChangeClass
    from netcfg.inventory.load import load_inventory
    from netcfg.rollout.model import Change
    from netcfg.rollout.plan import plan_rollout

    from .conftest import INCIDENT

    inventory = load_inventory(INCIDENT / "after")
    kvm = [n for n, m in inventory.machines.items() if str(m.kind) == "kvm-host"]
    plan = plan_rollout(inventory, [Change(n, ChangeClass.DISRUPTIVE) for n in kvm]).to_dict()
    assert simulate(plan, inventory).clean
    return plan, inventory


def test_maintenance_before_the_last_vm_left_is_caught():
    plan, inventory = _incident_plan()
    last = max(plan["migrations"], key=lambda m: m["end_s"])
    for w in plan["maintenance"]:
        if w["host"] == last["from"]:
            w["start_s"], w["end_s"] = last["end_s"] - 100, last["end_s"] - 40
    sim = simulate(plan, inventory)
    assert any(v.invariant == "maintenance" and v.host == last["from"] for v in sim.violations)


def test_all_vms_sent_to_one_host_is_caught():
    plan, inventory = _incident_plan()
    target = plan["migrations"][-1]["to"]
    for m in plan["migrations"]:
        if m["from"] != target:
            m["to"] = target
    sim = simulate(plan, inventory)
    assert target in sim.overcommitted()


def test_optimistic_durations_are_caught():
    plan, inventory = _incident_plan()
    for m in plan["migrations"]:
        m["end_s"] = m["start_s"] + (m["end_s"] - m["start_s"]) / 2
    sim = simulate(plan, inventory)
    assert len([v for v in sim.violations if v.invariant == "migration"]) == len(plan["migrations"])


def test_starting_every_evacuation_together_is_caught():
    plan, inventory = _incident_plan()
    first = {}
    for m in plan["migrations"]:
        first.setdefault(m["from"], m["start_s"])
    for m in plan["migrations"]:
        shift = first[m["from"]]
        m["start_s"] -= shift
        m["end_s"] -= shift
    sim = simulate(plan, inventory)
    assert sim.peak_parallel_evacuations > inventory.policy.rollout.max_parallel_evacuations
    assert "evacuations" in kinds(sim)


def test_the_simulator_shares_no_code_with_the_planner():
    import ast
    from pathlib import Path

    import netcfg.rollout.simulate as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m and m.startswith("netcfg.rollout")}, imported


def test_two_routers_are_never_down_together():
    others = [("rt1", Kind.ROUTER, ["srv"], None), ("rt2", Kind.ROUTER, ["srv"], None)]
    inventory = make_inventory(HOSTS, VMS, others=others)
    together = plan(
        maintenance=[{"host": "rt1", "start_s": 0, "end_s": 60}, {"host": "rt2", "start_s": 59, "end_s": 90}]
    )
    assert [(v.invariant, v.host) for v in simulate(together, inventory).violations] == [("routers", "rt2")]
    apart = plan(maintenance=[{"host": "rt1", "start_s": 0, "end_s": 60}, {"host": "rt2", "start_s": 60, "end_s": 90}])
    assert not simulate(apart, inventory).violations


def test_a_router_waits_for_the_change_to_prove_itself_elsewhere():
    others = [("rt1", Kind.ROUTER, ["srv"], None), ("lb1", Kind.PHYSICAL, ["srv"], None)]
    inventory = make_inventory(HOSTS, VMS, others=others, rollout=RolloutPolicy(soak_s=300))
    canary = {"hosts": ["lb1"], "start_s": 0, "end_s": 5, "soak_s": 0}  # its soak_s edited away
    early = plan(maintenance=[{"host": "rt1", "start_s": 5, "end_s": 65}]) | {"waves": [canary]}
    violations = simulate(early, inventory).violations
    assert [(v.invariant, v.host) for v in violations] == [("routers", "rt1")]
    assert "before the first hot wave has ended and soaked (soak_s 300), at 305 s" in violations[0].message
    late = plan(maintenance=[{"host": "rt1", "start_s": 305, "end_s": 365}]) | {"waves": [canary]}
    assert simulate(late, inventory).clean
    # No hot wave: another machine's window must have ended first.
    beside = plan(maintenance=[{"host": "lb1", "start_s": 0, "end_s": 60}, {"host": "rt1", "start_s": 30, "end_s": 90}])
    assert [(v.invariant, v.host) for v in simulate(beside, inventory).violations] == [("routers", "rt1")]
    after = plan(maintenance=[{"host": "lb1", "start_s": 0, "end_s": 60}, {"host": "rt1", "start_s": 60, "end_s": 120}])
    assert simulate(after, inventory).clean
