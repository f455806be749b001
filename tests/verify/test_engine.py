"""Counting flow classes by class must give exactly what following one concrete flow
per pair of endpoints gives (`reference`): on the bundled inventory under both
designs, on a fleet half migrated, base against head, and on random small fleets."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netcfg.designs import render
from netcfg.inventory.load import load_inventory
from netcfg.model.host import DesignName
from netcfg.model.inventory import Inventory
from netcfg.verify.classes import build
from netcfg.verify.engine import Side, count, single
from netcfg.verify.joint import tally
from netcfg.verify.path import Fleet
from tests.verify.reference import reference, to_verdict
from tests.verify.strategies import fleets

BUNDLED = "inventory"


def by_class(inventory: Inventory, design: DesignName | None = None) -> tuple[Counter, Counter]:
    configs = render(inventory, design)
    classes = build(configs.values())
    side = Side(classes)
    joints, kind_of, exact = single(side)
    counted = count(joints, kind_of, exact, 1)
    return counted.counts, reference(classes, Fleet.of(configs.values()))


def test_bundled_policy_routing_counted_by_class_is_every_flow_followed():
    counted, expected = by_class(load_inventory(BUNDLED), DesignName.POLICY_ROUTING)
    assert counted == expected
    assert sum(counted.values()) > 5000


def test_bundled_flat_counted_by_class_is_every_flow_followed():
    counted, expected = by_class(load_inventory(BUNDLED), DesignName.FLAT)
    assert counted == expected
    # flat's promise breaks on the bundled data centre: rt01 has no route to rt02's networks
    assert any(k[0].broken for k in counted)


def half_migrated(inventory: Inventory) -> Inventory:
    machines = {
        name: replace(m, design=DesignName.FLAT) if i % 3 == 0 and m.kind.value != "router" else m
        for i, (name, m) in enumerate(inventory.machines.items())
    }
    return Inventory.build(dict(inventory.segments), inventory.networks, machines, inventory.policy)


def test_a_fleet_half_migrated_counted_by_class_is_every_flow_followed():
    counted, expected = by_class(half_migrated(load_inventory(BUNDLED)))
    assert counted == expected
    assert any(k[0].src_design != k[0].dst_design for k in counted)


def joint_reference(sides: list[Side], joints, fleets: list[Fleet]) -> Counter:
    """Base and head, one concrete flow per pair of joint endpoints."""
    out: Counter = Counter()
    for j1 in joints:
        for j2 in joints:
            if j1.family != j2.family:
                continue
            m1 = j1.ref.members[0]
            m2 = next((m for m in j2.ref.members if m != m1), None)
            if m2 is None:
                continue
            key = []
            for side, fleet, e1, e2 in zip(sides, fleets, j1.ref.endpoints, j2.ref.endpoints, strict=True):
                c = side.c
                n1, n2 = c.networks[e1.network], c.networks[e2.network]
                path = fleet.flow(m1, n1.family, _address(c, m1, n1), _address(c, m2, n2))
                d1, d2 = c.classes[e1.klass].design, c.classes[e2.klass].design
                key.append(to_verdict(c, path, m1, m2, d1, d2, n1.segment, n2.segment, n1.family, n1 is n2))
            out[tuple(key)] += 1
    return out


def _address(c, machine: str, network) -> int:
    klass = c.classes[c.class_of[machine]]
    return next(a for m, a in klass.addresses[network.index] if m == machine)


def test_base_and_head_counted_jointly_are_every_flow_followed_on_both():
    inventory = load_inventory(BUNDLED)
    before = render(inventory)
    after = render(half_migrated(inventory))
    sides = [Side(build(before.values())), Side(build(after.values()))]
    counted = tally(sides, lambda key: True)
    expected = joint_reference(sides, counted.joints, [Fleet.of(before.values()), Fleet.of(after.values())])
    assert counted.tally.counts == expected
    assert any(a != b for a, b in expected)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(inventory=fleets())
def test_random_fleets_counted_by_class_are_every_flow_followed(inventory):
    counted, expected = by_class(inventory)
    assert counted == expected


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(inventory=fleets(), flips=st.lists(st.booleans(), min_size=5, max_size=5))
def test_random_changes_counted_jointly_are_every_flow_followed_on_both(inventory, flips):
    """The head moves some machines to the other design."""
    other = {DesignName.FLAT: DesignName.POLICY_ROUTING, DesignName.POLICY_ROUTING: DesignName.FLAT}
    hosts = [m for m in inventory.machines.values() if m.kind.value != "router"]
    machines = dict(inventory.machines)
    for machine, flip in zip(hosts, flips, strict=False):
        if flip:
            machines[machine.name] = replace(machine, design=other[inventory.design_of(machine)])
    head = Inventory.build(dict(inventory.segments), inventory.networks, machines, inventory.policy)
    before, after = render(inventory), render(head)
    sides = [Side(build(before.values())), Side(build(after.values()))]
    counted = tally(sides, lambda key: True)
    expected = joint_reference(sides, counted.joints, [Fleet.of(before.values()), Fleet.of(after.values())])
    assert counted.tally.counts == expected
