"""Hot waves by risk, not by name: a low-risk canary per segment, hypervisors and routers
last, no wave with every member of a service, sizes from policy `rollout.waves`."""

from __future__ import annotations

import dataclasses
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netcfg.inventory.load import load_inventory
from netcfg.model.host import Kind
from netcfg.model.inventory import RolloutPolicy
from netcfg.rollout.waves import hot_waves

from .conftest import REPO, make_inventory

LOW = (Kind.VM, Kind.PHYSICAL)
HIGH = (Kind.KVM_HOST, Kind.ROUTER)


def kinds(inventory, hosts):
    return {inventory.machines[h].kind for h in hosts}


def mixed(rollout: RolloutPolicy | None = None, services=True):
    """Hypervisors on fe/srv/mgm named to sort first (the old canary), routers, physical
    hosts on fe/mgm, VMs on fe/srv in services web (12) and db (3)."""
    hosts = [(f"a-kvm{i}", 256, 10) for i in range(6)]
    vms = [(f"web{i:02d}", "a-kvm0", 4, 5, "web" if services else None) for i in range(12)]
    vms += [(f"db{i}", "a-kvm1", 8, 5, "db" if services else None) for i in range(3)]
    others = [(f"a-rt{i}", Kind.ROUTER, ("fe", "srv", "mgm"), None) for i in range(2)]
    others += [(f"lb{i}", Kind.PHYSICAL, ("fe", "mgm"), "lb" if services else None) for i in range(2)]
    inventory = make_inventory(hosts, vms, others=others, rollout=rollout)
    # The hand-built machines sit on srv only: give hypervisors every segment, VMs fe too.
    machines = dict(inventory.machines)
    for name, m in machines.items():
        if m.kind is Kind.KVM_HOST:
            extra = [dataclasses.replace(m.interfaces[0], segment=s, name=f"br{s}") for s in ("fe", "mgm")]
            machines[name] = dataclasses.replace(m, interfaces=m.interfaces + tuple(extra))
        elif m.kind is Kind.VM:
            fe = dataclasses.replace(m.interfaces[0], segment="fe", name="ethfe")
            machines[name] = dataclasses.replace(m, interfaces=m.interfaces + (fe,))
    return type(inventory).build(
        list(inventory.segments.values()), [], list(machines.values()), inventory.policy, "<test>"
    )


def test_the_canary_is_low_risk_one_per_segment():
    inventory = mixed()
    waves = hot_waves(inventory, sorted(inventory.machines), soak_s=300)
    canary = waves[0]
    assert canary.canary and canary.name == "canary"
    assert kinds(inventory, canary.hosts) <= set(LOW)
    # One machine per segment: a VM covers fe and srv, a physical host mgm.
    assert len(canary.hosts) == 2
    segments = {i.segment for h in canary.hosts for i in inventory.machines[h].interfaces}
    assert segments == {"fe", "srv", "mgm"}


def test_the_canary_is_a_hypervisor_only_when_nothing_else_changes():
    inventory = mixed()
    only_high = sorted(h for h, m in inventory.machines.items() if m.kind in HIGH)
    waves = hot_waves(inventory, only_high, soak_s=300)
    assert kinds(inventory, waves[0].hosts) == {Kind.KVM_HOST}  # never a router while a hypervisor will do
    routers = sorted(h for h, m in inventory.machines.items() if m.kind is Kind.ROUTER)
    assert kinds(inventory, hot_waves(inventory, routers, soak_s=300)[0].hosts) == {Kind.ROUTER}


def test_hypervisors_and_routers_come_in_the_last_waves():
    inventory = mixed()
    waves = hot_waves(inventory, sorted(inventory.machines), soak_s=300)
    last_low = max(i for i, w in enumerate(waves) if kinds(inventory, w.hosts) & set(LOW))
    first_high = min(i for i, w in enumerate(waves) if kinds(inventory, w.hosts) & set(HIGH))
    assert first_high >= last_low
    assert first_high == len(waves) - 1
    assert sorted(h for w in waves for h in w.hosts) == sorted(inventory.machines)


def test_no_wave_holds_every_member_of_a_service():
    inventory = mixed()
    waves = hot_waves(inventory, sorted(inventory.machines), soak_s=300)
    members = defaultdict(set)
    for name, m in inventory.machines.items():
        if m.service:
            members[m.service].add(name)
    for wave in waves:
        for service, names in members.items():
            assert not names <= set(wave.hosts), (wave.name, service)
    # A service's members spread: its first member goes before any service's second.
    first_wave_of = {h: w.index for w in waves for h in w.hosts}
    assert first_wave_of["web00"] <= first_wave_of["web01"] <= first_wave_of["web11"]


def test_a_two_member_service_that_would_share_a_wave_is_split():
    # Every machine alike; the two members of "pair" sort together at the end.
    others = [(f"h{i:02d}", Kind.PHYSICAL, ("fe",), None) for i in range(20)]
    others += [("zz1", Kind.PHYSICAL, ("fe",), "pair"), ("zz2", Kind.PHYSICAL, ("fe",), "pair")]
    inventory = make_inventory([], [], others=others)
    waves = hot_waves(inventory, [o[0] for o in others], soak_s=10)
    for wave in waves:
        assert not {"zz1", "zz2"} <= set(wave.hosts)
    assert sorted(h for w in waves for h in w.hosts) == sorted(o[0] for o in others)


def test_the_canary_covers_every_segment_without_holding_a_whole_service():
    # va (fe) and vb (mgm) are the whole service "duo" and each the first pick of its
    # segment; mgm has physical hosts too, which must then stand in for vb.
    others = [("va", Kind.PHYSICAL, ("fe",), "duo"), ("vb", Kind.PHYSICAL, ("mgm",), "duo")]
    others += [("p1", Kind.PHYSICAL, ("fe",), None), ("p2", Kind.PHYSICAL, ("mgm",), None)]
    others += [("p3", Kind.PHYSICAL, ("mgm",), None)]
    inventory = make_inventory([], [], others=others)
    canary = hot_waves(inventory, [o[0] for o in others], soak_s=10)[0]
    assert not {"va", "vb"} <= set(canary.hosts)
    assert {i.segment for h in canary.hosts for i in inventory.machines[h].interfaces} == {"fe", "mgm"}


def test_a_service_member_moved_on_never_lands_after_a_hypervisor():
    # Wave 1 (5 machines) holds both members of b and the first hypervisor: vm003 moving
    # on to wave 2 would be changed after kvm0 unless kvm0 moves on too.
    hosts = [(f"kvm{i}", 64, 1) for i in range(3)]
    vms = [("vm000", "kvm0", 4, 5, "a"), ("vm001", "kvm1", 4, 5, "a"), ("vm002", "kvm2", 4, 5, "b")]
    vms += [("vm003", "kvm0", 4, 5, "b"), ("vm004", "kvm1", 4, 5, None)]
    rollout = RolloutPolicy(waves=("canary", "5", "rest"))
    inventory = make_inventory(hosts, vms, others=[("gw0", Kind.ROUTER, ("srv",), None)], rollout=rollout)
    waves = hot_waves(inventory, sorted(inventory.machines), soak_s=10)
    last_low = max(i for i, w in enumerate(waves) if kinds(inventory, w.hosts) & set(LOW))
    first_high = min(i for i, w in enumerate(waves) if kinds(inventory, w.hosts) & set(HIGH))
    assert last_low <= first_high, [w.hosts for w in waves]
    for wave in waves:
        assert not {"vm002", "vm003"} <= set(wave.hosts)
    assert sorted(h for w in waves for h in w.hosts) == sorted(inventory.machines)


def test_wave_sizes_come_from_policy():
    others = [(f"h{i:03d}", Kind.PHYSICAL, ("fe",), None) for i in range(100)]
    rollout = RolloutPolicy(waves=("canary", "10", "50%", "rest"))
    inventory = make_inventory([], [], others=others, rollout=rollout)
    waves = hot_waves(inventory, [o[0] for o in others], soak_s=60)
    assert [len(w.hosts) for w in waves] == [1, 10, 50, 39]
    assert [w.soak_s for w in waves] == [60, 60, 60, 0]
    no_canary = make_inventory([], [], others=others, rollout=RolloutPolicy(waves=("20%", "rest")))
    waves = hot_waves(no_canary, [o[0] for o in others], soak_s=60)
    assert [len(w.hosts) for w in waves] == [20, 80]
    assert not waves[0].canary and waves[0].name == "wave 0"
    # A first wave that would take everything leaves one machine for the next.
    for first in ("99%", "1000"):
        greedy = make_inventory([], [], others=others, rollout=RolloutPolicy(waves=(first, "rest")))
        assert [len(w.hosts) for w in hot_waves(greedy, [o[0] for o in others], soak_s=60)] == [99, 1]


@pytest.mark.parametrize(
    "sizes, first",
    [(("1", "rest"), [1]), (("canary", "rest"), [2]), (("canary", "1", "1", "rest"), [2, 1, 1])],
)
def test_small_waves_keep_their_size_and_hypervisors_stay_last(sizes, first):
    # Services whose every member would sit in the last wave used to send one member each
    # back into the wave before it (a first wave of 1 grew to 23), or after the last wave.
    inventory = mixed(RolloutPolicy(waves=sizes))
    waves = hot_waves(inventory, sorted(inventory.machines), soak_s=300)
    assert [len(w.hosts) for w in waves[: len(first)]] == first
    high = [i for i, w in enumerate(waves) if kinds(inventory, w.hosts) & set(HIGH)]
    assert high == [len(waves) - 1]
    members = defaultdict(set)
    for name, m in inventory.machines.items():
        if m.service:
            members[m.service].add(name)
    assert not any(names <= set(w.hosts) for w in waves for names in members.values())
    assert sorted(h for w in waves for h in w.hosts) == sorted(inventory.machines)


KINDS = (Kind.VM, Kind.PHYSICAL, Kind.KVM_HOST, Kind.ROUTER)


@settings(max_examples=300, deadline=None)
@given(
    machines=st.lists(
        st.tuples(
            st.sampled_from(KINDS),
            st.sets(st.sampled_from(("srv", "fe", "mgm")), min_size=1),
            st.sampled_from((None, "a", "b", "c")),
        ),
        min_size=2,
        max_size=24,
    ),
    sizes=st.sampled_from(
        [("canary", "5%", "25%", "rest"), ("canary", "1", "rest"), ("canary", "50%", "rest"), ("10%", "rest")]
        + [("canary", "2", "3", "rest"), ("1", "rest"), ("canary", "100", "rest")]
    ),
)
def test_waves_keep_their_rules_on_any_fleet(machines, sizes):
    others = [(f"m{i:02d}", kind, tuple(sorted(segs)), service) for i, (kind, segs, service) in enumerate(machines)]
    inventory = make_inventory([], [], others=others, rollout=RolloutPolicy(waves=sizes))
    waves = hot_waves(inventory, [o[0] for o in others], soak_s=10)
    assert sorted(h for w in waves for h in w.hosts) == sorted(o[0] for o in others)
    assert all(w.hosts for w in waves)
    assert len(waves) > 1
    # Hypervisors and routers last: no VM or physical host after a wave that holds one.
    low = [i for i, w in enumerate(waves) if kinds(inventory, w.hosts) & set(LOW)]
    high = [i for i, w in enumerate(waves) if kinds(inventory, w.hosts) & set(HIGH)]
    if low and high:
        assert max(low) <= min(high), [w.hosts for w in waves]
    members = defaultdict(set)
    for name, _, _, service in others:
        if service:
            members[service].add(name)
    for wave in waves:
        assert not any(len(names) > 1 and names <= set(wave.hosts) for names in members.values())
    if "canary" in sizes and low:
        canary = waves[0]
        assert kinds(inventory, canary.hosts) <= set(LOW)
    if "canary" in sizes and low and len(others) > 3:  # 3 segments: a canary of all is cut
        # Every segment some VM or physical host sits on has one in the canary, unless
        # the only candidates there would make up a whole service with the rest.
        for segment in {s for name, kind, segs, service in others if kind in LOW for s in segs}:
            on = {h for h in canary.hosts if segment in {i.segment for i in inventory.machines[h].interfaces}}
            candidates = [o for o in others if o[1] in LOW and segment in o[2]]
            if not on:
                assert all(o[3] and len(members[o[3]]) > 1 for o in candidates), (segment, canary.hosts)


@pytest.fixture
def bundled_hot_change(tmp_path) -> tuple[Path, Path]:
    """The bundled data centre with one more public network on fe: hot under `live`."""
    after = tmp_path / "after"
    shutil.copytree(REPO / "inventory", after)
    networks = after / "networks.yaml"
    text = networks.read_text()
    anchor = "  - {prefix: 192.0.2.248/29,     segment: fe,  gateway: 192.0.2.249}  # 2024: leased\n"
    assert anchor in text
    networks.write_text(
        text.replace(anchor, anchor + "  - {prefix: 192.0.2.232/29, segment: fe, gateway: 192.0.2.233}\n")
    )
    routers = after / "machines" / "routers.yaml"
    routers.write_text(routers.read_text().replace("192.0.2.249]", "192.0.2.249, 192.0.2.233]", 1))
    return REPO / "inventory", after


def test_the_bundled_fleet_no_longer_starts_with_a_hypervisor(bundled_hot_change, tmp_path, capsys):
    import json

    from netcfg.cli import main

    base, after = bundled_hot_change
    assert main(["plan", str(base), str(after), "--json", str(tmp_path / "plan.json")]) == 0
    data = json.loads((tmp_path / "plan.json").read_text())
    inventory = load_inventory(after)
    waves = data["waves"]
    assert waves[0]["canary"] and kinds(inventory, waves[0]["hosts"]) <= set(LOW)
    web = {h for h, m in inventory.machines.items() if m.service == "web"}
    assert len(web) >= 2
    for wave in waves:
        assert not web <= set(wave["hosts"])
    high = [i for i, w in enumerate(waves) if kinds(inventory, w["hosts"]) & set(HIGH)]
    assert high and min(high) == len(waves) - 1
    assert "canary: 0-5 s" in capsys.readouterr().out
