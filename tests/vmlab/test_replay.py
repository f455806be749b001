"""examples/incident-2017 on the VM lab, through `netcfg rollout run --driver qemu`: the
plan the old automation made loses VMs to the OOM killer; netcfg's plan loses none and
leaves every VM where it planned."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from netcfg.cli import main
from netcfg.inventory.load import load_inventory
from netcfg.vmlab.replay import planned_hosts
from tests.vmlab.conftest import lab_leftovers, lab_requirements

pytestmark = lab_requirements()

LAB = Path(__file__).resolve().parents[2] / "examples" / "incident-2017" / "lab"


def run_on_lab(plan_file: Path, name: str, run_dir: str, capsys) -> tuple[int, dict, dict]:
    """Up, rollout run, status, down: the run's exit code, its report, the lab's status."""
    assert main(["vmlab", "up", str(LAB / "inventory"), "--name", name]) == 0
    try:
        capsys.readouterr()
        code = main(["rollout", "run", str(plan_file), "--driver", "qemu", "--lab", name, "--format", "json"])
        report = json.loads(capsys.readouterr().out)
        assert main(["vmlab", "status", "--name", name, "--format", "json"]) == 0
        status = json.loads(capsys.readouterr().out)
    finally:
        assert main(["vmlab", "down", "--name", name]) == 0
    assert lab_leftovers(name, run_dir) == []
    return code, report, status


# migrate.py's words for a guest hung on its target, and for a target QEMU that exited;
# the last console line of a guest kernel that panicked there (QEMU runs -no-reboot, so
# it exits with its guest)
QEMU_BREAKS = ("on the target: no heartbeat", "the target QEMU exited", "Kernel panic", "relocation range")


def only_qemu_breaks(code: int, report: dict, status: dict) -> bool:
    """Whether all that went wrong is QEMU's: guests that hung on a target, or broke there
    after their first heartbeats (`status` finds them silent while their QEMU runs, or
    gone after their kernel panicked, which fails the next step that moves them), and
    nothing the OOM killer did."""
    failed = [s for s in report["steps"] if s["state"] == "failed"]
    lost = [v for v in status["vms"] if v["state"] == "lost"]
    if code != 0 and not failed:
        return False
    gone = ("its guest is silent", "its QEMU is gone; its log")
    broken = {v["name"] for v in lost if v["reason"].startswith(gone)}

    def qemus(detail: str) -> bool:
        if "OOM-killed" in detail:
            return False
        found_lost = re.match(r"(\S+) is lost \(its QEMU on \S+ is gone\)$", detail)
        return any(b in detail for b in QEMU_BREAKS) or (found_lost is not None and found_lost[1] in broken)

    return bool(failed or lost) and all(qemus(s["detail"]) for s in failed) and len(broken) == len(lost)


def test_the_naive_plan_loses_vms_and_netcfgs_plan_loses_none(tmp_path, lab_names, run_dir, capsys):
    naive = tmp_path / "naive-plan.json"
    shutil.copy(LAB / "naive-plan.json", naive)
    code, report, status = run_on_lab(naive, lab_names(), run_dir, capsys)
    lost = [v["name"] for v in status["vms"] if v["state"] == "lost"]
    assert lost, status
    assert code == 5 and report["failed"]  # the executor learns of it: the steps that lost VMs failed
    assert any("OOM-killed" in s["detail"] for s in report["steps"] if s["state"] == "failed")

    planned = tmp_path / "plan.json"
    assert main(["plan", str(LAB / "inventory"), str(LAB / "after"), "--json", str(planned)]) == 0
    plan = json.loads(planned.read_text())  # the planner writes the step graph
    code, report, status = run_on_lab(planned, lab_names(), run_dir, capsys)
    for attempt in range(2):
        if not only_qemu_breaks(code, report, status):
            break
        # QEMU 7.2 under TCG (docs/vmlab.md, "Known issues"): a migrated guest can hang or
        # panic on its target, on loaded cores twice in a row. That is QEMU's, not the
        # plan's: run it again, from a copy beside a journal of its own.
        print("QEMU broke a guest, the plan runs once more:", [v for v in status["vms"] if v["state"] == "lost"])
        again = tmp_path / f"again-{attempt}.json"
        shutil.copy(planned, again)
        code, report, status = run_on_lab(again, lab_names(), run_dir, capsys)
    assert code == 0, (
        [(s["id"], s["state"], s["detail"]) for s in report["steps"] if s["state"] != "done"],
        [(v["name"], v["host"], v["reason"]) for v in status["vms"] if v["state"] != "running"],
    )
    assert all(s["state"] == "done" for s in report["steps"])
    assert [v for v in status["vms"] if v["state"] != "running"] == []
    where = {v["name"]: v["host"] for v in status["vms"]}
    assert where == planned_hosts(plan, load_inventory(LAB / "inventory"))
