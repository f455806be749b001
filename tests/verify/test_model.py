"""The forwarding model on small hand-built fleets: how one machine decides (rules by
priority and selector, tables, longest prefix, metrics, gateways), and where a flow
goes across machines: each drop reason, asymmetric paths, strict rp_filter."""

from __future__ import annotations

from netcfg.model.host import Route, Rule
from netcfg.verify.fib import Entries, Fib, FibRoute, FibRule, Interface, Outcome, RpFilter
from netcfg.verify.path import Fleet, Reason
from netcfg.verify.prefix import parse_address, parse_prefix
from tests.verify.fleets import PR, default, host, iface, router


def ip(text: str) -> int:
    return parse_address(text)[1]


def flow(fleet: Fleet, machine: str, src: str, dst: str):
    return fleet.flow(machine, 4 if ":" not in src else 6, ip(src), ip(dst))


# --- one machine ---------------------------------------------------------------------


def fib_with(rules: list[FibRule], routes: list[FibRoute], *interfaces: Interface) -> Fib:
    entries = Entries()
    entries.add_rules(rules)
    entries.add_routes(routes)
    return Fib("m", entries, interfaces, rules, routes)


ETH0 = Interface("eth0", "a", ((4, ip("10.0.0.5"), 24),))
ETH1 = Interface("eth1", "b", ((4, ip("10.1.0.5"), 24),))


def route(prefix: str, table: int, gateway: str | None = None, device: str | None = None, metric: int = 0):
    return FibRoute(4, table, parse_prefix(prefix), ip(gateway) if gateway else None, device, metric)


def test_rules_by_priority_and_a_table_without_a_match_goes_on_to_the_next_rule():
    rules = [
        FibRule(4, 10, 100, src=parse_prefix("10.0.0.0/24")),  # table 100 has nothing for 10.9/16
        FibRule(4, 20, 200),
    ]
    routes = [route("10.8.0.0/16", 100, "10.0.0.1"), route("10.9.0.0/16", 200, "10.1.0.1")]
    fib = fib_with(rules, routes, ETH0, ETH1)
    found = fib.lookup(4, ip("10.9.1.1"), ip("10.0.0.5"))
    assert (found.outcome, found.device, found.gateway, found.rule) == (
        Outcome.UNICAST,
        "eth1",
        ip("10.1.0.1"),
        rules[1],
    )
    found = fib.lookup(4, ip("10.8.1.1"), ip("10.0.0.5"))
    assert (found.device, found.rule) == ("eth0", rules[0])
    # Without the source the `from` rule does not match.
    assert fib.lookup(4, ip("10.8.1.1")).outcome is Outcome.NO_ROUTE


def test_iif_oif_and_fwmark_selectors():
    rules = [
        FibRule(4, 5, 100, iif="eth1"),
        FibRule(4, 6, 101, oif="eth0"),
        FibRule(4, 7, 102, fwmark=0x2A),
    ]
    routes = [route("0.0.0.0/0", t, gw) for t, gw in ((100, "10.1.0.1"), (101, "10.0.0.1"), (102, "10.0.0.2"))]
    fib = fib_with(rules, routes, ETH0, ETH1)
    dst = ip("192.0.2.1")
    assert fib.lookup(4, dst, iif="eth1").gateway == ip("10.1.0.1")
    assert fib.lookup(4, dst, oif="eth0").gateway == ip("10.0.0.1")
    assert fib.lookup(4, dst, mark=0x2A).gateway == ip("10.0.0.2")
    # None of them matches plain local output: no route at all.
    assert fib.lookup(4, dst).outcome is Outcome.NO_ROUTE


def test_longest_prefix_then_lowest_metric_then_first_added():
    routes = [
        route("10.0.0.0/8", 254, "10.0.0.1"),
        route("10.9.0.0/16", 254, "10.1.0.1", metric=30),
        route("10.9.0.0/16", 254, "10.1.0.2", metric=20),
        route("10.9.0.0/16", 254, "10.1.0.3", metric=20),
    ]
    fib = fib_with([], routes, ETH0, ETH1)
    assert fib.lookup(4, ip("10.9.0.7")).gateway == ip("10.1.0.2")
    assert fib.lookup(4, ip("10.10.0.7")).gateway == ip("10.0.0.1")
    # The connected /24 beats them all for its own network, on-link.
    found = fib.lookup(4, ip("10.0.0.9"))
    assert (found.device, found.gateway) == ("eth0", None)


def test_own_addresses_are_local_and_a_gateway_must_be_on_link():
    fib = fib_with([], [route("0.0.0.0/0", 254, "172.16.0.1")], ETH0)
    assert fib.lookup(4, ip("10.0.0.5")).outcome is Outcome.LOCAL
    assert fib.lookup(4, ip("192.0.2.1")).outcome is Outcome.GATEWAY_NOT_ONLINK


def test_strict_and_loose_reverse_path_filtering():
    fib = fib_with([], [route("0.0.0.0/0", 254, "10.1.0.1")], ETH0, ETH1)
    # 192.0.2.7 is routed back by eth1: on eth1 it passes, on eth0 strict refuses it.
    assert fib.reverse_path_ok(4, ip("192.0.2.7"), ip("10.0.0.5"), "eth1")[0]
    assert not fib.reverse_path_ok(4, ip("192.0.2.7"), ip("10.0.0.5"), "eth0")[0]
    fib.rp_filter = RpFilter.LOOSE
    assert fib.reverse_path_ok(4, ip("192.0.2.7"), ip("10.0.0.5"), "eth0")[0]
    # A packet claiming to come from one of the machine's own addresses is refused.
    fib.rp_filter = RpFilter.STRICT
    assert not fib.reverse_path_ok(4, ip("10.1.0.5"), ip("10.0.0.5"), "eth0")[0]
    # IPv6 has no rp_filter.
    assert fib.reverse_path_ok(6, ip("2001:db8::1"), ip("2001:db8::2"), "eth0")[0]


# --- across machines -----------------------------------------------------------------


def two_networks_one_router(a_design=None, b_design=None, *, rp: RpFilter = RpFilter.STRICT) -> Fleet:
    """a in 203.0.113.0/26, b in 198.51.100.0/26, one segment fe; rt holds both gateways.
    Under policy-routing both networks of fe are on-link (table 2); under flat each
    machine reaches the other network through rt."""
    pr_rules = (
        Rule(4, 20, 2, dst="203.0.113.0/26"),
        Rule(4, 20, 2, dst="198.51.100.0/26"),
    )
    onlink = (
        Route(4, 2, "203.0.113.0/26", device="ethfe", scope="link"),
        Route(4, 2, "198.51.100.0/26", device="ethfe", scope="link"),
    )

    def machine(name: str, address: str, gateway: str, design):
        if design is PR:
            rules = (Rule(4, 20, 2, src=f"{address.rsplit('.', 1)[0]}.0/26"), *pr_rules)
            routes = (*onlink, default(gateway, table=2), default(gateway, 20))
            return host(name, iface("ethfe", "fe", f"{address}/26"), rules=rules, routes=routes, design=PR)
        return host(name, iface("ethfe", "fe", f"{address}/26"), routes=(default(gateway, 20),))

    configs = [
        machine("a", "203.0.113.10", "203.0.113.1", a_design),
        machine("b", "198.51.100.10", "198.51.100.1", b_design),
        router("rt", iface("ethfe", "fe", "203.0.113.1/26", "198.51.100.1/26")),
    ]
    return Fleet.of(configs, rp)


def test_flat_meets_at_the_router_policy_routing_stays_on_link():
    flat = flow(two_networks_one_router(), "a", "203.0.113.10", "198.51.100.10")
    assert flat.delivered and flat.request.machines == ("a", "rt", "b") and flat.reply.machines == ("b", "rt", "a")
    pr = flow(two_networks_one_router(PR, PR), "a", "203.0.113.10", "198.51.100.10")
    assert pr.delivered and pr.request.machines == ("a", "b") and pr.reply.machines == ("b", "a")
    # The rule and route that decided the first hop are named.
    first = pr.request.hops[0].lookup
    assert str(first.rule) == "20: from 203.0.113.0/26 lookup 2"
    assert str(first.route) == "198.51.100.0/26 dev ethfe scope link table 2"


def test_a_fleet_half_migrated_takes_an_asymmetric_path_and_still_delivers():
    # a flat reaches b (policy-routing) through the router; b answers on-link.
    path = flow(two_networks_one_router(None, PR), "a", "203.0.113.10", "198.51.100.10")
    assert path.delivered
    assert path.request.machines == ("a", "rt", "b")
    assert path.reply.machines == ("b", "a")


def test_no_route():
    fleet = Fleet.of([host("a", iface("eth0", "x", "10.0.0.5/24")), host("b", iface("eth0", "x", "10.0.0.6/24"))])
    path = flow(fleet, "a", "10.0.0.5", "192.0.2.1")
    assert path.request.reason is Reason.NO_ROUTE and path.request.at == "a"


def test_no_route_at_the_router_it_holds_no_address_in():
    configs = [
        host("a", iface("ethfe", "fe", "203.0.113.10/26"), routes=(default("203.0.113.1"),)),
        host("b", iface("ethfe", "fe", "198.51.100.10/26"), routes=(default("198.51.100.1"),)),
        router("rt1", iface("ethfe", "fe", "203.0.113.1/26")),
        router("rt2", iface("ethfe", "fe", "198.51.100.1/26")),
    ]
    path = flow(Fleet.of(configs), "a", "203.0.113.10", "198.51.100.10")
    assert (path.request.reason, path.request.at, path.request.machines) == (Reason.NO_ROUTE, "rt1", ("a", "rt1"))


def test_loop_between_two_routers():
    # Each router's default points at the other. With strict rp_filter r1 refuses the
    # packet coming back (its source is on eth0); without, it goes round until seen twice.
    r1 = router(
        "r1", iface("eth0", "x", "10.0.0.1/24"), iface("eth1", "y", "10.9.0.1/24"), routes=(default("10.9.0.2"),)
    )
    configs = [
        host("a", iface("eth0", "x", "10.0.0.5/24"), routes=(default("10.0.0.1"),)),
        r1,
        router("r2", iface("eth1", "y", "10.9.0.2/24"), routes=(default("10.9.0.1"),)),
    ]
    strict = flow(Fleet.of(configs), "a", "10.0.0.5", "192.0.2.1")
    assert (strict.request.reason, strict.request.machines) == (Reason.RP_FILTER, ("a", "r1", "r2", "r1"))
    path = flow(Fleet.of(configs, RpFilter.OFF), "a", "10.0.0.5", "192.0.2.1")
    assert path.request.reason is Reason.LOOP
    assert path.request.machines[:4] == ("a", "r1", "r2", "r1")


def test_gateway_not_on_link():
    fleet = Fleet.of([host("a", iface("eth0", "x", "10.0.0.5/24"), routes=(default("172.16.0.1"),))])
    path = flow(fleet, "a", "10.0.0.5", "192.0.2.1")
    assert path.request.reason is Reason.GATEWAY_NOT_ONLINK
    assert "172.16.0.1" in path.request.detail


def test_no_neighbour_and_not_forwarding():
    # The gateway is on-link but nobody holds it; then a host holds it, and does not forward.
    alone = Fleet.of([host("a", iface("eth0", "x", "10.0.0.5/24"), routes=(default("10.0.0.1"),))])
    assert flow(alone, "a", "10.0.0.5", "192.0.2.1").request.reason is Reason.NO_NEIGHBOUR
    with_host = Fleet.of(
        [
            host("a", iface("eth0", "x", "10.0.0.5/24"), routes=(default("10.0.0.1"),)),
            host("b", iface("eth0", "x", "10.0.0.1/24"), iface("eth1", "y", "192.0.2.2/24")),
            host("c", iface("eth1", "y", "192.0.2.1/24")),
        ]
    )
    path = flow(with_host, "a", "10.0.0.5", "192.0.2.1")
    assert (path.request.reason, path.request.at) == (Reason.NOT_FORWARDING, "b")


def test_an_address_on_another_segment_is_not_on_link():
    # a believes 10.1.0.0/24 is on its segment x; it is on y.
    configs = [
        host(
            "a", iface("eth0", "x", "10.0.0.5/24"), routes=(Route(4, 254, "10.1.0.0/24", device="eth0", scope="link"),)
        ),
        host("b", iface("eth0", "y", "10.1.0.9/24")),
    ]
    assert flow(Fleet.of(configs), "a", "10.0.0.5", "10.1.0.9").request.reason is Reason.NO_NEIGHBOUR


def multihomed() -> list:
    """m (flat) on fe and srv, default route by fe; p on srv only, reaching m's fe
    address through the router: m's way back to p's srv address is its srv interface."""
    return [
        host(
            "m",
            iface("ethfe", "fe", "203.0.113.10/26"),
            iface("ethsrv", "srv", "10.20.0.10/24"),
            routes=(default("203.0.113.1", 20),),
        ),
        host("p", iface("ethsrv", "srv", "10.20.0.20/24"), routes=(default("10.20.0.1", 30),)),
        router("rt", iface("ethfe", "fe", "203.0.113.1/26"), iface("ethsrv", "srv", "10.20.0.1/24")),
    ]


def test_strict_rp_filter_drops_what_comes_in_on_one_interface_and_goes_back_by_another():
    path = flow(Fleet.of(multihomed()), "p", "10.20.0.20", "203.0.113.10")
    assert path.request.machines == ("p", "rt", "m")
    assert (path.request.reason, path.request.at) == (Reason.RP_FILTER, "m")
    assert "came in on ethfe" in path.request.detail and "leaves by ethsrv" in path.request.detail
    assert path.request.deciding is not None and path.request.deciding.device == "ethsrv"
    # Loose rp_filter lets it in; the answer goes back direct on srv: asymmetric.
    loose = flow(Fleet.of(multihomed(), RpFilter.LOOSE), "p", "10.20.0.20", "203.0.113.10")
    assert loose.delivered and loose.reply.machines == ("m", "p")


def test_a_reply_dropped_by_rp_filter_at_the_source():
    # m sends from its fe address to p: on-link on srv; p answers through the router,
    # and the answer comes in on m's fe, its way back to p being srv.
    path = flow(Fleet.of(multihomed()), "m", "203.0.113.10", "10.20.0.20")
    assert path.request.delivered and path.request.machines == ("m", "p")
    assert (path.reply.reason, path.reply.at) == (Reason.RP_FILTER, "m")
    assert path.reply.machines == ("p", "rt", "m")


def test_a_router_drops_a_source_it_routes_elsewhere():
    # m sends from its srv address to the internet by its fe default route: rt expects
    # 10.20.0.10 on srv.
    configs = multihomed() + [host("x", iface("ethfe", "fe", "203.0.113.20/26"), routes=(default("203.0.113.1"),))]
    configs[2] = router(
        "rt",
        iface("ethfe", "fe", "203.0.113.1/26"),
        iface("ethsrv", "srv", "10.20.0.1/24"),
        iface("ethx", "x", "192.0.2.1/24"),
        routes=(default("192.0.2.254"),),
    )
    fleet = Fleet.of(configs)
    path = fleet.flow("m", 4, ip("10.20.0.10"), ip("198.51.100.7"))
    assert (path.request.reason, path.request.at) == (Reason.RP_FILTER, "rt")
