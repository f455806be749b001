"""Which rule a deletion removes (the kernel's rule_find), and removal orders in which
every deletion removes the rule it names. The cases are the ones observed on Linux 6.18."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netcfg.kernel.codec import KernelRule, encode_rule
from netcfg.kernel.reconcile import Step
from netcfg.kernel.rules import MOVED, deletes, order_rule_removals, removal_order
from netcfg.model.host import Rule

PLAIN = KernelRule(4, 20, 300, protocol=77, src="10.1.0.0/16")
FWMARK = KernelRule(4, 20, 300, protocol=77, src="10.1.0.0/16", fwmark=1, fwmask=0xFFFFFFFF)
COLLEAGUE = KernelRule(4, 20, 300, protocol=0, src="10.1.0.0/16", ip_proto=6)
ALL = KernelRule(4, 20, 300, protocol=77)


def test_what_a_deletion_leaves_out_matches_anything():
    assert deletes(PLAIN, FWMARK)  # observed: `del from X` removed `from X fwmark 0x1`
    assert deletes(ALL, PLAIN)  # observed: `del from all` removed `from X`
    assert not deletes(FWMARK, PLAIN)  # a mark given must be equal
    assert not deletes(PLAIN, COLLEAGUE)  # the marker: never a foreign rule
    assert deletes(KernelRule(4, 20, 300, src="10.1.0.0/16"), COLLEAGUE)  # without it: the bug
    assert not deletes(PLAIN, KernelRule(4, 21, 300, protocol=77, src="10.1.0.0/16"))  # priority
    assert not deletes(PLAIN, KernelRule(4, 20, 301, protocol=77, src="10.1.0.0/16"))  # table
    assert not deletes(PLAIN, KernelRule(6, 20, 300, protocol=77, src="10.1.0.0/16"))
    for rule in (FWMARK, PLAIN, ALL, COLLEAGUE):
        assert deletes(rule, rule)


def test_removals_that_match_only_their_own_rule_keep_their_order():
    other = KernelRule(4, 20, 300, protocol=77, src="10.2.0.0/16")
    assert removal_order([other, PLAIN], [COLLEAGUE, PLAIN, other]) == [("remove", other), ("remove", PLAIN)]


def test_a_more_specific_rule_that_goes_as_well_goes_first():
    assert removal_order([PLAIN, FWMARK], [FWMARK, PLAIN]) == [("remove", FWMARK), ("remove", PLAIN)]
    assert removal_order([ALL, PLAIN, FWMARK], [FWMARK, PLAIN, ALL]) == [
        ("remove", FWMARK),
        ("remove", PLAIN),
        ("remove", ALL),
    ]


def test_a_staying_rule_in_front_is_re_created_behind_first():
    # The roll-back of an apply that added PLAIN while FWMARK (before it) stays.
    assert removal_order([PLAIN], [FWMARK, PLAIN]) == [("add", FWMARK), ("remove", FWMARK), ("remove", PLAIN)]


def test_a_foreign_rule_is_never_moved():
    unmarked = KernelRule(4, 20, 300, src="10.1.0.0/16")  # a request without the marker
    assert removal_order([unmarked], [COLLEAGUE, unmarked]) == [("remove", unmarked)]


def test_order_rule_removals_reorders_only_the_rule_removals():
    added = Step("add", Rule(4, 20, 300, src="10.1.0.0/16"))
    route_goes = Step("remove", Rule(6, 30, 3, dst="2001:db8::/64"))
    steps = (added, Step("remove", Rule(4, 20, 300)), Step("remove", FWMARK))
    # `from all` (plain, netcfg's) before FWMARK would take FWMARK: FWMARK goes first.
    dump = [encode_rule(r) for r in (FWMARK, ALL)]
    assert order_rule_removals(steps, dump) == ((added, steps[2], steps[1]), ())
    dump = [encode_rule(r) for r in (ALL, FWMARK)]
    assert order_rule_removals(steps, dump) == (steps, ())
    # A rule the kernel does not hold is not removed: its deletion could only take another.
    assert order_rule_removals((added, route_goes), []) == ((added,), ())
    assert removal_order([PLAIN], [FWMARK]) == []
    # A removal of the plain rule behind a staying more specific one: the latter moves.
    steps = (Step("remove", Rule(4, 20, 300, src="10.1.0.0/16")),)
    moved = order_rule_removals(steps, [encode_rule(r) for r in (FWMARK, PLAIN)])
    assert moved == ((Step("add", FWMARK, note=MOVED), Step("remove", FWMARK), steps[0]), ())


def test_a_rule_re_created_behind_a_foreign_one_is_named_with_it():
    # FWMARK stands in front of COLLEAGUE's rule; its copy would go behind it.
    steps = (Step("remove", Rule(4, 20, 300, src="10.1.0.0/16")),)
    in_front = [encode_rule(r) for r in (FWMARK, COLLEAGUE, PLAIN)]
    assert order_rule_removals(steps, in_front)[1] == ((FWMARK, COLLEAGUE),)
    behind = [encode_rule(r) for r in (COLLEAGUE, FWMARK, PLAIN)]  # already behind it: no change of order
    assert order_rule_removals(steps, behind)[1] == ()


selectors = st.builds(
    lambda src, mark, ipproto, table: KernelRule(
        4, 20, table, protocol=77, src=src, fwmark=mark, fwmask=0xFFFFFFFF if mark else 0, ip_proto=ipproto
    ),
    st.sampled_from([None, "10.1.0.0/16", "10.2.0.0/16"]),
    st.sampled_from([0, 1]),
    st.sampled_from([0, 6]),
    st.sampled_from([300, 301]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(selectors, min_size=1, max_size=8, unique=True), st.data())
def test_the_order_removes_exactly_the_named_rules_in_a_kernel_simulation(rules, data):
    goes = data.draw(st.lists(st.sampled_from(rules), unique=True))
    ops = removal_order(goes, rules)
    kernel = list(rules)
    for op, rule in ops:
        if op == "add":
            kernel.append(rule)
        else:
            first = next(i for i, r in enumerate(kernel) if deletes(rule, r))
            del kernel[first]
    assert sorted(map(str, kernel)) == sorted(str(r) for r in rules if r not in goes)
