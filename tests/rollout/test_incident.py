"""examples/incident-2017 tells its story in numbers; these tests hold it to them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from netcfg.cli import main
from netcfg.inventory.load import load_inventory
from netcfg.rollout.simulate import simulate

from .conftest import INCIDENT


def test_the_naive_plan_overcommits_every_hypervisor(capsys):
    code = main(
        ["simulate", str(INCIDENT / "naive-plan.json"), "--inventory", str(INCIDENT / "after"), "--format", "json"]
    )
    assert code == 3
    result = json.loads(capsys.readouterr().out)
    over = result["overcommitted_hosts"]
    assert len(over) == 12 and max(over.values()) == 44 and sum(over.values()) == 528
    assert result["peak_parallel_evacuations"] == 12
    invariants = {v["invariant"] for v in result["violations"]}
    assert {"capacity", "evacuations", "migrations", "migration", "maintenance"} <= invariants


def test_the_planned_rollout_simulates_clean(tmp_path, capsys):
    plan_file = tmp_path / "plan.json"
    assert main(["plan", str(INCIDENT / "inventory"), str(INCIDENT / "after"), "--json", str(plan_file)]) == 0
    plan = json.loads(plan_file.read_text())
    assert len(plan["migrations"]) >= 144 and len(plan["maintenance"]) == 156
    assert plan["makespan_s"] <= 1.5 * plan["lower_bound_s"]
    capsys.readouterr()
    assert main(["simulate", str(plan_file), "--inventory", str(INCIDENT / "after")]) == 0
    assert "clean" in capsys.readouterr().out


def test_under_live_reconfiguration_nothing_is_evacuated(tmp_path):
    plan_file = tmp_path / "plan.json"
    assert main(["plan", str(INCIDENT / "inventory-live"), str(INCIDENT / "after-live"), "--json", str(plan_file)]) == 0
    plan = json.loads(plan_file.read_text())
    assert plan["migrations"] == [] and plan["maintenance"] == []
    assert len(plan["waves"]) >= 3 and sum(len(w["hosts"]) for w in plan["waves"]) == 156
    assert simulate(plan, load_inventory(INCIDENT / "after-live")).clean


def test_a_change_cannot_switch_itself_to_live(tmp_path, capsys):
    # The same network added together with the switch from restart to live: judged
    # under restart, so the hypervisors are evacuated as in the 2017 plan.
    plan_file = tmp_path / "plan.json"
    assert main(["plan", str(INCIDENT / "inventory"), str(INCIDENT / "after-live"), "--json", str(plan_file)]) == 0
    plan = json.loads(plan_file.read_text())
    assert len({m["from"] for m in plan["migrations"]}) == 12


def test_the_example_is_regenerated_byte_for_byte(tmp_path):
    copy = tmp_path / "incident"
    shutil.copytree(INCIDENT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, str(copy / "make_example.py")], check=True)
    for path in sorted(INCIDENT.rglob("*")):
        if path.is_file() and path.suffix in {".yaml", ".json"}:
            assert (copy / path.relative_to(INCIDENT)).read_bytes() == path.read_bytes(), path
