"""Diff, classification, causes and seatbelt on inventories built in code."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from netaddr import IPAddress, IPNetwork

from netcfg.impact.analysis import analyse_inventories
from netcfg.impact.diff import _split
from netcfg.impact.model import ChangeClass
from netcfg.impact.seatbelt import decide
from netcfg.inventory.approvals import Approval, Origin
from netcfg.model.host import DesignName, Kind
from netcfg.model.inventory import (
    Interface,
    Inventory,
    Machine,
    Network,
    Policy,
    Reconfigure,
    Seatbelt,
    Segment,
)
from netcfg.problems import Location


def net(prefix, segment="fe", gateway=None):
    p = IPNetwork(prefix)
    return Network(p, segment, IPAddress(gateway) if gateway else IPAddress(p.first + 1))


def host(name, addr, kind=Kind.VM, host_=None, segment="fe"):
    ifname = ("br" if kind is Kind.KVM_HOST else "eth") + segment
    return Machine(
        name,
        kind,
        (Interface(segment, ifname, (IPAddress(addr),)),),
        host=host_,
        memory_gib=16 if kind is Kind.VM else 256,
    )


def inventory(networks, machines, **policy):
    return Inventory.build([Segment("fe", 2, 20)], networks, machines, Policy(**policy))


BASE_NETS = [net("203.0.113.0/26"), net("192.0.2.64/27")]
BASE = [
    host("kvm1", "203.0.113.10", Kind.KVM_HOST),
    host("vm1", "203.0.113.20", host_="kvm1"),
    host("vm2", "192.0.2.70", host_="kvm1"),
]


def test_added_network_is_hot_under_live_and_disruptive_under_restart():
    new_nets = BASE_NETS + [net("198.51.100.64/27")]
    live = analyse_inventories(inventory(BASE_NETS, BASE), inventory(new_nets, BASE))
    assert {h.diff.name: h.change for h in live.impact.hosts} == {"kvm1": "hot", "vm1": "hot", "vm2": "hot"}
    assert all(h.evacuate == () for h in live.impact.hosts)
    restart = analyse_inventories(
        inventory(BASE_NETS, BASE), inventory(new_nets, BASE, reconfigure=Reconfigure.RESTART)
    )
    assert {h.diff.name: h.change for h in restart.impact.hosts} == {
        "kvm1": "disruptive",
        "vm1": "disruptive",
        "vm2": "disruptive",
    }
    # The disruptive KVM host comes first and evacuates its VMs.
    assert restart.impact.hosts[0].diff.name == "kvm1"
    assert restart.impact.hosts[0].evacuate == ("vm1", "vm2")
    # Same semantic diff, different class: a different change, a different digest.
    assert restart.impact.digest != live.impact.digest


def test_flat_design_touches_only_holders():
    new_nets = BASE_NETS + [net("198.51.100.64/27")]
    moved = [*BASE[:2], host("vm2", "198.51.100.70", host_="kvm1")]
    analysis = analyse_inventories(inventory(BASE_NETS, BASE), inventory(new_nets, moved), design=DesignName.FLAT)
    assert [h.diff.name for h in analysis.impact.hosts] == ["vm2"]
    (vm2,) = analysis.impact.hosts
    assert vm2.change == "disruptive"
    assert "network 198.51.100.64/27 added to segment fe" in vm2.causes
    assert "address of vm2 on segment fe changed from 192.0.2.70 to 198.51.100.70" in vm2.causes


def test_machine_removed_and_added():
    base = inventory(BASE_NETS, BASE)
    head = inventory(BASE_NETS, [*BASE[:2], host("vm3", "192.0.2.71", host_="kvm1")])
    analysis = analyse_inventories(base, head)
    states = {h.diff.name: h.diff.state for h in analysis.impact.hosts}
    assert states == {"vm2": "removed", "vm3": "added"}
    vm2 = next(h for h in analysis.impact.hosts if h.diff.name == "vm2")
    assert vm2.diff.added == () and "address 192.0.2.70/27 dev ethfe" in vm2.diff.removed
    assert analysis.impact.to_json()["hosts_total"] == 4


def test_digest_ignores_order_and_locations():
    new_nets = BASE_NETS + [net("198.51.100.64/27")]
    a = analyse_inventories(inventory(BASE_NETS, BASE), inventory(new_nets, BASE))
    relocated = [replace(n, location=Location("elsewhere.yaml", 9, 9)) for n in reversed(new_nets)]
    b = analyse_inventories(inventory(list(reversed(BASE_NETS)), list(reversed(BASE))), inventory(relocated, BASE))
    assert a.impact.digest == b.impact.digest
    other = analyse_inventories(inventory(BASE_NETS, BASE), inventory(BASE_NETS + [net("198.51.100.96/27")], BASE))
    assert other.impact.digest != a.impact.digest


def test_the_order_of_a_machines_addresses_is_a_change_and_nothing_else_is():
    """A machine configured afresh adds its addresses in order, and the first of a
    network is its primary: swapping two is disruptive. Adding one keeps the others'
    order, so it is no reorder."""

    def two(first, second, *more):
        addresses = tuple(IPAddress(a) for a in (first, second, *more))
        return replace(BASE[1], interfaces=(replace(BASE[1].interfaces[0], addresses=addresses),))

    base = inventory(BASE_NETS, [BASE[0], two("203.0.113.20", "203.0.113.21"), BASE[2]])
    swapped = inventory(BASE_NETS, [BASE[0], two("203.0.113.21", "203.0.113.20"), BASE[2]])
    (vm1,) = analyse_inventories(base, swapped).impact.hosts
    assert vm1.diff.name == "vm1" and vm1.change is ChangeClass.DISRUPTIVE
    assert vm1.diff.removed == ("address order dev ethfe: 203.0.113.20/26, 203.0.113.21/26",)
    assert vm1.diff.added == ("address order dev ethfe: 203.0.113.21/26, 203.0.113.20/26",)
    grown = inventory(BASE_NETS, [BASE[0], two("203.0.113.20", "203.0.113.21", "203.0.113.22"), BASE[2]])
    (vm1,) = analyse_inventories(base, grown).impact.hosts
    assert vm1.diff.added == ("address 203.0.113.22/26 dev ethfe",) and vm1.diff.removed == ()


def test_no_change_touches_nothing_and_passes():
    analysis = analyse_inventories(inventory(BASE_NETS, BASE), inventory(BASE_NETS, BASE))
    assert analysis.impact.hosts == () and analysis.impact.to_json()["decision"] == "pass"
    assert analysis.impact.to_json()["fraction"] == 0.0


SB = Seatbelt(max_fraction=0.25, max_hosts=50, stagger_above=5, approvers=("alice", "carol@example.org"))
DIGEST = "a" * 64


@pytest.mark.parametrize(
    ("touched", "total", "decision"),
    [
        (0, 100, "pass"),
        (5, 100, "pass"),
        (6, 100, "stagger"),
        (25, 100, "stagger"),
        (26, 100, "block"),
        (51, 1000, "block"),
        (50, 1000, "stagger"),
    ],
)
def test_seatbelt_thresholds(touched, total, decision):
    names = {f"m{i}" for i in range(touched)}
    assert decide(names, total, {}, SB, DIGEST).decision == decision


def test_a_change_cannot_loosen_the_seatbelt_it_is_judged_by():
    new_nets = BASE_NETS + [net("198.51.100.64/27")]
    strict = Seatbelt(max_fraction=0.5, max_hosts=2, stagger_above=1)
    loose = Seatbelt(max_fraction=1.0, max_hosts=100, stagger_above=10)
    # Head raises every limit together with a change touching all 3 machines: still blocked.
    loosened = analyse_inventories(
        inventory(BASE_NETS, BASE, seatbelt=strict), inventory(new_nets, BASE, seatbelt=loose)
    )
    assert loosened.impact.to_json()["decision"] == "block"
    assert "loosens the seatbelt" in loosened.impact.to_json()["reasons"][0]
    # Tightening in the head applies at once; the same limits on both sides: the head's.
    tightened = analyse_inventories(
        inventory(BASE_NETS, BASE, seatbelt=loose), inventory(new_nets, BASE, seatbelt=strict)
    )
    assert tightened.impact.to_json()["decision"] == "block"
    same = analyse_inventories(inventory(BASE_NETS, BASE, seatbelt=loose), inventory(new_nets, BASE, seatbelt=loose))
    assert same.impact.to_json()["decision"] == "pass"
    assert not any("loosens" in r for r in same.impact.to_json()["reasons"])


def test_whole_segment_blocks_only_above_stagger_above():
    small = {"s": ["a", "b", "c"]}
    assert decide({"a", "b", "c"}, 1000, small, SB, DIGEST).decision == "pass"
    big = {"s": [f"m{i}" for i in range(6)]}
    result = decide(set(big["s"]), 1000, big, SB, DIGEST)
    assert result.decision == "block"
    assert any("every host and VM of segment s is touched: 6 of its 6 machines" in r for r in result.reasons)
    # Routers carry no segment rules: the segment blocks without them, and the reason
    # counts what the report's table counts.
    routers = decide(set(big["s"]), 1000, {"s": [*big["s"], "r1", "r2"]}, SB, DIGEST, routers=frozenset({"r1", "r2"}))
    spared = "6 of its 8 machines; the 2 untouched are routers (routers carry no segment rules)"
    assert any(spared in r for r in routers.reasons)
    # A router the change touches (a gateway address of the new network) counts as
    # touched; only the others are named as spared.
    one = decide({*big["s"], "r1"}, 1000, {"s": [*big["s"], "r1", "r2"]}, SB, DIGEST, routers=frozenset({"r1", "r2"}))
    assert any("7 of its 8 machines; the untouched one is a router (routers carry" in r for r in one.reasons)


def test_approval_matches_exact_digest_only():
    names = {f"m{i}" for i in range(30)}
    good = Approval("approvals/a.yaml", DIGEST, "alice", "ok", Location("approvals/a.yaml", 1, 1))
    stale = Approval("approvals/b.yaml", "b" * 64, "bob", "old", Location("approvals/b.yaml", 1, 1))
    assert decide(names, 100, {}, SB, DIGEST, [stale]).decision == "block"
    result = decide(names, 100, {}, SB, DIGEST, [good, stale])
    assert result.decision == "stagger" and result.approved_by == good
    few = decide({"m1"}, 100, {"s": [f"m{i}" for i in range(6)]}, SB, DIGEST, [good])
    assert few.decision == "pass" and few.approved_by is None


def approval(by: str, **origin: str) -> Approval:
    return Approval("approvals/a.yaml", DIGEST, by, "ok", Location("approvals/a.yaml", 1, 1), Origin(**origin))


@pytest.mark.parametrize(
    ("the_approval", "counts", "why"),
    [
        (approval("alice"), True, "unverified: read from a directory"),
        (approval("alice", commit="c" * 40, author_name="alice", author_email="a@example.org"), True, "verified"),
        (approval("carol@example.org", commit="c" * 40, author_name="C", author_email="Carol@Example.org"), True, ""),
        (approval("mallory"), False, "'mallory' is not one of the base's approvers"),
        (approval("Z" * 2000), False, "'" + "Z" * 40 + "…' is not one of the base's approvers"),
        (
            approval("alice", commit="c" * 40, author_name="mallory", author_email="m@example.org"),
            False,
            "a change cannot approve itself",
        ),
        (
            approval("alice", commit="c" * 40, author_name="alice", author_email="a@x", unverifiable="shallow"),
            False,
            "cannot be verified: shallow",
        ),
    ],
)
def test_an_approval_counts_only_from_an_approver_who_made_it(the_approval, counts, why):
    names = {f"m{i}" for i in range(30)}
    verdict = decide(names, 100, {}, SB, DIGEST, [the_approval])
    assert (verdict.decision == "stagger") is counts
    assert any(why in reason for reason in verdict.reasons), verdict.reasons


def test_without_approvers_in_the_base_nothing_unblocks():
    names = {f"m{i}" for i in range(30)}
    verdict = decide(names, 100, {}, Seatbelt(max_fraction=0.25), DIGEST, [approval("alice")])
    assert verdict.decision == "block"
    assert any("names no approvers" in r for r in verdict.reasons)


def test_a_change_cannot_make_itself_hot_or_add_its_own_approver():
    new_nets = BASE_NETS + [net("198.51.100.64/27")]
    base = inventory(BASE_NETS, BASE, reconfigure=Reconfigure.RESTART, seatbelt=Seatbelt(approvers=("alice",)))
    head = inventory(new_nets, BASE, reconfigure=Reconfigure.LIVE, seatbelt=Seatbelt(approvers=("alice", "mallory")))
    impact = analyse_inventories(base, head).impact
    # Judged under the base's restart: every touched machine is disruptive, the KVM
    # host evacuates its VMs.
    assert {h.change for h in impact.hosts} == {"disruptive"}
    assert impact.hosts[0].evacuate == ("vm1", "vm2")
    assert impact.reconfigure == Reconfigure.RESTART
    assert any("judged under restart" in r for r in impact.reasons)
    assert any("edits the approvers" in r for r in impact.reasons)
    mallory = Approval("approvals/m.yaml", impact.digest, "mallory", "mine", Location("approvals/m.yaml", 1, 1))
    approved = analyse_inventories(base, head, approvals=(mallory,)).impact
    assert approved.decision == "block"
    assert any("'mallory' is not one of the base's approvers (alice)" in r for r in approved.reasons)


@given(st.lists(st.integers(0, 6), max_size=8), st.lists(st.integers(0, 6), max_size=8))
def test_part_numbers_split_as_multisets(old, new):
    old, new = tuple(sorted(old)), tuple(sorted(new))
    only_old, both, only_new = _split(old, new)
    a, b = Counter(old), Counter(new)
    assert only_old == tuple(sorted((a - b).elements()))
    assert both == tuple(sorted((a & b).elements()))
    assert only_new == tuple(sorted((b - a).elements()))
