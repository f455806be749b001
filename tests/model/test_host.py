"""The semantic model: exact equality, hashing, total order with optional fields, JSON."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netcfg.model.host import Address, DesignName, HostConfig, InterfaceConfig, Kind, Route, Rule

prefixes = st.sampled_from([None, "10.0.0.0/8", "203.0.113.0/26", "2001:db8::/64"])
rules = st.builds(Rule, st.sampled_from([4, 6]), st.integers(1, 40), st.integers(1, 300), prefixes, prefixes)
routes = st.builds(
    Route,
    st.sampled_from([4, 6]),
    st.integers(1, 300),
    st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", "::/0"]),
    st.sampled_from([None, "10.0.0.1"]),
    st.sampled_from([None, "ethfe"]),
    st.sampled_from(["global", "link"]),
    st.sampled_from([None, 0, 20]),
)


@given(st.lists(rules), st.lists(routes))
def test_rules_and_routes_have_a_total_order(rule_list, route_list):
    assert sorted(rule_list) == sorted(reversed(rule_list))
    assert sorted(route_list) == sorted(reversed(route_list))


@given(st.lists(rules, max_size=5), st.lists(routes, max_size=5))
def test_json_form_reads_back_exactly(rule_list, route_list):
    config = HostConfig(
        name="web1",
        kind=Kind.VM,
        design=DesignName.POLICY_ROUTING,
        interfaces=(
            InterfaceConfig(
                "ethfe", "fe", False, (Address("ethfe", 4, "203.0.113.7/26"), Address("ethfe", 6, "2001:db8::7/64"))
            ),
        ),
        rules=tuple(rule_list),
        routes=tuple(route_list),
    )
    again = HostConfig.from_dict(config.to_dict())
    assert again == config
    assert hash(again) == hash(config)


def test_configs_differing_in_one_rule_are_unequal():
    a = HostConfig("h", Kind.VM, DesignName.FLAT, rules=(Rule(4, 20, 2, src="10.0.0.0/8"),))
    b = HostConfig("h", Kind.VM, DesignName.FLAT, rules=(Rule(4, 20, 2, dst="10.0.0.0/8"),))
    assert a != b
