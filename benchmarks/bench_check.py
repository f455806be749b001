"""`netcfg check` on a 10,000-machine synthetic inventory with one network added to fe.

Rows:
- check end to end: load both directories, analyse, JSON report and Markdown summary
  (what CI runs, in process), seconds and peak MiB; target < 10 s;
- two full renders: `netcfg.designs.render` of every machine of both inventories (the
  inventories loaded beforehand, untimed);
- check / rendering both in full: the issue's ratio. Rendering an inventory in full is
  what `netcfg render` does from the same files check starts from: load, the model of
  every machine, its four formats (in memory, no disk); check must never be slower
  (target < 1). The same ratio against load + the semantic model only is printed too:
  the stricter comparison, informational;
- analysis: everything check does after loading (entity diff, dependency graph,
  render of the graph's candidates only, semantic diff, seatbelt, report), and its
  ratio to the bare renders of already-loaded inventories, for scale: under
  policy-routing three quarters of this fleet really does change, so the semantic diff
  of those machines costs about as much again as rendering them;
- naive check: the same end to end, rendering and diffing every machine, for scale.

    python benchmarks/bench_check.py [--quick]
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable as a script

from benchmarks.harness import Result, measure
from netcfg.designs import render
from netcfg.formats import FORMAT_NAMES, iter_rendered
from netcfg.gc_tuning import rare_full_collections
from netcfg.impact.analysis import analyse, analyse_inventories
from netcfg.impact.parallel import default_jobs
from netcfg.inventory.load import load_inventory
from netcfg.inventory.sources import load_pair, resolve
from netcfg.inventory.synth import write_synth
from netcfg.present.markdown import summary

NAME = "check"
SEED = 2017
# The last /28 of RFC 6598 space: synth only reaches 100.64.0.0/10 for fleets far larger
# than these, so it never overlaps a synthetic network.
NEW_NETWORK = "  - {prefix: 100.127.255.240/28, segment: fe}\n"  # not first of fe: needs no gateway
# (machines, networks, design, target seconds end to end). policy-routing is the
# fleet-wide case (every fe machine lists every fe network: about three quarters of the
# fleet is touched); flat is the same change where the graph leaves nothing to render.
CASES = [(10_000, 500, "policy-routing", 10.0), (10_000, 500, "flat", 10.0)]
QUICK_CASES = [(1_000, 60, "policy-routing", None), (1_000, 60, "flat", None)]


def _make(tmp: Path, machines: int, networks: int, design: str) -> tuple[Path, Path]:
    base, head = tmp / "base", tmp / "head"
    write_synth(base, machines, networks, SEED)
    policy = base / "policy.yaml"
    policy.write_text(policy.read_text().replace("design: policy-routing", f"design: {design}"))
    shutil.copytree(base, head)
    with open(head / "networks.yaml", "a", encoding="utf-8") as handle:
        handle.write(NEW_NETWORK)
    return base, head


def _check(base: str, head: str) -> tuple[str, int]:
    impact = analyse(base, head, jobs=default_jobs()).impact
    json.dumps(impact.to_json())
    summary(impact)
    return impact.decision.value, impact.hosts_touched


def _naive_check(base: str, head: str) -> tuple[str, int]:
    with rare_full_collections():  # the same loading as check: only rendering differs
        base_inv, head_inv, approvals = load_pair(resolve(base), resolve(head))
    impact = analyse_inventories(base_inv, head_inv, approvals=approvals, full_render=True, jobs=default_jobs()).impact
    json.dumps(impact.to_json())
    summary(impact)
    return impact.decision.value, impact.hosts_touched


def _render_both(base_inv, head_inv) -> int:
    return len(render(base_inv)) + len(render(head_inv))


def _load_and_render_both(base: str, head: str) -> int:
    return len(render(load_inventory(base))) + len(render(load_inventory(head)))


def _render_both_in_full(base: str, head: str) -> int:
    files = 0
    for source in (base, head):
        for _, rendered in iter_rendered(render(load_inventory(source)), FORMAT_NAMES):
            files += len(rendered)
    return files


def _analysis(base_inv, head_inv) -> int:
    impact = analyse_inventories(base_inv, head_inv, jobs=default_jobs()).impact
    json.dumps(impact.to_json())
    summary(impact)
    return impact.hosts_touched


def run(quick: bool = False) -> list[Result]:
    results = []
    for machines, networks, design, max_s in QUICK_CASES if quick else CASES:
        case = f"{machines:,} machines / {networks} networks, +1 network on fe, {design}"
        with tempfile.TemporaryDirectory(prefix="netcfg-bench-") as tmp:
            base, head = _make(Path(tmp), machines, networks, design)
            check_s, check_mib, (decision, touched) = measure(_check, str(base), str(head))
            naive_s, naive_mib, naive = measure(_naive_check, str(base), str(head))
            base_inv, head_inv = load_inventory(base), load_inventory(head)
            render_s, _, rendered = measure(_render_both, base_inv, head_inv)
            model_s, _, _ = measure(_load_and_render_both, str(base), str(head))
            full_s, _, _ = measure(_render_both_in_full, str(base), str(head))
            analysis_s, _, touched_again = measure(_analysis, base_inv, head_inv)
        if naive != (decision, touched) or touched_again != touched or rendered != 2 * machines:
            raise RuntimeError(f"{case}: inconsistent results {naive} {decision} {touched} {touched_again}")
        results += [
            Result(
                NAME,
                case,
                "check seconds",
                round(check_s, 3),
                f"< {max_s:g} s" if max_s else "",
                check_s < max_s if max_s else None,
            ),
            Result(NAME, case, "check peak MiB", round(check_mib, 1)),
            Result(NAME, case, f"machines touched ({decision})", touched),
            Result(NAME, case, "naive check seconds (render all)", round(naive_s, 3)),
            Result(NAME, case, "naive check peak MiB", round(naive_mib, 1)),
            Result(NAME, case, "check / naive check", round(check_s / naive_s, 3), "< 1", check_s < naive_s),
            Result(NAME, case, "render both in full seconds (load, model, 4 formats)", round(full_s, 3)),
            Result(NAME, case, "check / render both in full", round(check_s / full_s, 3), "< 1", check_s < full_s),
            Result(NAME, case, "load + model of both seconds", round(model_s, 3)),
            Result(NAME, case, "check / (load + model of both)", round(check_s / model_s, 3)),
            Result(NAME, case, "two full renders seconds (loaded)", round(render_s, 3)),
            Result(NAME, case, "analysis seconds (after load)", round(analysis_s, 3)),
            Result(NAME, case, "analysis / two full renders (loaded)", round(analysis_s / render_s, 3)),
        ]
    return results


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv[1:]):
        print(row)
