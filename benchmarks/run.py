"""Run every benchmark of the project and print one table.

Runs each benchmarks/bench_*.py in name order, each in a process of its own (so one
module's data never counts in another's peak memory: the harness forks every case from
its module's process), and calls its run(quick=...). A module that fails becomes an
error row; the others still run. Always exits 0: the table (and --json) is the result,
judged by its `ok` column.

    python benchmarks/run.py [--quick] [--json FILE] [--against REV]

With --against REV, the benchmarks of git revision REV (checked out in a temporary
worktree, removed afterwards) run too, with REV's own code: each module there, then
here, so both see the same load; the table shows each row before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # runnable as a script from anywhere

from benchmarks.harness import Result  # noqa: E402

COLUMNS = ("benchmark", "case", "metric", "value", "target", "ok")


def modules(root: Path = HERE.parent) -> list[str]:
    return sorted(p.stem for p in (root / "benchmarks").glob("bench_*.py"))


# Runs in the child process: one module's rows as JSON on stdout.
_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
if len(sys.argv) > 4:
    # The baseline's own netcfg, installed there (its source tree may lack package data,
    # which this checkout's editable install would then lend it): imported first, so a
    # module putting its tree on sys.path finds it already loaded.
    sys.path.insert(0, sys.argv[4])
    import netcfg
import importlib
module = importlib.import_module("benchmarks." + sys.argv[2])
rows = module.run(quick=sys.argv[3] == "quick")
json.dump([r.as_dict() for r in rows], sys.stdout)
"""


def run_module(name: str, quick: bool, root: Path = HERE.parent) -> list[Result]:
    """One module's rows, run in a process of its own from the tree at `root` (with the
    netcfg installed beside a baseline's tree: this checkout's install must not lend it
    its templates or modules)."""
    site = root.parent / "site"
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), name, "quick" if quick else "full"]
        + ([str(site)] if root != HERE.parent else []),
        stdout=subprocess.PIPE,
        text=True,
    )
    if child.returncode != 0:
        raise RuntimeError(f"exited {child.returncode} (its error is above)")
    return [
        Result(**{**row, "value": float("nan") if row["value"] is None else row["value"]})
        for row in json.loads(child.stdout)
    ]


def run_all(quick: bool, baseline: Path | None = None) -> tuple[list[Result], list[Result]]:
    """(baseline rows, rows): with a baseline tree, each module runs there first and then
    here, one after the other, so both see the same machine load."""
    names = sorted(set(modules()) | (set(modules(baseline)) if baseline else set()))
    before: list[Result] = []
    rows: list[Result] = []
    for name in names:
        for root, found in ((baseline, before), (HERE.parent, rows)):
            if root is None or name not in modules(root):
                continue
            print(f"running {name}{' (baseline)' if root == baseline else ''} ...", file=sys.stderr, flush=True)
            try:
                found.extend(run_module(name, quick, root))
            except Exception as error:
                message = f"{type(error).__name__}: {error}".splitlines()[0][:120]
                found.append(Result(name, "error", message, float("nan"), "", False))
    return before, rows


@contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """`revision` checked out in a temporary git worktree, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="netcfg-bench-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(HERE.parent), "worktree", "add", "-q", "--detach", str(tree), revision], check=True
        )
        try:
            pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps"]
            subprocess.run([*pip, "--target", str(Path(tmp) / "site"), str(tree)], check=True)
            yield tree
        finally:
            subprocess.run(["git", "-C", str(HERE.parent), "worktree", "remove", "--force", str(tree)], check=False)


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


def side_by_side(before: list[Result], after: list[Result]) -> str:
    """One line per row of `after`, with the same row of `before` and after/before."""
    old = {(r.benchmark, r.case, r.metric): r.value for r in before}
    header = ("benchmark", "case", "metric", "before", "after", "after/before", "target", "ok")
    cells = [list(header)]
    for r in after:
        previous = old.get((r.benchmark, r.case, r.metric), float("nan"))
        ratio = r.value / previous if previous == previous and previous and r.value == r.value else float("nan")
        cells.append(
            [
                r.benchmark,
                r.case,
                r.metric,
                _number(previous),
                _number(r.value),
                _number(ratio),
                r.target,
                _cell(r, "ok"),
            ]
        )
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = []
    for n, line in enumerate(cells):
        lines.append(
            "  ".join(
                c.rjust(w) if 3 <= i <= 5 else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _number(value: float) -> str:
    if value != value:
        return "-"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run every netcfg benchmark and print one table.")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test of every benchmark")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the rows as JSON to FILE")
    parser.add_argument("--against", metavar="REV", help="also run git revision REV's benchmarks; show both")
    args = parser.parse_args(argv)
    if args.against:
        with worktree(args.against) as tree:
            before, rows = run_all(args.quick, tree)
        print(side_by_side(before, rows))
    else:
        _, rows = run_all(args.quick)
        print(table(rows))
    if args.json:
        write_json(args.json.resolve(), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
