"""The two routing designs: pure functions from an Inventory to per-machine HostConfigs.

A registry keyed by Design, so every command offers `--design` over the same set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from netcfg.gc_tuning import rare_full_collections
from netcfg.host import HostConfig
from netcfg.designs import flat, policy_routing
from netcfg.inventory.model import Design, Inventory, Machine

Renderer = Callable[[Inventory, Iterable[Machine]], dict[str, HostConfig]]

DESIGNS: Mapping[Design, Renderer] = {
    Design.POLICY_ROUTING: policy_routing.render,
    Design.FLAT: flat.render,
}


def render(
    inventory: Inventory,
    design: Design | str | None = None,
    machines: Iterable[Machine] | None = None,
) -> dict[str, HostConfig]:
    """HostConfigs of `machines` (default: all) under `design` (default: the policy's)."""
    chosen = Design(design) if design is not None else inventory.policy.design
    selected = inventory.machines.values() if machines is None else machines
    with rare_full_collections():
        return DESIGNS[chosen](inventory, selected)
