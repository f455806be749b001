"""What `netcfg status` and `lab check` read of a namespace: the state netcfg must hold
beside the owned state it holds, without a lock and without changing anything."""

from __future__ import annotations

from dataclasses import dataclass

from netcfg.kernel.apply import beside_foreign
from netcfg.kernel.foreign import Conflict
from netcfg.kernel.netlink import Netlink
from netcfg.kernel.read import live_of
from netcfg.kernel.reconcile import Entry
from netcfg.kernel.snapshot import read_snapshot
from netcfg.kernel.state import OwnedState, Ownership, desired_state
from netcfg.model.host import HostConfig


@dataclass(frozen=True, slots=True)
class Observation:
    """What `netcfg status` reports: the state netcfg must hold (desired less what
    foreign entries provide), the owned live state, and those foreign entries."""

    desired: OwnedState
    live: OwnedState
    present: tuple[Entry, ...]
    conflicts: tuple[Conflict, ...]


def observe(host: HostConfig, owned: Ownership, netns: str) -> Observation:
    """Read only, takes no lock."""
    with Netlink(netns) as nl:
        snapshot = read_snapshot(nl)
        wanted = desired_state(host)
        live = live_of(snapshot, owned, wanted)
        desired, found = beside_foreign(wanted, live, snapshot.names)
        return Observation(desired, live.owned, found.present, found.conflicts)


def live_state(host: HostConfig, owned: Ownership, netns: str) -> tuple[OwnedState, OwnedState]:
    """(desired, live) for `netcfg status` and `lab check`; reads only, takes no lock."""
    seen = observe(host, owned, netns)
    return seen.desired, seen.live
