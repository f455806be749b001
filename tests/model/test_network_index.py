"""The network holding an address: by bisection in a valid inventory, by prefix length
when networks overlap; either way the most specific holder a scan of every network finds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from netaddr import IPAddress, IPNetwork

from netcfg.model.inventory import Network, NetworkIndex

prefixes = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
    lambda p: IPNetwork(f"{IPAddress(p[0] >> (32 - p[1]) << (32 - p[1]) if p[1] else 0)}/{p[1]}")
)
narrow = st.tuples(st.integers(0, 255), st.integers(24, 32)).map(
    lambda p: IPNetwork(f"10.0.0.{p[0] >> (32 - p[1]) << (32 - p[1])}/{p[1]}")
)


def scanned(networks: list[Network], address: IPAddress, segment: str) -> Network | None:
    """The reference: every network of the segment holding the address, the longest
    prefix first, the first listed among equals."""
    ordered = sorted(networks, key=lambda n: (n.prefix.first, n.prefix.prefixlen))
    holders = [n for n in ordered if n.segment == segment and n.prefix.first <= int(address) <= n.prefix.last]
    return max(holders, key=lambda n: n.prefix.prefixlen) if holders else None


@settings(max_examples=300)
@given(
    st.lists(st.tuples(st.one_of(prefixes, narrow), st.sampled_from(["fe", "srv"])), max_size=12),
    st.lists(st.integers(0, 255).map(lambda n: IPAddress(f"10.0.0.{n}")) | st.integers(0, 2**32 - 1).map(IPAddress)),
)
def test_lookup_finds_what_a_scan_finds(specs, addresses):
    networks = [Network(prefix, segment) for prefix, segment in specs]
    index = NetworkIndex(tuple(networks))
    for address in addresses:
        for segment in ("fe", "srv"):
            assert index.lookup(address, segment) is scanned(networks, address, segment)


def test_an_overlap_is_answered_by_the_most_specific_network():
    wide, narrow_one = Network(IPNetwork("198.18.0.0/15"), "fe"), Network(IPNetwork("198.19.250.0/24"), "fe")
    index = NetworkIndex((wide, narrow_one))
    assert index.lookup(IPAddress("198.19.250.7"), "fe") is narrow_one
    assert index.lookup(IPAddress("198.18.0.7"), "fe") is wide
    assert index.lookup(IPAddress("198.20.0.1"), "fe") is None
