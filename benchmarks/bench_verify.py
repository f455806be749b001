"""`netcfg verify` and `netcfg migrate` on 10,000 machines / 500 networks from `netcfg
synth`, as whole processes (`python -m netcfg ...`): wall time (min and median of the
runs) and the peak memory of the process.

Rows:
- verify: every flow class of the synthetic fleet (policy-routing), target < 10 s;
- migrate, as synth writes it: the fleet under flat would drop flows (each router
  reaches only the networks it holds gateways of; strict rp_filter), so migrate
  proves it on the target and refuses (exit 3), target < 60 s;
- migrate, with one router holding every gateway and loose rp_filter: the target is
  safe, so migrate plans it in full (200 stages of 50 machines, every intermediate
  fleet verified, each stage classified, judged and planned), target < 60 s.

    python benchmarks/bench_verify.py [--quick]

--quick: 1,000 machines / 60 networks, no targets. Nothing is left in /tmp.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable as a script

from benchmarks.harness import run_once

RUNS = 5
SEED = 1


def netcfg(*args: str) -> list[str]:
    return [sys.executable, "-m", "netcfg", "--quiet", *args]


def one_router(directory: Path) -> None:
    """Every gateway on rt01, rt02 gone: every network reaches every other through it."""
    from netcfg.inventory.load import load_inventory
    from netcfg.model.host import Kind

    inventory = load_inventory(directory)
    by_segment: dict[str, list[str]] = {}
    for machine in inventory.machines.values():
        if machine.kind is Kind.ROUTER:
            for iface in machine.interfaces:
                by_segment.setdefault(iface.segment, []).extend(str(a) for a in iface.addresses)
    lines = ["machines:\n  rt01:\n    kind: router\n    interfaces:\n"]
    for segment, addresses in by_segment.items():
        quoted = ", ".join(f'"{a}"' if ":" in a else a for a in addresses)
        lines.append(f"      {segment}: {{addresses: [{quoted}]}}\n")
    (directory / "machines" / "routers.yaml").write_text("".join(lines))


def measure(name: str, argv: list[str], target_s: float | None, expect: int, runs: int) -> dict:
    walls, peaks = [], []
    for _ in range(runs):
        done = run_once(argv, keep_stdout=False)
        if done.returncode != expect:
            raise SystemExit(f"{name}: exit {done.returncode}, expected {expect}: {' '.join(argv)}")
        walls.append(done.seconds)
        peaks.append(done.peak_mib)
    median = statistics.median(walls)
    ok = target_s is None or median < target_s
    return {
        "name": name,
        "figures": {
            "runs": runs,
            "min_s": round(min(walls), 2),
            "median_s": round(median, 2),
            "peak_mib": round(max(peaks), 1),
        },
        "target": f"median < {target_s:g} s" if target_s is not None else "none (--quick)",
        "ok": ok,
    }


def run(quick: bool) -> list[dict]:
    machines, networks = (1_000, 60) if quick else (10_000, 500)
    verify_target, migrate_target = (None, None) if quick else (10.0, 60.0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="netcfg-bench-verify-") as tmp:
        fleet = Path(tmp) / "fleet"
        subprocess.run(
            netcfg(
                "synth",
                "--machines",
                str(machines),
                "--networks",
                str(networks),
                "--seed",
                str(SEED),
                "--out",
                str(fleet),
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        merged = Path(tmp) / "one-router"
        subprocess.run(["cp", "-r", str(fleet), str(merged)], check=True)
        one_router(merged)
        size = f"{machines:,} machines / {networks} networks"
        rows.append(measure(f"verify, {size}", netcfg("verify", str(fleet)), verify_target, 0, RUNS))
        rows.append(
            measure(
                f"migrate --to flat, {size} (refused: the target drops flows)",
                netcfg("migrate", "--to", "flat", str(fleet), "--format", "json"),
                migrate_target,
                3,
                RUNS,
            )
        )
        rows.append(
            measure(
                f"migrate --to flat, {size}, one router, loose rp_filter (planned in full)",
                netcfg("migrate", "--to", "flat", str(merged), "--rp-filter", "loose", "--format", "json"),
                migrate_target,
                0,
                RUNS,
            )
        )
    return rows


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    rows = run(quick)
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        f = r["figures"]
        verdict = "ok" if r["ok"] else "MISSED"
        print(
            f"{r['name']:<{width}}  min {f['min_s']:>6.2f} s  median {f['median_s']:>6.2f} s  "
            f"peak {f['peak_mib']:>7.1f} MiB  ({f['runs']} runs)  {r['target']}: {verdict}"
        )
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
