"""A fleet, or part of it, as network namespaces, and packets proving the routing works.

Layout of lab NAME:
  - `NAME-sw`: the "switch" namespace, one bridge per segment (`sw0`, `sw1`, ...), so
    nothing of the lab touches the host's own namespace;
  - `NAME-m-MACHINE`: one namespace per machine; each interface is a veth whose inner
    end carries the rendered name (`ethfe`), the outer end (`v0`, `v1`, ... short,
    generated, unique in the switch namespace) is a port of the segment's bridge. A KVM
    host's rendered interfaces are bridges (`brfe`): the lab creates the bridge in the
    machine's namespace with the veth (`up0`, ...) as its port, as on the real host;
  - routers are machines like the others, with forwarding switched on;
  - every machine's addresses, rules and routes are installed by `apply_host`.
VMs attach to the segment bridge directly (their hypervisor's bridge is not chained).

Every namespace name is written to the state file STATE_DIR/lab-NAME.json before
the namespace is created, so `down` removes everything, also after a failed or
interrupted `up` (which cleans up after itself as well).
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pyroute2 import IPRoute
from pyroute2 import netns as pyroute2_netns
from pyroute2.netlink.exceptions import NetlinkError

from netcfg import limits, terminations
from netcfg.designs import render
from netcfg.errors import InputError, damage, quote
from netcfg.files import read_json, write_file
from netcfg.kernel.apply import apply_host
from netcfg.kernel.lock import namespace_file
from netcfg.kernel.netlink import netns_exists
from netcfg.kernel.settled import SUFFIX as SETTLED
from netcfg.kernel.state import ownership
from netcfg.model.host import DesignName, HostConfig, Kind
from netcfg.model.inventory import Inventory
from netcfg.problems import Location, Problem
from netcfg.progress import Progress, silent
from netcfg.words import plural

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class LabState:
    name: str
    inventory: str
    design: str  # every machine under it; "": each under its own (its design: or the policy's)
    machines: Mapping[str, str]  # machine -> its namespace
    switch: str
    namespaces: tuple[str, ...] = ()  # every namespace the lab made, in creation order
    segments: Mapping[str, str] = field(default_factory=dict)  # segment -> bridge
    stage: str = ""  # PLAN:K: the fleet after stage K of a migration plan

    def to_json(self) -> str:
        data = asdict(self)
        data["namespaces"] = list(self.namespaces)
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @staticmethod
    def from_json(data: Any) -> LabState:
        """The state a lab wrote; ValueError when any value is not of its kind."""

        def text(value: Any) -> str:
            if not isinstance(value, str):
                raise ValueError(f"{value!r} is not text")
            return value

        def texts(value: Any) -> dict[str, str]:
            if not isinstance(value, dict):
                raise ValueError(f"{value!r} is not a mapping")
            return {text(k): text(v) for k, v in value.items()}

        if not isinstance(data, dict) or not isinstance(data.get("namespaces"), list):
            raise ValueError("not a lab state")
        design = text(data["design"])
        if design and design not in {d.value for d in DesignName}:
            raise ValueError(f"unknown design {design!r}")
        return LabState(
            name=text(data["name"]),
            inventory=text(data["inventory"]),
            design=design,
            machines=texts(data["machines"]),
            switch=text(data["switch"]),
            namespaces=tuple(text(ns) for ns in data["namespaces"]),
            segments=texts(data.get("segments", {})),
            stage=text(data.get("stage", "")),
        )


def check_name(name: str) -> str:
    if not limits.LAB_NAME.fullmatch(name):
        raise InputError(f"invalid lab name {quote(name)}: 1-32 characters of letters, digits, '_', '-', '.'")
    return name


def state_path(name: str, state_dir: str) -> str:
    return os.path.join(state_dir, f"lab-{check_name(name)}.json")


def write_state(state: LabState, state_dir: str) -> None:
    write_file(state_path(state.name, state_dir), state.to_json())


def read_state(name: str, state_dir: str) -> LabState | None:
    """The lab's state, None when it is not up; a damaged state file is an input error
    saying how to recover, never a crash."""
    path = state_path(name, state_dir)
    if not os.path.exists(path):
        return None
    data = read_json(path, "lab state file", limits.STATE_FILE_BYTES)
    try:
        state = LabState.from_json(data)
        if state.name != name:
            raise ValueError(f"the state of lab {state.name!r}")
        return state
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise InputError(
            [
                Problem(
                    Location(path),
                    f"the lab state file is damaged ({damage(error)}): which namespaces are the lab's is unknown",
                    f"remove the lab's namespaces ({name}-sw, {name}-m-*) with `ip netns del`, then this file",
                )
            ]
        ) from None


def matches(machine: str, hosts: Sequence[str]) -> bool:
    """Whether `machine` matches one of the globs; no globs match every machine."""
    return not hosts or any(fnmatch.fnmatchcase(machine, glob) for glob in hosts)


def select(inventory: Inventory, hosts: Sequence[str] = ()) -> list[str]:
    """Machines matching any of the globs (none: every machine), plus every router: they
    hold the gateways."""
    names = [m for m in inventory.machines if matches(m, hosts)]
    if not names:
        if not hosts:
            raise InputError("the inventory has no machines: nothing to build a lab of")
        raise InputError(f"--host {' '.join(map(repr, hosts))} matches no machine of the inventory")
    routers = [m.name for m in inventory.machines.values() if m.kind is Kind.ROUTER]
    return sorted(set(names) | set(routers))


def machine_netns(lab: str, machine: str) -> str:
    return f"{lab}-m-{machine}"


def sysctl(netns: str, *settings: str) -> None:
    subprocess.run(
        ["ip", "netns", "exec", netns, "sysctl", "-q", "-w", *settings],
        check=True,
        capture_output=True,
        text=True,
    )


def _up(ipr: IPRoute, name: str) -> int:
    index = ipr.link_lookup(ifname=name)[0]
    ipr.link("set", index=index, state="up")
    return index


def up(
    inventory: Inventory,
    name: str,
    design: str | None = None,
    hosts: Sequence[str] = (),
    *,
    state_dir: str,
    say: Say = _quiet,
    progress: Progress = silent,
    stage: str = "",
) -> LabState:
    """Build the lab; on any failure or interrupt, remove what was made and re-raise."""
    check_name(name)
    if os.geteuid() != 0:
        raise InputError("netcfg lab needs root: it creates network namespaces")
    if read_state(name, state_dir) is not None:
        raise InputError(
            f"lab {name!r} is already up ({state_path(name, state_dir)}); run `netcfg lab down --name {name}` first"
        )
    chosen = str(DesignName(design)) if design else ""
    machines = select(inventory, hosts)
    configs = render(inventory, chosen or None, [inventory.machines[m] for m in machines])
    segments = sorted({i.segment for c in configs.values() for i in c.interfaces})
    state = LabState(
        name=name,
        # Absolute: `lab check` without an INVENTORY argument reads it from anywhere.
        inventory=os.path.abspath(inventory.source),
        design=chosen,
        machines={m: machine_netns(name, m) for m in machines},
        switch=f"{name}-sw",
        segments={s: f"sw{k}" for k, s in enumerate(segments)},
        stage=stage,
    )
    planned = [state.switch, *state.machines.values()]
    taken = [ns for ns in planned if netns_exists(ns)]
    if taken:
        raise InputError(
            f"{'network namespace' if len(taken) == 1 else 'network namespaces'} {', '.join(taken)}"
            f" already {'exists' if len(taken) == 1 else 'exist'}; choose another --name"
        )
    # Recorded before anything is created: `down` finds every namespace even if `up`
    # is killed half way.
    state = LabState(**{**asdict(state), "namespaces": tuple(planned)})
    write_state(state, state_dir)
    try:
        with terminations.raised(f"lab {name}: up"):
            _build(state, configs, say, progress)
            owned = {m: ownership(inventory, configs[m]) for m in machines}
            stage = f"applying {plural(len(machines), 'machine')}"
            for done, machine in enumerate(machines, 1):
                say(f"apply {machine} -> {state.machines[machine]}")
                apply_host(configs[machine], owned[machine], state.machines[machine], lock_dir=state_dir)
                progress(stage, done, len(machines))
    except BaseException:
        say(f"lab {name}: up failed, removing what was made")
        with terminations.deferred():
            down(name, state_dir=state_dir)
        raise
    return state


def _build(state: LabState, configs: Mapping[str, HostConfig], say: Say, progress: Progress) -> None:
    stage = f"creating {plural(len(state.namespaces), 'namespace')}"
    for done, ns in enumerate(state.namespaces, 1):
        # pyroute2 creates it in a forked child: a stop signal now would let `down` run
        # before the child has mounted it, and leave it behind.
        with terminations.deferred():
            pyroute2_netns.create(ns)
        progress(stage, done, len(state.namespaces))
    say(f"namespaces: {len(state.namespaces)} created")
    for machine, ns in state.machines.items():
        # Addresses are usable at once (no duplicate detection): the lab is built and
        # pinged within a second, and the veths are brand new. Strict reverse-path
        # filtering everywhere, and no ICMP redirects, as `verify` assumes: a redirect
        # would send traffic between two networks of one segment direct after its
        # first packets, where the design (and the model) route it through the router.
        settings = [
            "net.ipv6.conf.default.accept_dad=0",
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv4.conf.all.rp_filter=1",
            "net.ipv4.conf.default.rp_filter=1",
            "net.ipv4.conf.all.accept_redirects=0",
            "net.ipv4.conf.default.accept_redirects=0",
            "net.ipv6.conf.all.accept_redirects=0",
            "net.ipv6.conf.default.accept_redirects=0",
        ]
        if configs[machine].forwarding:
            settings += [
                "net.ipv4.ip_forward=1",
                "net.ipv6.conf.all.forwarding=1",
                "net.ipv4.conf.all.send_redirects=0",
                "net.ipv4.conf.default.send_redirects=0",
            ]
        sysctl(ns, *settings)
    with IPRoute(netns=state.switch, flags=0) as sw:
        _up(sw, "lo")
        bridges = {}
        for segment, bridge in state.segments.items():
            sw.link("add", ifname=bridge, kind="bridge")
            bridges[segment] = _up(sw, bridge)
        port = 0
        stage = f"linking {plural(len(state.machines), 'machine')} to their segments"
        for done, (machine, ns) in enumerate(state.machines.items(), 1):
            progress(stage, done - 1, len(state.machines))
            config = configs[machine]
            with IPRoute(netns=ns, flags=0) as inner:
                _up(inner, "lo")
                for iface in config.interfaces:
                    outer = f"v{port}"
                    # A KVM host's interface is a bridge: the veth becomes its port.
                    peer = f"up{port}" if iface.bridge else iface.name
                    try:
                        sw.link("add", ifname=outer, kind="veth", peer={"ifname": peer, "net_ns_fd": ns})
                        index = sw.link_lookup(ifname=outer)[0]
                        sw.link("set", index=index, master=bridges[iface.segment], state="up")
                        if iface.bridge:
                            inner.link("add", ifname=iface.name, kind="bridge")
                            bridge_index = _up(inner, iface.name)
                            peer_index = inner.link_lookup(ifname=peer)[0]
                            inner.link("set", index=peer_index, master=bridge_index)
                        _up(inner, peer)
                    except NetlinkError as error:
                        # The kernel refused the rendered name (`lo` exists in every
                        # namespace, ...): the machine's config, not a bug.
                        reason = error.args[1] if len(error.args) > 1 else str(error)
                        raise InputError(
                            f"lab {state.name}: the kernel refused interface {iface.name!r} "
                            f"of {machine} in {ns}: {reason}"
                        ) from None
                    port += 1
    say(f"links: {port} veth pairs on {len(bridges)} segment bridges")


def down(name: str, *, state_dir: str, say: Say = _quiet) -> list[str]:
    """Remove every namespace the lab recorded, then its state file; the removed ones."""
    state = read_state(name, state_dir)
    if state is None:
        return []
    removed = []
    # Machines first, the switch last: deleting a namespace deletes its veth ends.
    for ns in reversed(state.namespaces):
        # The apply files of the lab's namespaces (lock, settled record) go too: nothing
        # of it is left. They are keyed on the namespace itself, so their names are
        # taken while it exists.
        locks = [os.path.join(state_dir, f"{ns}.lock")]  # keyed on the name by earlier versions
        if netns_exists(ns):
            locks += [namespace_file(ns, state_dir, suffix) for suffix in (".lock", SETTLED)]
            pyroute2_netns.remove(ns)
            removed.append(ns)
        for lock in locks:
            try:
                os.unlink(lock)
            except FileNotFoundError:
                pass
    os.unlink(state_path(name, state_dir))
    say(f"lab {name}: {plural(len(removed), 'namespace')} removed")
    return removed
