"""`netcfg validate` beside libyaml composing the same files: the YAML parser is the
floor, everything above it is netcfg's reading and checking."""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.harness import Row, Run, at_most, baseline, netcfg, time_pair
from benchmarks.inventories import synth

NAME = "validate"
LIMIT = 1.3


def run(quick: bool = False, scale: bool = False) -> list[Row]:
    cases = [(1_000, 60)] if quick else [(10_000, 500)] + ([(100_000, 5_000)] if scale else [])
    rows = []
    with tempfile.TemporaryDirectory(prefix="netcfg-bench-validate-") as tmp:
        for machines, networks in cases:
            inventory = synth(Path(tmp) / f"{machines}", machines, networks)
            command, floor = time_pair(
                Run(netcfg("validate", str(inventory))), Run(baseline("compose", str(inventory)))
            )
            case = f"{machines:,} machines / {networks:,} networks"
            ok = at_most(command.median / floor.median, LIMIT)
            rows.append(Row(NAME, case, command, "libyaml compose", floor, f"<= {LIMIT} x libyaml compose", ok))
    return rows
