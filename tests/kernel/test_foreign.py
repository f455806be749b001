"""Desired entries that meet foreign ones, on canned dumps: identical ones satisfy the
desire, others in their place are conflicts; what the kernel considers the same entry
is what Linux 6.18 refuses with EEXIST (see netcfg.kernel.foreign)."""

from __future__ import annotations

from netcfg.kernel import codec
from netcfg.kernel.foreign import collisions
from netcfg.kernel.read import Live
from netcfg.kernel.state import OwnedState
from netcfg.model.host import Address, Route, Rule

NAMES = {7: "ethfe"}
INDEX = {"ethfe": 7}
RULE = Rule(4, 20, 300, src="203.0.113.0/26")
ROUTE = Route(4, 300, "0.0.0.0/0", gateway="203.0.113.1")
ADDRESS = Address("ethfe", 4, "203.0.113.10/26")
ADDRESS6 = Address("ethfe", 6, "2001:db8:10::10/64")


def live(rules=(), routes=(), addresses=(), owned=OwnedState()) -> Live:
    return Live(owned, tuple(codec.encode_rule(r) for r in rules), tuple(routes), tuple(addresses))


def static(route: Route) -> bytes:
    return codec.route_request(route, INDEX, "add").body


def test_nothing_missing_decodes_nothing():
    desired = OwnedState(frozenset({ADDRESS}), frozenset({RULE}), frozenset({ROUTE}))
    found = collisions(desired, live(routes=[b"not even a route"], owned=desired), NAMES)
    assert found.present == () and found.conflicts == ()


def test_identical_unmarked_entries_satisfy_the_desire():
    desired = OwnedState(frozenset({ADDRESS}), frozenset({RULE}), frozenset({ROUTE}))
    foreign_rule = codec.KernelRule.from_model(RULE, protocol=0)
    foreign_route = static(Route(4, 300, "0.0.0.0/0", gateway="203.0.113.1", protocol=4))
    found = collisions(desired, live([foreign_rule], [foreign_route], [ADDRESS]), NAMES)
    assert set(found.present) == {ADDRESS, RULE, ROUTE} and found.conflicts == ()


def test_a_colleagues_rule_with_another_selector_is_another_rule():
    desired = OwnedState(rules=frozenset({RULE}))
    colleague = codec.KernelRule(4, 20, 300, protocol=0, src="203.0.113.0/26", ip_proto=6)
    masked = codec.KernelRule(4, 20, 300, protocol=0, src="203.0.113.0/26", fwmask=0xFF)
    found = collisions(desired, live([colleague, masked]), NAMES)
    assert found.present == () and found.conflicts == ()


def test_a_foreign_route_in_the_place_of_a_desired_one_is_a_conflict():
    desired = OwnedState(routes=frozenset({ROUTE}))
    other_gateway = static(Route(4, 300, "0.0.0.0/0", gateway="203.0.113.2", protocol=4))
    found = collisions(desired, live(routes=[other_gateway]), NAMES)
    assert found.present == ()
    assert [str(c) for c in found.conflicts] == [
        "route default via 203.0.113.1 table 300 proto 77: the namespace holds route default "
        "via 203.0.113.2 table 300 proto 4 in its place, and it is not netcfg's"
    ]
    # Another metric is another kernel route: no conflict.
    elsewhere = static(Route(4, 300, "0.0.0.0/0", gateway="203.0.113.2", metric=5, protocol=4))
    assert collisions(desired, live(routes=[elsewhere]), NAMES).conflicts == ()


def test_an_ipv6_address_with_another_length_is_a_conflict_an_ipv4_one_is_not():
    desired = OwnedState(addresses=frozenset({ADDRESS, ADDRESS6}))
    held = [Address("ethfe", 4, "203.0.113.10/24"), Address("ethfe", 6, "2001:db8:10::10/80")]
    found = collisions(desired, live(addresses=held), NAMES)
    assert found.present == ()
    assert [c.wanted for c in found.conflicts] == [ADDRESS6]
