"""The routing designs and their registry: one module per design, each implementing
`base.Design`. Adding a design is adding a module and a line to DESIGNS.

    configs = render(inventory)                     # every machine under its design
    configs = render(inventory, DesignName.FLAT, machines)   # all of them flat
    render_slice = Renderer(inventory)              # slice by slice, sharing work

A machine's design is its own `design:` when the inventory gives one (a fleet being
migrated is mixed), else the policy's; a design named here overrides both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netcfg.designs import flat, policy_routing
from netcfg.designs.base import Design, Endpoint, PathKind, Reads, Render
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


class Renderer:
    """Renders machines of one inventory, call after call: each call's machines under
    `design` if given, else each under its own design (`Inventory.design_of`). What
    machines have in common (a segment's rules) is built once for every call, so
    rendering a fleet slice by slice costs what rendering it at once does. Under another
    design than a machine's own, what that design needs of it is checked first (the
    inventory's checks only knew its own): InputError."""

    __slots__ = ("_by_design", "_forced", "_inventory")

    def __init__(self, inventory: Inventory, design: DesignName | str | None = None):
        self._inventory = inventory
        self._forced = DesignName(design) if design is not None else None
        self._by_design: dict[DesignName, Render] = {}

    def __call__(self, machines: Iterable[Machine] | None = None) -> dict[str, HostConfig]:
        """HostConfigs of `machines` (default: all), by name in their order."""
        inventory, forced = self._inventory, self._forced
        selected = list(inventory.machines.values() if machines is None else machines)
        groups: dict[DesignName, list[Machine]] = {}
        for machine in selected:
            groups.setdefault(forced or inventory.design_of(machine), []).append(machine)
        if forced is not None:
            problems = gateway_problems(
                get_design(forced), inventory, [m for m in selected if inventory.design_of(m) != forced]
            )
            if problems:
                raise InputError(problems)
        configs: dict[str, HostConfig] = {}
        with rare_full_collections():
            for name, members in groups.items():
                render = self._by_design.get(name)
                if render is None:
                    render = self._by_design[name] = get_design(name).renderer(inventory)
                configs.update(render(members))
        if len(groups) > 1:  # keep the caller's order
            return {m.name: configs[m.name] for m in selected}
        return configs


def render(
    inventory: Inventory,
    design: DesignName | str | None = None,
    machines: Iterable[Machine] | None = None,
) -> dict[str, HostConfig]:
    """HostConfigs of `machines` (default: all), each under `design` if given, else
    under its own design (see Renderer)."""
    return Renderer(inventory, design)(machines)


__all__ = ["DESIGNS", "Design", "DesignName", "Endpoint", "PathKind", "Reads", "Renderer", "get_design", "render"]
