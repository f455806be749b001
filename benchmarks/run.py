"""Run every benchmark of the project and print one table.

Runs each benchmarks/bench_*.py in name order, each in a process of its own (so one
module's data never counts in another's peak memory: the harness forks every case from
its module's process), and calls its run(quick=...). A module that fails becomes an
error row; the others still run. Always exits 0: the table (and --json) is the result,
judged by its `ok` column.

    python benchmarks/run.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # runnable as a script from anywhere

from benchmarks.harness import Result  # noqa: E402

COLUMNS = ("benchmark", "case", "metric", "value", "target", "ok")


def modules() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


# Runs in the child process: one module's rows as JSON on stdout.
_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import importlib
module = importlib.import_module("benchmarks." + sys.argv[2])
rows = module.run(quick=sys.argv[3] == "quick")
json.dump([r.as_dict() for r in rows], sys.stdout)
"""


def run_module(name: str, quick: bool) -> list[Result]:
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(HERE.parent), name, "quick" if quick else "full"],
        stdout=subprocess.PIPE,
        text=True,
    )
    if child.returncode != 0:
        raise RuntimeError(f"exited {child.returncode} (its error is above)")
    return [Result(**row) for row in json.loads(child.stdout)]


def run_all(quick: bool) -> list[Result]:
    rows: list[Result] = []
    for name in modules():
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(run_module(name, quick))
        except Exception as error:
            message = f"{type(error).__name__}: {error}".splitlines()[0][:120]
            rows.append(Result(name, "error", message, float("nan"), "", False))
    return rows


def _cell(row: Result, column: str) -> str:
    value = getattr(row, column)
    if column == "ok":
        return {True: "ok", False: "FAIL", None: ""}[value]
    if column == "value":
        if value != value:  # NaN: the module failed
            return "-"
        return f"{value:,.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
    return str(value)


def table(rows: list[Result]) -> str:
    cells = [list(COLUMNS)] + [[_cell(r, c) for c in COLUMNS] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    right = {COLUMNS.index("value")}
    lines = []
    for n, line in enumerate(cells):
        padded = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
        lines.append("  ".join(padded).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(path: Path, rows: list[Result]) -> None:
    data = [{**r.as_dict(), "value": None if r.value != r.value else r.value} for r in rows]
    fd, tmp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run every netcfg benchmark and print one table.")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test of every benchmark")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the rows as JSON to FILE")
    args = parser.parse_args(argv)
    rows = run_all(args.quick)
    print(table(rows))
    if args.json:
        write_json(args.json.resolve(), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
