"""`lab check`: is every machine of a lab still its render, and does every probed path
go where the design promises?"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netcfg.designs import render
from netcfg.errors import InputError
from netcfg.kernel.observe import live_state
from netcfg.kernel.reconcile import Drift, drift
from netcfg.kernel.state import ownership
from netcfg.lab import probe
from netcfg.lab.netns import LabState, matches
from netcfg.model.host import DesignName, Kind
from netcfg.model.inventory import Inventory


@dataclass(frozen=True, slots=True)
class MachineDrift:
    machine: str
    netns: str
    drift: Drift


@dataclass(frozen=True, slots=True)
class LabCheck:
    design: str  # what the machines are rendered under ("as the inventory says": each its own)
    machines: int  # checked against their render
    drifted: tuple[MachineDrift, ...]
    results: tuple[probe.ProbeResult, ...]

    @property
    def failed(self) -> tuple[probe.ProbeResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.drifted


def check_lab(
    state: LabState,
    inventory: Inventory,
    design: DesignName | None = None,
    hosts: Sequence[str] = (),
    say: Callable[[str], None] = lambda _: None,
) -> LabCheck:
    """Compare every lab machine's owned state with its render, then probe the paths the
    forwarding model expects between machines matching `hosts` (all by default)."""
    chosen = design or (DesignName(state.design) if state.design else None)
    selected = [m for m in state.machines if m in inventory.machines]
    configs = render(inventory, chosen, [inventory.machines[m] for m in selected])
    if hosts:
        configs = {m: c for m, c in configs.items() if c.forwarding or matches(m, hosts)}
    planned = probe.probes(inventory, configs)
    # Nothing to probe (no two machines of one segment in different networks): the drift
    # check below still runs, it is what `lab up` suggested to run.
    # Every machine's owned state must still be its render: policy routing's from and
    # to rules back each other up, so a missing rule rarely changes a probed path, and
    # only the first holders of each network send probes.
    drifted = []
    for machine, config in configs.items():
        netns = state.machines[machine]
        try:
            desired, live = live_state(config, ownership(inventory, config), netns)
        except InputError as error:  # its namespace was removed behind the lab's back
            reason = "; ".join(p.message for p in error.problems)
            raise InputError(f"lab {state.name} is broken: {reason}") from None
        found = drift(desired, live)
        if found:
            drifted.append(MachineDrift(machine, netns, found))
    routers = [m for m in selected if inventory.machines[m].kind is Kind.ROUTER]
    results = probe.run(planned, state.machines, routers, say) if planned else []
    label = str(chosen) if chosen else ("mixed designs" if inventory.mixed else str(inventory.policy.design))
    return LabCheck(label, len(configs), tuple(drifted), tuple(results))
