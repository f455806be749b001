"""Applying N rule+route pairs into a fresh network namespace, side by side with
`ip -batch` loading the same entries, pyroute2's per-call API, and a no-op re-apply.

Needs root (network namespaces); without it the benchmark returns no rows and says why.
Each case gets its own fresh namespace (a veth pair, up), made and removed in the
parent; only the load itself is timed (in a forked child, see harness.measure).

    python benchmarks/bench_apply.py [--quick]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable as a script

from benchmarks.harness import Result, measure
from netcfg.kernel.apply import apply_host
from netcfg.kernel.state import Ownership
from netcfg.model.host import HostConfig, InterfaceConfig, Route, Rule

NAME = "apply"
TABLE = 1000  # above 255: the RTA_TABLE / FRA_TABLE path
PRIORITY = 100
# (pairs, target ratio to ip -batch); the no-op re-apply target is for the largest N.
CASES = [(1_000, 4.0), (10_000, 2.0)]
QUICK_CASES = [(200, None), (1_000, 4.0)]
NOOP_TARGET_S = 1.0
PER_CALL_MAX = 1_000  # pyroute2's per-call API is measured up to this N (it is slow)


def prefixes(n: int) -> list[str]:
    return [
        f"10.{i // 256 % 256}.{i % 256}.0/24" if i < 65536 else f"11.{i // 256 % 256}.{i % 256}.0/24" for i in range(n)
    ]


def host_config(n: int) -> HostConfig:
    nets = prefixes(n)
    return HostConfig(
        name="bench",
        kind="physical",
        design="policy-routing",
        interfaces=(InterfaceConfig("eth0", "bench"),),
        rules=tuple(Rule(4, PRIORITY, TABLE, src=p) for p in nets),
        routes=tuple(Route(4, TABLE, p, device="eth0", scope="link") for p in nets),
    )


OWNED = Ownership(interfaces=frozenset({"eth0"}))


def batch_text(n: int) -> str:
    lines = []
    for p in prefixes(n):
        lines.append(f"route add {p} dev eth0 scope link table {TABLE} proto 77")
    for p in prefixes(n):
        lines.append(f"rule add from {p} lookup {TABLE} priority {PRIORITY}")
    return "\n".join(lines) + "\n"


def fresh_netns() -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    for args in (
        ["link", "add", "eth0", "type", "veth", "peer", "name", "eth1"],
        ["link", "set", "eth0", "up"],
        ["link", "set", "eth1", "up"],
        ["link", "set", "lo", "up"],
    ):
        subprocess.run(["ip", "-n", name, *args], check=True)
    return name


def remove_netns(name: str) -> None:
    subprocess.run(["ip", "netns", "del", name], check=False)


def _ip_batch(netns: str, path: str) -> int:
    subprocess.run(["ip", "-n", netns, "-batch", path], check=True)
    return 0


def _netcfg(netns: str, host: HostConfig, lock_dir: str) -> int:
    return len(apply_host(host, OWNED, netns, lock_dir=lock_dir).plan)


def _per_call(netns: str, n: int) -> int:
    from pyroute2 import IPRoute

    with IPRoute(netns=netns, flags=0) as ipr:
        index = ipr.link_lookup(ifname="eth0")[0]
        for p in prefixes(n):
            dst, length = p.split("/")
            ipr.route("add", dst=dst, dst_len=int(length), oif=index, table=TABLE, proto=77, scope=253)
        for p in prefixes(n):
            src, length = p.split("/")
            ipr.rule("add", src=src, src_len=int(length), table=TABLE, priority=PRIORITY)
    return n


def _timed(func, *args) -> float:
    seconds, _, _ = measure(func, *args)
    return seconds


def run(quick: bool = False) -> list[Result]:
    if os.geteuid() != 0:
        print("bench_apply: skipped, needs root for network namespaces", file=sys.stderr)
        return []
    results = []
    lock_dir = tempfile.mkdtemp(prefix="netcfg-bench-locks-")
    cases = QUICK_CASES if quick else CASES
    for n, target in cases:
        case = f"{n:,} rule+route pairs"
        host = host_config(n)
        with tempfile.NamedTemporaryFile("w", suffix=".batch") as handle:
            handle.write(batch_text(n))
            handle.flush()
            ns = fresh_netns()
            try:
                ip_s = _timed(_ip_batch, ns, handle.name)
            finally:
                remove_netns(ns)
        ns = fresh_netns()
        try:
            ours_s, _, changes = measure(_netcfg, ns, host, lock_dir)
            if changes != 2 * n:
                raise RuntimeError(f"{case}: apply made {changes} changes, expected {2 * n}")
            if n == cases[-1][0]:
                noop_s, _, noop_changes = measure(_netcfg, ns, host, lock_dir)
                if noop_changes:
                    raise RuntimeError(f"{case}: re-apply made {noop_changes} changes")
            else:
                noop_s = None
        finally:
            remove_netns(ns)
        per_call_s = None
        if n <= PER_CALL_MAX:
            ns = fresh_netns()
            try:
                per_call_s = _timed(_per_call, ns, n)
            finally:
                remove_netns(ns)
        ratio = ours_s / ip_s
        results += [
            Result(NAME, f"{case}: netcfg apply (batched netlink)", "seconds", round(ours_s, 3)),
            Result(NAME, f"{case}: ip -batch", "seconds", round(ip_s, 3)),
            Result(
                NAME,
                f"{case}: netcfg / ip -batch",
                "ratio",
                round(ratio, 2),
                f"< {target:g}" if target else "",
                ratio < target if target else None,
            ),
        ]
        if per_call_s is not None:
            results.append(Result(NAME, f"{case}: pyroute2 per-call API", "seconds", round(per_call_s, 3)))
        if noop_s is not None:
            results.append(
                Result(
                    NAME,
                    f"{case}: no-op re-apply",
                    "seconds",
                    round(noop_s, 3),
                    f"< {NOOP_TARGET_S:g} s",
                    noop_s < NOOP_TARGET_S,
                )
            )
    return results


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv[1:]):
        print(row)
