"""The routing designs and their registry: one module per design, each implementing
`base.Design`. Adding a design is adding a module and a line to DESIGNS.

    configs = render(inventory)                     # every machine, the policy's design
    configs = render(inventory, DesignName.FLAT, machines)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netcfg.designs import flat, policy_routing
from netcfg.designs.base import Design, Endpoint, PathKind, Reads
from netcfg.designs.gateways import gateway_problems
from netcfg.errors import InputError
from netcfg.gc_tuning import rare_full_collections
from netcfg.model.host import DesignName, HostConfig
from netcfg.model.inventory import Inventory, Machine

DESIGNS: Mapping[DesignName, Design] = {
    DesignName.POLICY_ROUTING: policy_routing.DESIGN,
    DesignName.FLAT: flat.DESIGN,
}


def get_design(name: DesignName | str) -> Design:
    return DESIGNS[DesignName(name)]


def render(
    inventory: Inventory,
    design: DesignName | str | None = None,
    machines: Iterable[Machine] | None = None,
) -> dict[str, HostConfig]:
    """HostConfigs of `machines` (default: all) under `design` (default: the policy's).
    Under another design than the policy's, what that design needs of the machines is
    checked first (the inventory's checks only knew its own): InputError."""
    name = DesignName(design) if design is not None else inventory.policy.design
    chosen = get_design(name)
    selected = list(inventory.machines.values() if machines is None else machines)
    if name != inventory.policy.design:
        problems = gateway_problems(chosen, inventory, selected)
        if problems:
            raise InputError(problems)
    with rare_full_collections():
        return chosen.render(inventory, selected)


__all__ = ["DESIGNS", "Design", "DesignName", "Endpoint", "PathKind", "Reads", "get_design", "render"]
