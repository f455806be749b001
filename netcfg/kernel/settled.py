"""A namespace known to hold a config: the no-op apply as a dump and a compare.

An apply's plan is a function of the config and of the namespace as dumped (links,
addresses, rules and routes, foreign ones included) and of nothing else. When a run
finds that plan empty (a no-op, or the read-back after an apply) it records the digests
of both, and the foreign entries that hold desired ones, beside the namespace's lock.
A later apply of the same config bytes to a namespace that dumps the same bytes has the
same empty plan: it is answered by comparing digests, nothing decoded or planned. Any
other byte anywhere, or another netcfg version, goes the long way.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import NamedTuple

from netcfg import __version__
from netcfg.kernel.digest import running_digest
from netcfg.kernel.lock import namespace_file, namespace_lock
from netcfg.kernel.netlink import Netlink, netns_exists, netns_path
from netcfg.kernel.snapshot import read_snapshot
from netcfg.regular import regular_file_bytes

SUFFIX = ".settled"
RECORD_BYTES = 64 << 20


class Settled(NamedTuple):
    config: str  # config_digest of the config's bytes
    state: str  # Snapshot.digest of the namespace
    host: str
    design: str
    present: tuple[str, ...]  # desired entries foreign ones provide, described


def config_digest(source: bytes) -> str:
    return running_digest(f"netcfg {__version__}\n".encode() + source).hexdigest()


def born(netns: str) -> int:
    """When the namespace's nsfs inode was made. nsfs gives a new namespace the inode
    number of a deleted one, and so its DEV-INODE record: that record carries another
    time, and is not even looked at (no socket opened, nothing dumped)."""
    return os.stat(netns_path(netns)).st_ctime_ns


def record_settled(netns: str, run_dir: str, settled: Settled) -> None:
    """Replace the namespace's record; one that cannot be written only costs the next
    no-op its speed."""
    try:
        path = namespace_file(netns, run_dir, SUFFIX)
        made = born(netns)
        temporary = f"{path}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump({"netcfg": __version__, "born": made, **settled._asdict()}, handle)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def recorded(netns: str, run_dir: str) -> Settled | None:
    """The namespace's record; None when there is none or it is not one this version wrote."""
    try:
        raw = regular_file_bytes(namespace_file(netns, run_dir, SUFFIX), RECORD_BYTES)
        if raw is None:
            return None
        data = json.loads(raw)
        present = data["present"]
        config, state, host, design = (data[name] for name in ("config", "state", "host", "design"))
        made = born(netns)
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return None
    if data.get("netcfg") != __version__ or not all(isinstance(f, str) for f in (config, state, host, design)):
        return None
    if data.get("born") != made:
        return None
    if not isinstance(present, list) or not all(isinstance(p, str) for p in present):
        return None
    return Settled(config, state, host, design, tuple(present))


def settled_apply(config: str, netns: str, run_dir: str) -> Settled | None:
    """The record, when the namespace holds the config of that digest exactly as the
    record says; None: apply the long way. Takes the namespace's lock for its dump,
    like an apply (another apply running: LockedError)."""
    found = recorded(netns, run_dir) if netns_exists(netns) else None
    if found is None or found.config != config:
        return None
    with namespace_lock(netns, run_dir), Netlink(netns) as nl:
        state = read_snapshot(nl).digest()
    return found if state == found.state else None
