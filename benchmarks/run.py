"""Run the benchmarks and print one table: each netcfg command beside its floor.

    python benchmarks/run.py [--quick] [--scale] [--only NAME] [--runs N] [--json FILE]

Every row is whole processes through the CLI, run N times (default 5, env
NETCFG_BENCH_RUNS; rows of a fraction of a second 21 at least), with its median and
minimum beside the baseline's, measured in the same run; the verdict is the median's.
--scale adds the 100,000-machine rows (tens of minutes). Benchmarks that need root
say so and give no rows. Everything is written under temporary directories removed at
the end. Exit 0 whatever the verdicts: the table (and --json) is the result, judged by
its last column.
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # runnable as a script from anywhere


def modules() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def _seconds(value: float) -> str:
    return f"{value:,.2f} s" if value < 100 else f"{value:,.0f} s"


def _rows(name: str, quick: bool, scale: bool) -> list[dict[str, Any]]:
    module = importlib.import_module(f"benchmarks.{name}")
    try:
        found = module.run(quick=quick, scale=scale)
    except TypeError:  # a module without --scale rows
        found = module.run(quick=quick)
    return [row if isinstance(row, dict) else row.as_dict() for row in found]


def _line(row: dict[str, Any]) -> str:
    if "command" not in row:  # a row of figures (benchmarks measuring more than time)
        figures = ", ".join(f"{k} {v}" for k, v in row.get("figures", {}).items())
        verdict = {True: "ok", False: "FAIL", None: ""}[row.get("ok")]
        return f"{row.get('name', '?')}: {figures} | {row.get('target', '')} | {verdict}"
    command = row["command"]
    text = (
        f"{row['benchmark']} | {row['case']} | median {_seconds(command['median_s'])} "
        f"(min {_seconds(command['min_s'])}, {command['runs']} runs, peak {command['peak_mib']:,.0f} MiB)"
    )
    if row["baseline"]:
        floor = row["baseline"]
        text += f" | {row['baseline_name']}: median {_seconds(floor['median_s'])} (min {_seconds(floor['min_s'])})"
        text += f" | ratio {row['ratio']:.2f}"
    if row["figures"]:
        text += " | " + ", ".join(f"{k} {v}" for k, v in row["figures"].items())
    verdict = {True: "ok", False: "FAIL", None: "-"}[row["ok"]]
    return text + (f" | target {row['target']}: {verdict}" if row["target"] else "")


def _cache_bytecode() -> None:
    """Time netcfg as an installed copy runs: from cached bytecode (pip compiles what it
    installs; an editable checkout caches on its first import). Under
    PYTHONDONTWRITEBYTECODE every process would compile netcfg's 24,000 lines again,
    0.1-0.2 s of each command that no user pays."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False
    compileall.compile_dir(HERE.parent / "netcfg", quiet=1)


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small cases only (a smoke test)")
    parser.add_argument("--scale", action="store_true", help="add the 100,000-machine rows")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="e.g. --only check")
    parser.add_argument("--runs", type=int, help="runs per command (default 5; sub-second rows 21 at least)")
    parser.add_argument("--json", metavar="FILE", help="also write every row as JSON")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only) - {m.removeprefix("bench_") for m in modules()} - set(modules()))
    if unknown:
        known = ", ".join(m.removeprefix("bench_") for m in modules())
        parser.error(f"no benchmark named {', '.join(unknown)} (known: {known})")
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.json and (Path(args.json).is_dir() or not os.access(Path(args.json).resolve().parent, os.W_OK)):
        parser.error(f"--json: cannot write {args.json} (a directory, or its directory is missing or read-only)")
    if args.runs:
        os.environ["NETCFG_BENCH_RUNS"] = str(args.runs)
    # Stopped with SIGTERM (a CI timeout, kill): unwind like Ctrl-C, so the benchmarks'
    # temporary directories and namespaces are removed on the way out.
    signal.signal(signal.SIGTERM, _terminated)
    _cache_bytecode()
    rows: list[dict[str, Any]] = []
    for name in modules():
        if args.only and name.removeprefix("bench_") not in args.only and name not in args.only:
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            found = _rows(name, args.quick, args.scale)
        except Exception as error:  # one failing benchmark must not hide the others
            found = [{"name": name, "figures": {"error": f"{type(error).__name__}: {error}"[:200]}, "ok": False}]
        for row in found:
            print(_line(row), flush=True)
        rows.extend(found)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
