"""`netcfg apply --from FILE` loading N rule+route pairs into a fresh network namespace,
beside `ip -batch` loading the same entries; and a no-op re-apply beside `ip` reading the
same state back. Whole processes, a fresh namespace per run (made untimed).

Needs root; without it the rows say why they are missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

from benchmarks.harness import Row, Run, at_most, netcfg, short_runs, time_command, time_pair
from netcfg.model.host import DesignName, HostConfig, InterfaceConfig, Kind, Route, Rule

NAME = "apply"
TABLE = 1000  # above 255: the RTA_TABLE / FRA_TABLE path
PRIORITY = 100
APPLY_PAIRS, NOOP_PAIRS = 1_000, 10_000
QUICK_PAIRS = 200


def _prefixes(n: int) -> list[str]:
    return [f"{10 + i // 65536}.{i // 256 % 256}.{i % 256}.0/24" for i in range(n)]


def _config(n: int) -> HostConfig:
    nets = _prefixes(n)
    return HostConfig(
        name="bench",
        kind=Kind.PHYSICAL,
        design=DesignName.POLICY_ROUTING,
        interfaces=(InterfaceConfig("eth0", "bench"),),
        rules=tuple(Rule(4, PRIORITY, TABLE, src=p) for p in nets),
        routes=tuple(Route(4, TABLE, p, device="eth0", scope="link") for p in nets),
    )


def _batch(n: int) -> str:
    routes = [f"route add {p} dev eth0 scope link table {TABLE} proto 77" for p in _prefixes(n)]
    rules = [f"rule add from {p} lookup {TABLE} priority {PRIORITY} protocol 77" for p in _prefixes(n)]
    return "\n".join(routes + rules) + "\n"


class Namespace:
    """One namespace with eth0 up, made again before each run."""

    def __init__(self) -> None:
        self.name = f"netcfg-bench-{uuid.uuid4().hex[:8]}"

    def fresh(self) -> None:
        self.remove()
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        for args in (["link", "add", "eth0", "type", "veth", "peer", "name", "eth1"], ["link", "set", "eth0", "up"]):
            subprocess.run(["ip", "-n", self.name, *args], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "eth1", "up"], check=True)

    def remove(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], check=False, stderr=subprocess.DEVNULL)


def run(quick: bool = False, scale: bool = False) -> list[Row]:
    del scale
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("apply: skipped (needs root and iproute2 for network namespaces)")
        return []
    apply_pairs, noop_pairs = (QUICK_PAIRS, QUICK_PAIRS) if quick else (APPLY_PAIRS, NOOP_PAIRS)
    rows = []
    ns = Namespace()
    with tempfile.TemporaryDirectory(prefix="netcfg-bench-apply-") as tmp:
        env = {**os.environ, "NETCFG_RUN_DIR": str(Path(tmp) / "run")}
        try:
            for pairs, noop in ((apply_pairs, False), (noop_pairs, True)):
                config, batch = Path(tmp) / f"{pairs}.json", Path(tmp) / f"{pairs}.batch"
                config.write_text(json.dumps(_config(pairs).to_dict()))
                batch.write_text(_batch(pairs))
                apply = netcfg("apply", "--from", str(config), "--netns", ns.name)
                if not noop:
                    command, floor = time_pair(
                        Run(apply, setup=ns.fresh, env=env),
                        Run(["ip", "-n", ns.name, "-batch", str(batch)], setup=ns.fresh),
                        runs=short_runs(),
                    )
                    rows.append(
                        Row(
                            NAME,
                            f"{pairs:,} rule+route pairs, fresh namespace",
                            command,
                            "ip -batch",
                            floor,
                            "<= 3 x ip -batch",
                            None,
                        )
                    )
                else:
                    ns.fresh()
                    time_command(apply, runs=1, env=env)
                    reading = Path(tmp) / "read.batch"
                    reading.write_text("rule show\nroute show table all\naddress show\n")
                    command, floor = time_pair(
                        Run(apply, env=env), Run(["ip", "-n", ns.name, "-batch", str(reading)]), runs=short_runs()
                    )
                    rows.append(
                        Row(
                            NAME,
                            f"no-op, {pairs:,} pairs applied",
                            command,
                            "ip reading the state",
                            floor,
                            "<= 3 x ip reading the state",
                            None,
                        )
                    )
        finally:
            ns.remove()
    return [replace(row, ok=at_most(row.ratio, 3.0)) for row in rows]
