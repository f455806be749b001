"""What `check` says of flows: `may_move` skips only changes that move no flow present
on both sides (checked against following every flow), and the comparison sorts moved
flow classes by how they moved."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netaddr import IPNetwork

from netcfg.designs import render
from netcfg.model.host import DesignName, Kind
from netcfg.model.inventory import Interface, Inventory, Network
from netcfg.verify.flows import Change, compare, may_move
from tests.verify.strategies import fleets


def rebuilt(inventory: Inventory, machines=None, networks=None) -> Inventory:
    return Inventory.build(
        dict(inventory.segments),
        inventory.networks if networks is None else networks,
        inventory.machines if machines is None else machines,
        inventory.policy,
    )


@st.composite
def changes(draw, inventory: Inventory) -> Inventory:
    """One change: an address replaced within its network, an address added, a network
    added (a router holding its gateway), a machine's design flipped."""
    hosts = [m for m in inventory.machines.values() if m.kind is not Kind.ROUTER]
    machines = dict(inventory.machines)
    what = draw(st.sampled_from(["replace", "add", "network", "design"]))
    host = draw(st.sampled_from(hosts))
    iface = host.interfaces[0]
    network = inventory.network_of(iface.addresses[0], iface.segment)
    assert network is not None
    if what == "replace":
        new = network.prefix[40 + draw(st.integers(0, 9))]
        machines[host.name] = replace(
            host, interfaces=(replace(iface, addresses=(new, *iface.addresses[1:])),) + host.interfaces[1:]
        )
    elif what == "add":
        new = network.prefix[50 + draw(st.integers(0, 9))]
        machines[host.name] = replace(
            host, interfaces=(replace(iface, addresses=(*iface.addresses, new)),) + host.interfaces[1:]
        )
    elif what == "network":
        prefix = IPNetwork("100.64.0.0/26")
        router = next(m for m in inventory.machines.values() if m.kind is Kind.ROUTER)
        machines[router.name] = (
            replace(router, interfaces=(*router.interfaces, Interface("fe", "ethnew", (prefix[1],))))
            if not router.interface("fe")
            else replace(
                router,
                interfaces=tuple(
                    replace(i, addresses=(*i.addresses, prefix[1])) if i.segment == "fe" else i
                    for i in router.interfaces
                ),
            )
        )
        return rebuilt(inventory, machines, (*inventory.networks, Network(prefix, "fe", prefix[1])))
    else:
        other = DesignName.FLAT if inventory.design_of(host) is DesignName.POLICY_ROUTING else DesignName.POLICY_ROUTING
        machines[host.name] = replace(host, design=other)
    return rebuilt(inventory, machines)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), base=fleets())
def test_a_change_may_move_tells_is_skipped_only_if_it_moves_nothing(data, base):
    head = data.draw(changes(base))
    moved = compare(render(base), render(head))
    if not may_move(base, head, None):
        assert moved.changed == 0, moved.by_change


def test_moved_flows_are_sorted_by_how_they_moved():
    from pathlib import Path

    from netcfg.inventory.load import load_inventory

    base = load_inventory(Path(__file__).resolve().parents[2] / "inventory")
    web01 = base.machines["web01"]
    head = rebuilt(base, {**base.machines, "web01": replace(web01, design=DesignName.FLAT)})
    assert may_move(base, head, None)
    moved = compare(render(base), render(head))
    kinds = dict(moved.by_change)
    assert kinds[Change.DROPPED] > 0 and kinds[Change.VIA_ROUTER] > 0 and kinds[Change.DIRECT] > 0
    assert moved.dropped == kinds[Change.DROPPED] and moved.changed == sum(kinds.values())
    # Examples: the most serious first, each followed for real, involving web01.
    assert moved.examples[0].change == Change.DROPPED
    assert all("web01" in (e.source, e.destination) for e in moved.examples)
    assert moved.blocker().startswith(f"{moved.dropped} flow classes delivered before the change and dropped after")


MIXED = """\
segments:
  fe:  {table: 2, priority: 20}
  srv: {table: 3, priority: 30}
networks:
  - {prefix: 192.0.2.0/26, segment: fe, gateway: 192.0.2.1}
  - {prefix: 198.51.100.0/26, segment: fe, gateway: 198.51.100.1}
  - {prefix: "2001:db8:1::/64", segment: fe, gateway: "2001:db8:1::1"}
  - {prefix: 10.0.0.0/24, segment: srv, gateway: 10.0.0.1, private: true}
machines:
  r1:
    kind: router
    interfaces: {fe: {addresses: [192.0.2.1, 198.51.100.1, "2001:db8:1::1"]}, srv: {addresses: [10.0.0.1]}}
  a: {kind: physical, interfaces: {fe: {addresses: [192.0.2.10]}, srv: {addresses: [10.0.0.10]}}}
  b: {kind: physical, interfaces: {fe: {addresses: [198.51.100.10]}, srv: {addresses: [10.0.0.11]}}}
  c: {kind: physical, interfaces: {fe: {addresses: [192.0.2.11, 198.51.100.11]}}}
  v6: {kind: physical, interfaces: {fe: {addresses: ["2001:db8:1::10"]}}}
  v6b: {kind: physical, design: flat, interfaces: {fe: {addresses: ["2001:db8:1::11"]}}}
"""


def test_room_for_examples_is_filled_beyond_one_per_kind_of_move():
    """8 classes moved in 4 ways: one example per way left 6 of the 10 places empty."""
    from netcfg.inventory.load import load_inventory_texts

    before = load_inventory_texts({"inv.yaml": MIXED})
    flat_b = MIXED.replace("  b: {kind: physical,", "  b: {kind: physical, design: flat,")
    after = load_inventory_texts({"inv.yaml": flat_b})
    changes = compare(render(before), render(after))
    moved = sum(n for _, n in changes.by_change)
    ways = len({(e.change, e.source, e.destination_address) for e in changes.examples})
    assert moved == 8 and ways == len(changes.examples) > 4
