"""What `netcfg rollout run` costs per step, beyond the step's own work.

Whole `netcfg` processes (sys.executable -m netcfg), the command driver running `true`
for every step:
- a chain of N maintenance steps, each waiting for the one before (every step's start,
  end, two journal lines synced to disk and the wake-up in between, one after another);
- N independent steps (all start in one pass, then end);
- an empty plan: the process alone (start-up, reading the plan, the summary).

Overhead per step = (run of N steps - empty run) / N - what spawning and waiting for
`true` costs this benchmark itself (measured the same way, without netcfg). Target: a
chain step costs at most 25 ms more than its own work, 1 % of the few seconds the
shortest step of a real plan lasts.

    python benchmarks/bench_executor.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable as a script

from benchmarks.harness import run_once

TARGET_MS = 25.0


def plan(steps: int, chain: bool) -> dict[str, Any]:
    maintenance = [
        {"id": f"m{n}", "after": [f"m{n - 1}"] if chain and n else [], "host": f"h{n}", "start_s": n, "end_s": n + 1}
        for n in range(steps)
    ]
    return {"waves": [], "migrations": [], "maintenance": maintenance, "makespan_s": float(steps)}


def time_run(directory: Path, data: dict[str, Any]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one `rollout run` of `data`."""
    plan_file = directory / "plan.json"
    plan_file.write_text(json.dumps(data))
    journal = directory / "plan.json.journal"
    journal.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "netcfg", "rollout", "run", str(plan_file), "--driver", "command"]
    argv += ["--run", "maintenance=true", "--quiet", "--format", "json"]
    done = run_once(argv)
    if done.returncode != 0:
        raise RuntimeError(f"rollout run failed ({done.returncode}): {done.stderr[-500:]}")
    summary = json.loads(done.stdout)
    assert len(summary["steps"]) == len(data["maintenance"])
    assert all(s["state"] == "done" for s in summary["steps"])
    return done.seconds, done.peak_mib


def time_true(count: int) -> float:
    """Spawning and waiting for `true` `count` times, one after another, in this process."""
    start = time.perf_counter()
    for _ in range(count):
        subprocess.run(["true"], check=True, stdin=subprocess.DEVNULL, start_new_session=True)
    return time.perf_counter() - start


def run(quick: bool) -> list[dict[str, Any]]:
    steps = 50 if quick else 200
    repeats = 5
    samples: dict[str, list[float]] = {"empty": [], "chain": [], "independent": [], "true": []}
    peaks: dict[str, float] = {"chain": 0.0, "independent": 0.0}
    with tempfile.TemporaryDirectory(prefix="netcfg-bench-executor-") as tmp:
        directory = Path(tmp)
        time_run(directory, plan(steps, chain=True))  # warm the page cache, not counted
        for _ in range(repeats):  # interleaved: a burst of load spreads over every case
            samples["empty"].append(time_run(directory, plan(0, chain=True))[0])
            for case, chain in (("chain", True), ("independent", False)):
                seconds, peak = time_run(directory, plan(steps, chain=chain))
                samples[case].append(seconds)
                peaks[case] = max(peaks[case], peak)
            samples["true"].append(time_true(steps))
    empty = statistics.median(samples["empty"])
    own = statistics.median(samples["true"]) / steps

    def per_step(case: str) -> tuple[float, float]:
        values = [((s - empty) / steps - own) * 1000 for s in samples[case]]
        return min(values), statistics.median(values)

    rows = []
    for case, what in (("chain", "one after another"), ("independent", "all at once")):
        low, median = per_step(case)
        ok = median <= TARGET_MS if case == "chain" else True
        rows.append(
            {
                "name": f"rollout run: {steps} `true` steps, {what}",
                "figures": {
                    "overhead_ms_per_step_min": round(low, 2),
                    "overhead_ms_per_step_median": round(median, 2),
                    "run_s_median": round(statistics.median(samples[case]), 3),
                    "empty_plan_s_median": round(empty, 3),
                    "true_ms_each": round(own * 1000, 2),
                    "peak_rss_mib": round(peaks[case], 1),
                    "runs": repeats,
                },
                "target": f"<= {TARGET_MS:g} ms per step (median)" if case == "chain" else "none (for comparison)",
                "ok": ok,
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 steps instead of 200")
    args = parser.parse_args()
    rows = run(args.quick)
    for row in rows:
        f = row["figures"]
        verdict = "ok" if row["ok"] else "MISSED"
        print(
            f"{row['name']}: overhead per step min {f['overhead_ms_per_step_min']:.1f} ms, "
            f"median {f['overhead_ms_per_step_median']:.1f} ms (run {f['run_s_median']:.2f} s, empty plan "
            f"{f['empty_plan_s_median']:.2f} s, `true` {f['true_ms_each']:.2f} ms, peak {f['peak_rss_mib']:.0f} MiB, "
            f"{f['runs']} runs); target {row['target']}: {verdict}"
        )
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
