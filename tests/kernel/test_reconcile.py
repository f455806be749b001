"""Drift and the safe order of apply steps, on pure values."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netcfg.kernel.codec import KernelRule
from netcfg.kernel.reconcile import drift, plan
from netcfg.kernel.state import OwnedState, Ownership, desired_state
from netcfg.model.host import Address, DesignName, HostConfig, InterfaceConfig, Kind, Route, Rule
from netcfg.present.drift import drift_json as drift_dict

A1 = Address("eth0", 4, "203.0.113.10/26")
R_ONLINK = Route(4, 2, "203.0.113.0/26", device="eth0", scope="link")
R_DEFAULT = Route(4, 2, "0.0.0.0/0", gateway="203.0.113.1")
RULE = Rule(4, 20, 2, src="203.0.113.0/26")


def test_identical_states_have_no_drift_and_no_steps():
    state = OwnedState(frozenset({A1}), frozenset({RULE}), frozenset({R_ONLINK}))
    assert not drift(state, state)
    assert not plan(state, state)


def test_new_routes_go_in_before_rules_and_rules_out_before_routes():
    old_rule = Rule(4, 20, 3, dst="198.51.100.0/26")
    old_route = Route(4, 3, "198.51.100.0/26", device="eth0", scope="link")
    live = OwnedState(frozenset(), frozenset({old_rule}), frozenset({old_route}))
    desired = OwnedState(frozenset({A1}), frozenset({RULE}), frozenset({R_ONLINK, R_DEFAULT}))
    steps = [(s.op, type(s.entry).__name__) for s in plan(live, desired).steps]
    assert steps == [
        ("add", "Address"),
        ("add", "Route"),
        ("add", "Route"),
        ("add", "Rule"),
        ("remove", "Rule"),
        ("remove", "Route"),
    ]


def test_same_key_other_attributes_is_different_and_replaced():
    live_route = Route(4, 254, "0.0.0.0/0", gateway="203.0.113.1", metric=20)
    want_route = Route(4, 254, "0.0.0.0/0", gateway="203.0.113.2", metric=20)
    live_rule = Rule(4, 20, 2, src="203.0.113.0/26")
    want_rule = Rule(4, 20, 5, src="203.0.113.0/26")
    live = OwnedState(
        frozenset({Address("eth0", 4, "203.0.113.10/24")}), frozenset({live_rule}), frozenset({live_route})
    )
    desired = OwnedState(frozenset({A1}), frozenset({want_rule}), frozenset({want_route}))
    d = drift(desired, live)
    assert d.routes.different == ((want_route, live_route),)
    assert d.rules.different == ((want_rule, live_rule),)
    assert len(d.addresses.different) == 1 and not d.addresses.missing
    ops = [(s.op, s.entry) for s in plan(live, desired).steps]
    assert ("replace", want_route) in ops
    # the new rule is in place before the old one goes
    assert ops.index(("add", want_rule)) < ops.index(("remove", live_rule))
    data = drift_dict(d)
    assert data["routes"]["different"][0]["live"]["gateway"] == "203.0.113.1"


def test_a_metric_change_is_different_and_added_before_the_old_route_goes():
    live_route = Route(4, 254, "0.0.0.0/0", gateway="203.0.113.1", metric=21)
    want_route = Route(4, 254, "0.0.0.0/0", gateway="203.0.113.1", metric=20)
    other = Route(4, 254, "0.0.0.0/0", gateway="10.20.0.1", metric=30)  # untouched
    live = OwnedState(frozenset(), frozenset(), frozenset({live_route, other}))
    desired = OwnedState(frozenset(), frozenset(), frozenset({want_route, other}))
    d = drift(desired, live)
    assert d.routes.different == ((want_route, live_route),)
    assert not d.routes.missing and not d.routes.extra
    # another metric is another kernel route: no replace, add first, remove last
    assert [(s.op, s.entry) for s in plan(live, desired).steps] == [("add", want_route), ("remove", live_route)]


def test_an_ipv4_length_change_adds_the_new_length_before_removing_the_old():
    # Removing first could take the link's last IPv4 address, and the kernel would
    # flush every IPv4 route of the link with it. IPv6 has to remove first: the kernel
    # refuses a second copy of an IPv6 address.
    old4, new4 = Address("eth0", 4, "10.20.1.10/16"), Address("eth0", 4, "10.20.1.10/15")
    old6, new6 = Address("eth0", 6, "2001:db8::10/64"), Address("eth0", 6, "2001:db8::10/56")
    live = OwnedState(frozenset({old4, old6}), frozenset(), frozenset({R_DEFAULT}))
    desired = OwnedState(frozenset({new4, new6}), frozenset(), frozenset({R_DEFAULT}))
    ops = [(s.op, s.entry) for s in plan(live, desired).steps]
    assert ops.index(("remove", old6)) < ops.index(("add", new6))
    assert ops.index(("add", new4)) < ops.index(("remove", old4))
    assert ops[-1] == ("remove", old4)


def test_desired_state_is_spelled_like_the_kernel():
    host = HostConfig(
        "m",
        Kind.VM,
        DesignName.POLICY_ROUTING,
        interfaces=(InterfaceConfig("eth0", "srv", addresses=(Address("eth0", 6, "2001:0db8:20::0010/64"),)),),
        routes=(
            Route(6, 3, "2001:db8:20::/64", device="eth0", scope="link"),
            Route(6, 254, "::/0", gateway="2001:db8:20::1", metric=1024),
            Route(4, 3, "10.1.2.0/24", gateway="10.1.2.1", device="eth0", metric=0),
            Route(4, 4, "10.1.3.0/24", device="eth0", scope="link", metric=7),
        ),
    )
    state = desired_state(host)
    assert Address("eth0", 6, "2001:db8:20::10/64") in state.addresses
    assert state.routes == {
        Route(6, 3, "2001:db8:20::/64", device="eth0"),  # no v6 scope
        Route(6, 254, "::/0", gateway="2001:db8:20::1"),  # kernel default metric
        Route(4, 3, "10.1.2.0/24", gateway="10.1.2.1"),  # a gateway route names no device
        Route(4, 4, "10.1.3.0/24", device="eth0", scope="link", metric=7),  # canonical already
    }


def test_ownership_is_the_marker_on_the_machines_interfaces():
    owned = Ownership(frozenset({"eth0"}))
    assert owned.owns_address(Address("eth0", 4, "203.0.113.10/26"), 77)
    assert not owned.owns_address(Address("eth0", 4, "203.0.113.10/26"), 0)  # unmarked: foreign
    assert not owned.owns_address(Address("eth1", 4, "203.0.113.10/26"), 77)  # not its interface


def test_an_owned_rule_beyond_the_model_is_never_desired_so_it_goes():
    fwmark = KernelRule(4, 20, 2, protocol=77, src="203.0.113.0/26", fwmark=1, fwmask=0xFFFFFFFF)
    live = OwnedState(rules=frozenset({fwmark}))
    desired = OwnedState(rules=frozenset({RULE}))
    assert [(s.op, s.entry) for s in plan(live, desired).steps] == [("add", RULE), ("remove", fwmark)]
    assert str(plan(live, desired).steps[1]) == ("- rule from 203.0.113.0/26 fwmark 0x1 lookup 2 priority 20 proto 77")


rules = st.builds(lambda t, n: Rule(4, 20, t, src=f"10.0.{n}.0/24"), st.integers(1, 3), st.integers(0, 5))
routes = st.builds(
    lambda t, n, m: Route(4, t, f"10.0.{n}.0/24", device="eth0", scope="link", metric=m),
    st.integers(1, 3),
    st.integers(0, 5),
    st.sampled_from([None, 5]),
)


@settings(max_examples=80, deadline=None)
@given(st.frozensets(rules), st.frozensets(routes), st.frozensets(rules), st.frozensets(routes))
def test_plan_applied_to_live_gives_desired(live_rules, live_routes, want_rules, want_routes):
    live = OwnedState(rules=live_rules, routes=live_routes)
    desired = OwnedState(rules=want_rules, routes=want_routes)
    rules_now, routes_now = set(live_rules), set(live_routes)
    for step in plan(live, desired).steps:
        target = rules_now if isinstance(step.entry, Rule) else routes_now
        if step.op == "remove":
            target.remove(step.entry)
        elif step.op == "replace":
            target.discard(step.old)
            target.add(step.entry)
        else:
            assert step.entry not in target
            target.add(step.entry)
    assert (rules_now, routes_now) == (set(want_rules), set(want_routes))


def test_an_owned_route_beyond_the_model_in_a_desired_ones_slot_is_replaced_both_ways():
    from netcfg.kernel.codec import RT_SCOPE_LINK, KernelRoute

    model = Route(4, 2, "10.0.0.0/8", device="eth0", scope="link", protocol=77)
    with_mtu = KernelRoute(
        4,
        2,
        "10.0.0.0/8",
        77,
        scope=RT_SCOPE_LINK,
        oif=2,
        attrs=((8, b"\x08\x00\x02\x00" + (1400).to_bytes(4, "little")),),
    )
    # Adding the model's route beside it would collide (EEXIST): one message replaces it,
    # and the roll-back puts it back the same way.
    forward = plan(OwnedState(routes=frozenset({with_mtu})), OwnedState(routes=frozenset({model})))
    assert [(s.op, s.entry, s.old) for s in forward.steps] == [("replace", model, with_mtu)]
    back = plan(OwnedState(routes=frozenset({model})), OwnedState(routes=frozenset({with_mtu})))
    assert [(s.op, s.entry, s.old) for s in back.steps] == [("replace", with_mtu, model)]
    # In another slot (another tos) it is a route of its own: added beside, removed after.
    other = KernelRoute(4, 2, "10.0.0.0/8", 77, scope=RT_SCOPE_LINK, oif=2, tos=8)
    steps = plan(OwnedState(routes=frozenset({other})), OwnedState(routes=frozenset({model}))).steps
    assert [(s.op, s.entry) for s in steps] == [("add", model), ("remove", other)]
