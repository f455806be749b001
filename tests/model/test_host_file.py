"""Reading a rendered machine back: the fast prefix check judges as netaddr does."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from netaddr import AddrFormatError, IPNetwork

from netcfg.files import _depth
from netcfg.model.host_file import prefix_version

ACCEPTED = ["10.0.0.0/24", "10.0.0.1", "::1", "::/0", "0.0.0.0/0", "2001:db8::/64", "::ffff:1.2.3.4/128"]
# netaddr takes most of these; the kernel would read them back spelled otherwise.
REFUSED = [
    "10.0.0.0/33", "10.0.0.0/024", "10.0.0.0/", "10.0.0.0/+8", "10.0.0.0/8 ", "10.0.0.0/8\n", "10.0.0.0/ 8",
    "10.0.0.0/1_6", "10.0.0.0/\u0668", "10.0.0.0/\uff18", "10.0.0.0/\u00b2", "10/8", "1.2.3", "010.0.0.1/8",
    "2001:DB8::/64", "2001:db8:0::/64", "2001:db8::/129", "fe80::1%eth0/64", " 10.0.0.0/8", "10.0.0.0/-1", "",
    "a::g/3", "1.2.3.4/8/8", 5, None, 3.5,
]  # fmt: skip


def netaddr_version(value: Any) -> int | None:
    try:
        return int(IPNetwork(value).version)
    except (AddrFormatError, ValueError, TypeError):
        return None


@pytest.mark.parametrize("value", ACCEPTED)
def test_prefixes_spelled_as_rendered_are_accepted(value):
    assert prefix_version(value) == netaddr_version(value) is not None


@pytest.mark.parametrize("value", REFUSED)
def test_other_spellings_are_refused(value):
    assert prefix_version(value) is None


pieces = st.sampled_from(["10", "0", "255", "256", "010", "::", ":", "1", "ffff", "db8", ".", "/", "%", " ", "x"])


@given(st.lists(pieces, max_size=9).map("".join))
def test_what_is_accepted_netaddr_reads_the_same(value):
    version = prefix_version(value)
    assert version is None or version == netaddr_version(value)


def nesting(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(nesting, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(nesting, value), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=2), inner, max_size=4),
)


@given(json_values)
def test_depth_counts_nested_lists_and_objects(value):
    assert _depth(value) == nesting(value)
