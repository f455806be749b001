"""Inventories the benchmarks measure, written by `netcfg synth` (deterministic)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from benchmarks.harness import netcfg

SEED = 2017
# The last /28 of RFC 6598 space, added on fe by the "one network added" change: synth
# reaches 100.64.0.0/10 only for fleets of about a million, far above these.
NEW_NETWORK = "  - {prefix: 100.127.255.240/28, segment: fe}\n"  # not first of fe: needs no gateway


def synth(out: Path, machines: int, networks: int, **policy: str) -> Path:
    subprocess.run(
        netcfg("synth", "--machines", str(machines), "--networks", str(networks), "--seed", str(SEED), "-o", str(out)),
        check=True,
    )
    if policy:
        path = out / "policy.yaml"
        text = path.read_text()
        for key, value in policy.items():
            text = text.replace(f"{key}: ", f"{key}: {value}  # was: ", 1)
        path.write_text(text)
    return out


def with_network_added(base: Path, head: Path) -> Path:
    shutil.copytree(base, head)
    with open(head / "networks.yaml", "a", encoding="utf-8") as handle:
        handle.write(NEW_NETWORK)
    return head
