"""examples/incident-2017 on the VM lab: the plan the old automation made loses VMs to the
OOM killer; netcfg's plan, executed in dependency order, loses none and leaves every VM
where it planned."""

from __future__ import annotations

from pathlib import Path

from netcfg.cli.settings import vmlab_cache
from netcfg.files import read_json
from netcfg.inventory.load import load_inventory
from netcfg.rollout.pipeline import plan_change
from netcfg.vmlab.replay import run_on_lab
from tests.vmlab.conftest import lab_requirements

pytestmark = lab_requirements()

LAB = Path(__file__).resolve().parents[2] / "examples" / "incident-2017" / "lab"


def test_the_naive_plan_loses_vms_and_netcfgs_plan_loses_none(lab_names, run_dir):
    inventory = load_inventory(LAB / "inventory")

    naive = run_on_lab(
        inventory, read_json(LAB / "naive-plan.json", "plan"), lab_names(), run_dir=run_dir, cache_dir=vmlab_cache()
    )
    assert naive.lost, naive.to_dict()
    assert naive.replay.failed  # the executor learns of it: the steps that lost VMs failed

    plan = plan_change(str(LAB / "inventory"), str(LAB / "after")).plan.to_dict()
    planned = run_on_lab(inventory, plan, lab_names(), run_dir=run_dir, cache_dir=vmlab_cache())
    assert planned.lost == (), planned.to_dict()
    assert not planned.replay.failed and not planned.replay.stopped, planned.to_dict()
    assert planned.misplaced == {}, planned.to_dict()
    assert len(planned.replay.results) == planned.steps
