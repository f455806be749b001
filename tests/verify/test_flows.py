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
    before = _texts(MIXED)
    after = _texts(MIXED.replace("  b: {kind: physical,", "  b: {kind: physical, design: flat,"))
    changes = compare(render(before), render(after))
    moved = sum(n for _, n in changes.by_change)
    ways = len({(e.change, e.source, e.destination_address) for e in changes.examples})
    assert moved == 8 and ways == len(changes.examples) > 4


# --- an address moved to another network ------------------------------------------------

RENUMBERED = """\
segments:
  fe:  {table: 2, priority: 20}
  srv: {table: 3, priority: 30}
networks:
  - {prefix: 192.0.2.0/26, segment: fe, gateway: 192.0.2.1}
  - {prefix: 198.51.100.0/26, segment: fe, gateway: 198.51.100.1}
  - {prefix: 10.0.0.0/24, segment: srv, gateway: 10.0.0.1, private: true}
  - {prefix: 10.0.1.0/24, segment: srv, gateway: 10.0.1.1, private: true}
machines:
  r1: {kind: router, interfaces: {fe: {addresses: [192.0.2.1]}, srv: {addresses: [10.0.0.1]}}}
  r2: {kind: router, interfaces: {fe: {addresses: [198.51.100.1]}, srv: {addresses: [10.0.1.1]}}}
  web: {kind: physical, interfaces: {fe: {addresses: [192.0.2.10]}}}
  db: {kind: physical, interfaces: {srv: {addresses: [10.0.0.10]}}}
"""


def _texts(text: str) -> Inventory:
    from netcfg.inventory.load import load_inventory_texts

    return load_inventory_texts({"inv.yaml": text})


def test_an_address_moved_into_a_network_its_peers_cannot_reach_drops_their_flows():
    """web moves from r1's network to r2's; db's only router, r1, has no route to it.
    Both ends stay, so the flow web <-> db is lost, not gone: the change is blocked."""
    after = RENUMBERED.replace("fe: {addresses: [192.0.2.10]}", "fe: {addresses: [198.51.100.10]}")
    changes = compare(render(_texts(RENUMBERED)), render(_texts(after)))
    assert changes.dropped == 2, changes.by_change  # web -> db and db -> web
    example = changes.examples[0]
    assert example.change == Change.DROPPED and {example.source, example.destination} == {"web", "db"}
    assert "198.51.100.10" in (example.source_address, example.destination_address)
    assert "192.0.2.10" in example.before and example.before.startswith("delivered through r1")
    assert example.after.endswith("no route") and example.dropped_at in ("r1", "r2")
    assert changes.blocker() is not None


def test_a_second_address_moved_out_of_a_network_the_machine_keeps_is_compared_too():
    """web keeps 192.0.2.10 and moves 192.0.2.11 into r2's network: no network is left,
    yet flows to the address it moved are dropped now."""
    before = RENUMBERED.replace("fe: {addresses: [192.0.2.10]}", "fe: {addresses: [192.0.2.10, 192.0.2.11]}")
    after = RENUMBERED.replace("fe: {addresses: [192.0.2.10]}", "fe: {addresses: [192.0.2.10, 198.51.100.11]}")
    changes = compare(render(_texts(before)), render(_texts(after)))
    assert changes.dropped == 2, changes.by_change
    assert all("198.51.100.11" in (e.source_address, e.destination_address) for e in changes.examples)


def test_an_address_added_beside_or_removed_drops_nothing():
    """web keeps a delivered path to db (a second address in r2's network), or has no
    IPv4 address left at all: flows added or removed, none dropped."""
    before = render(_texts(RENUMBERED))
    beside = RENUMBERED.replace("fe: {addresses: [192.0.2.10]}", "fe: {addresses: [192.0.2.10, 198.51.100.10]}")
    assert compare(before, render(_texts(beside))).dropped == 0
    gone = (
        RENUMBERED.replace("fe: {addresses: [192.0.2.10]}", 'fe: {addresses: ["2001:db8::10"]}')
        .replace("networks:\n", 'networks:\n  - {prefix: "2001:db8::/64", segment: fe, gateway: "2001:db8::1"}\n')
        .replace("fe: {addresses: [192.0.2.1]}", 'fe: {addresses: [192.0.2.1, "2001:db8::1"]}')
    )
    assert compare(before, render(_texts(gone))).dropped == 0


@st.composite
def renumbered(draw, inventory: Inventory) -> Inventory:
    """One host's address moved to another network of its segment and family; sometimes
    a second address of the interface with it (two networks left, one joined)."""
    hosts = [m for m in inventory.machines.values() if m.kind is not Kind.ROUTER]
    host = draw(st.sampled_from(hosts))
    i = draw(st.integers(0, len(host.interfaces) - 1))
    iface = host.interfaces[i]
    address = draw(st.sampled_from(iface.addresses))
    network = inventory.network_of(address, iface.segment)
    others = [
        n
        for n in inventory.networks
        if n.segment == iface.segment and n.prefix.version == address.version and n != network
    ]
    if not others:
        return inventory
    target = draw(st.sampled_from(others))
    moved = target.prefix[40 + draw(st.integers(0, 9))]
    second = draw(st.sampled_from(iface.addresses)) if draw(st.booleans()) else address
    addresses = tuple(dict.fromkeys(moved if a in (address, second) else a for a in iface.addresses))
    interfaces = (*host.interfaces[:i], replace(iface, addresses=addresses), *host.interfaces[i + 1 :])
    return rebuilt(inventory, {**inventory.machines, host.name: replace(host, interfaces=interfaces)})


def _endpoints(configs) -> dict[str, dict[tuple[str, int], dict[tuple[int, int], list[int]]]]:
    """Per machine and (interface, family): its addresses in each of its networks."""
    from netcfg.verify.classes import _fast_address

    found: dict[str, dict[tuple[str, int], dict[tuple[int, int], list[int]]]] = {}
    for config in configs.values():
        if config.forwarding:
            continue
        for i in config.interfaces:
            for a in i.addresses:
                family, value, length = _fast_address(a.address)
                network = (length, value >> ((32 if family == 4 else 128) - length))
                found.setdefault(config.name, {}).setdefault((i.name, family), {}).setdefault(network, []).append(value)
    return found


def _slots(before: dict, after: dict) -> list[tuple[int, int]]:
    """An interface's addresses before and after, paired: the same network, or a network
    it has fewer addresses in against each one it has more in."""
    pairs = [(before[n][0], after[n][0]) for n in before if n in after]
    left = [n for n in before if len(before[n]) > len(after.get(n, ()))]
    joined = [n for n in after if len(after[n]) > len(before.get(n, ()))]
    return pairs + [(before[a][0], after[b][0]) for a in left for b in joined]


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), base=fleets())
def test_a_renumbered_host_is_compared_with_its_old_address(data, base):
    """Followed flow by flow, each address paired with the one it replaces: `compare`
    finds newly dropped flows exactly when one is delivered from (or to) the old
    address and dropped from (or to) the new one."""
    from netcfg.verify.path import Fleet

    head = data.draw(renumbered(base))
    before, after = render(base), render(head)
    fleets_ = Fleet.of(before.values()), Fleet.of(after.values())
    ends = _endpoints(before), _endpoints(after)
    dropped = []
    for m1 in ends[1]:
        for m2 in ends[1]:
            if m1 == m2 or m1 not in ends[0] or m2 not in ends[0]:
                continue
            for port1, now1 in ends[1][m1].items():
                for port2, now2 in ends[1][m2].items():
                    if port1[1] != port2[1]:
                        continue
                    family = port1[1]
                    for x0, x1 in _slots(ends[0][m1].get(port1, {}), now1):
                        for y0, y1 in _slots(ends[0][m2].get(port2, {}), now2):
                            was = fleets_[0].flow(m1, family, x0, y0).delivered
                            if was and not fleets_[1].flow(m1, family, x1, y1).delivered:
                                dropped.append((m1, x0, x1, m2, y0, y1))
    changes = compare(before, after)
    assert (changes.dropped > 0) == bool(dropped), (dropped, changes.by_change)
