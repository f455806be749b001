"""`netcfg check` of one network added to fe, beside loading both inventories (the floor:
a check must read both sides); and of a base and head with the same files, which must
cost next to nothing. Policy routing: every fe machine lists every fe network, so about
three quarters of the fleet changes (the 2017 case)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from benchmarks.harness import Row, Run, at_most, baseline, netcfg, short_runs, time_command, time_pair
from benchmarks.inventories import synth, with_network_added

NAME = "check"
LIMIT = 1.5  # x loading both inventories
LARGE = 100_000, 5_000
LARGE_SECONDS, LARGE_MIB = 90.0, 2048.0
IDENTICAL_SECONDS = 2.0


def run(quick: bool = False, scale: bool = False) -> list[Row]:
    cases = [(1_000, 60)] if quick else [(10_000, 500)] + ([LARGE] if scale else [])
    rows = []
    with tempfile.TemporaryDirectory(prefix="netcfg-bench-check-") as tmp:
        for machines, networks in cases:
            base = synth(Path(tmp) / "base", machines, networks)
            head = with_network_added(base, Path(tmp) / "head")
            same = Path(tmp) / "same"
            shutil.copytree(base, same)
            report = str(Path(tmp) / "report.json")
            case = f"{machines:,} machines / {networks:,} networks"
            command, floor = time_pair(
                Run(netcfg("check", "--base", str(base), "-i", str(head), "--report-json", report), ok=(3,)),
                Run(baseline("load", str(base), str(head))),
                short_runs() if quick else None,  # the 1,000-machine case takes a fraction of a second
            )
            ok = at_most(command.median / floor.median, LIMIT)
            target = f"<= {LIMIT} x loading both"
            if (machines, networks) == LARGE:
                target += f", < {LARGE_SECONDS:g} s, < {LARGE_MIB / 1024:g} GiB"
                ok = bool(ok) and command.median < LARGE_SECONDS and command.peak_mib < LARGE_MIB
            rows.append(Row(NAME, f"{case}, one network added", command, "loading both", floor, target, ok))
            identical = time_command(
                netcfg("check", "--base", str(base), "-i", str(same), "--report-json", report), short_runs()
            )
            rows.append(
                Row(
                    NAME,
                    f"{case}, base and head the same files",
                    identical,
                    target=f"< {IDENTICAL_SECONDS:g} s",
                    ok=identical.median < IDENTICAL_SECONDS,
                )
            )
            for side in (base, head, same):
                shutil.rmtree(side)
    return rows
