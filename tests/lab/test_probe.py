"""Choosing lab probes and reading forwarding counters, without namespaces."""

from __future__ import annotations

from dataclasses import replace

from netaddr import IPAddress, IPNetwork

from netcfg.designs import render
from netcfg.lab.probe import DIRECT, VIA_ROUTER, forwarded_from, probes
from netcfg.model.host import DesignName, Kind
from netcfg.model.inventory import Interface, Inventory, Machine, Network, Segment

SNMP = """Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams OutRequests
Ip: 1 64 10 0 0 7 3
Icmp: InMsgs
Icmp: 0
Ip6InReceives                   	4
Ip6OutForwDatagrams             	5
"""


def test_forwarded_from_sums_ipv4_and_ipv6():
    assert forwarded_from(SNMP) == 12


def inventory() -> Inventory:
    def iface(seg, *ips):
        return Interface(seg, f"eth{seg}", tuple(IPAddress(i) for i in ips))

    nets = [
        Network(IPNetwork("203.0.113.0/26"), "fe", IPAddress("203.0.113.1")),
        Network(IPNetwork("198.51.100.0/26"), "fe", IPAddress("198.51.100.1")),
        Network(IPNetwork("10.20.0.0/16"), "srv", IPAddress("10.20.0.1"), private=True),
        Network(IPNetwork("2001:db8:20::/64"), "srv", IPAddress("2001:db8:20::1")),
    ]
    machines = [
        Machine(
            "rt", Kind.ROUTER, (iface("fe", "203.0.113.1", "198.51.100.1"), iface("srv", "10.20.0.1", "2001:db8:20::1"))
        ),
        Machine("a", Kind.PHYSICAL, (iface("fe", "203.0.113.10"), iface("srv", "10.20.1.1", "2001:db8:20::a"))),
        Machine("b", Kind.PHYSICAL, (iface("fe", "198.51.100.10"), iface("srv", "10.20.1.2", "2001:db8:20::b"))),
    ]
    return Inventory.build([Segment("fe", 2, 20), Segment("srv", 3, 30)], nets, machines)


def test_policy_routing_probes_cross_network_pairs_direct():
    inv = inventory()
    found = probes(inv, render(inv, "policy-routing"))
    assert [(p.segment, p.src, p.dst, p.expect) for p in found] == [
        ("fe", "198.51.100.10", "203.0.113.10", DIRECT),
        # The internal paths are probed under every design.
        ("srv", "10.20.1.1", "10.20.1.2", DIRECT),
        ("srv", "2001:db8:20::a", "2001:db8:20::b", DIRECT),
    ]


def test_flat_probes_public_via_router_private_and_ipv6_direct():
    inv = inventory()
    found = probes(inv, render(inv, "flat"))
    assert {(p.segment, p.family, p.expect) for p in found} == {
        ("fe", 4, VIA_ROUTER),
        ("srv", 4, DIRECT),
        ("srv", 6, DIRECT),
    }


def test_a_fleet_half_migrated_is_probed_across_designs_as_the_model_expects():
    # a under flat, b under policy-routing: a reaches b's network through the router,
    # b answers on-link; the model expects the router to forward (the request).
    inv = inventory()
    machines = {**inv.machines, "a": replace(inv.machines["a"], design=DesignName.FLAT)}
    mixed = Inventory.build(dict(inv.segments), inv.networks, machines)
    found = {(p.source, p.target, p.segment, p.family): p for p in probes(mixed, render(mixed))}
    assert found[("b", "a", "fe", 4)].expect is VIA_ROUTER
    assert "different networks meet at the router" in found[("b", "a", "fe", 4)].why
    assert "policy-routing -> flat" in found[("b", "a", "fe", 4)].why
    # a flat machine and a policy-routing one in one private network talk direct
    assert found[("a", "b", "srv", 4)].expect is DIRECT


def test_a_flow_the_model_drops_is_probed_for_no_reply():
    # Without the router b's network is out of a's reach under flat.
    inv = inventory()
    machines = {n: m for n, m in inv.machines.items() if n != "rt"}
    alone = Inventory.build(dict(inv.segments), inv.networks, machines)
    found = [p for p in probes(alone, render(alone, "flat")) if p.segment == "fe"]
    assert found and all(p.expect is None and p.expected == "no reply" for p in found)
    assert "dropped at" in found[0].why
