import random

import pytest
from netaddr import IPAddress

from netcfg.model.address_text import address_text

EDGES = [
    "0.0.0.0",
    "255.255.255.255",
    "10.0.0.1",
    "::",
    "::1",
    "1::",
    "2001:db8::1",
    "2001:db8:0:1:0:0:0:1",  # the longest run of zeros is the one compressed
    "2001:0:0:1:0:0:0:1",
    "2001:db8:1:2:3:4:5:6",  # no run of zeros: nothing compressed
    "2001:db8:0:2:3:4:5:6",  # a single zero group: never compressed
    "::ffff:192.0.2.1",  # IPv4-mapped
    "::192.0.2.1",
    "fe80::1:0:0:0",
]


@pytest.mark.parametrize("text", EDGES)
def test_spelled_as_netaddr_spells_it(text: str) -> None:
    ip = IPAddress(text)
    assert address_text(ip) == str(ip)


def test_random_addresses_spelled_as_netaddr_spells_them() -> None:
    rng = random.Random(7)
    for _ in range(5_000):
        version = rng.choice((4, 6))
        bits = 32 if version == 4 else 128
        # Sparse values too, so that runs of zero groups are common.
        value = rng.getrandbits(bits) & rng.getrandbits(bits) & rng.getrandbits(bits)
        ip = IPAddress(value, version)
        assert address_text(ip) == str(ip), ip
