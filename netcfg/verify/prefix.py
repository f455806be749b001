"""Addresses and prefixes as integers, the way the kernel compares them.

A prefix is (family, length, value) with the host bits cleared; an address is
(family, value). Parsing goes through netaddr once per distinct string: a fleet's
rules and routes repeat a few hundred prefixes tens of thousands of times.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from netaddr import IPAddress, IPNetwork

WIDTH = {4: 32, 6: 128}


@dataclass(frozen=True, slots=True, order=True)
class Prefix:
    family: int
    length: int
    value: int  # the network address, host bits cleared

    def contains(self, family: int, address: int) -> bool:
        return family == self.family and address >> (WIDTH[family] - self.length) == self.value >> (
            WIDTH[family] - self.length
        )

    def covers(self, other: Prefix) -> bool:
        """Whether every address of `other` is in this prefix."""
        return other.family == self.family and other.length >= self.length and self.contains(other.family, other.value)

    @property
    def first(self) -> int:
        return self.value

    def __str__(self) -> str:
        return str(IPNetwork((self.value, self.length), version=self.family))


@lru_cache(maxsize=65536)
def parse_prefix(text: str) -> Prefix:
    """ "203.0.113.0/25" (or an address, as a host prefix) as a Prefix."""
    network = IPNetwork(text)
    return Prefix(network.version, network.prefixlen, network.value & ~(network.hostmask.value))


@lru_cache(maxsize=262144)
def parse_address(text: str) -> tuple[int, int]:
    """ "203.0.113.10" or "203.0.113.10/25" as (family, value)."""
    address = IPAddress(text.split("/", 1)[0])
    return address.version, address.value


def format_address(family: int, value: int) -> str:
    return str(IPAddress(value, version=family))


def key(family: int, length: int, address: int) -> int:
    """The network part of `address` at `length`: the key a table of that length uses."""
    return address >> (WIDTH[family] - length)
