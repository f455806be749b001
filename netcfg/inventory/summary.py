"""A one-line description of a valid inventory, for `netcfg validate`."""

from __future__ import annotations

from collections import Counter

from netcfg.model.host import Kind
from netcfg.model.inventory import Inventory


def summary(inventory: Inventory) -> str:
    families = Counter(n.family for n in inventory.networks)
    kinds = Counter(m.kind for m in inventory.machines.values())
    addresses = sum(len(m.addresses) for m in inventory.machines.values())
    kind_text = ", ".join(f"{kinds[k]} {k}" for k in Kind if kinds[k])
    own = Counter(
        m.design for m in inventory.machines.values() if m.design is not None and m.design != inventory.policy.design
    )
    mixed = "".join(f" ({_n(n, 'machine')} {d} by their own design:)" for d, n in sorted(own.items()))
    return (
        f"{inventory.source}: valid: {_n(len(inventory.segments), 'segment')}, "
        f"{_n(len(inventory.networks), 'network')} ({families[4]} IPv4, {families[6]} IPv6), "
        f"{_n(len(inventory.machines), 'machine')} ({kind_text or 'none'}), "
        f"{_n(addresses, 'address', 'addresses')}; "
        f"design {inventory.policy.design}{mixed}, reconfigure {inventory.policy.reconfigure}"
    )


def _n(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else plural or singular + 's'}"
