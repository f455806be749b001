"""`netcfg rollout run` on bad input: exit 2, one line per problem, nothing started and
no journal written."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netcfg.cli import main

from .helpers import hot, maintenance, make_stepper, migration, write_plan

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def plan_file(tmp_path):
    return write_plan(
        tmp_path / "plan.json",
        waves=[hot("hot-0", ["web01"])],
        migrations=[migration("migrate-0", "vm1", "kvm01", "kvm02", ["hot-0"])],
        maint=[maintenance("maint-kvm01", "kvm01", ["migrate-0"])],
    )


def refused(capsys, *args: str) -> str:
    code = main(["rollout", "run", *args])
    captured = capsys.readouterr()
    assert code == 2, captured
    assert "Traceback" not in captured.err
    return captured.err


def test_a_plan_written_before_dependencies_is_refused(tmp_path, capsys):
    old = tmp_path / "old.json"
    old.write_text(
        json.dumps({"waves": [], "migrations": [], "maintenance": [{"host": "a", "start_s": 0, "end_s": 1}]})
    )
    err = refused(capsys, str(old), "--driver", "command", "--run", "maintenance=true")
    # At the entry's line and column: `{"waves": [], "migrations": [], "maintenance": [{` on line 1.
    assert "old.json:1:49: error: maintenance[0]: no `id` and `after`" in err
    assert "re-run `netcfg plan`" in err
    assert not (tmp_path / "old.json.journal").exists()


def test_a_cycle_is_refused_naming_its_steps(tmp_path, capsys):
    plan = write_plan(tmp_path / "plan.json", maint=[maintenance("a", "kvm1", ["b"]), maintenance("b", "kvm2", ["a"])])
    err = refused(capsys, str(plan), "--driver", "command", "--run", "maintenance=true")
    assert "dependency cycle: 'a' -> 'b' -> 'a'" in err


def test_a_kind_without_a_template_stops_everything_before_it_starts(plan_file, capsys, tmp_path):
    stepper = make_stepper(tmp_path / "steps")
    err = refused(capsys, str(plan_file), "--driver", "command", f"--run=hot={stepper.template()}")
    assert "--run: error: the plan has maintenance steps and no --run maintenance=TEMPLATE" in err
    assert "--run: error: the plan has migration steps and no --run migration=TEMPLATE" in err
    assert stepper.log() == [] and not (tmp_path / "plan.json.journal").exists()


def test_a_kind_the_plan_lacks_needs_no_template(tmp_path, capsys):
    plan = write_plan(tmp_path / "plan.json", maint=[maintenance("a", "kvm1")])
    assert main(["rollout", "run", str(plan), "--driver", "command", "--run", "maintenance=true"]) == 0
    capsys.readouterr()


def test_the_run_repeats_what_the_plan_left(tmp_path, capsys):
    plan = write_plan(tmp_path / "plan.json", maint=[maintenance("a", "kvm1")])
    data = json.loads(plan.read_text()) | {"decision": "block", "unscheduled": ["kvm02"]}
    plan.write_text(json.dumps(data))
    assert main(["rollout", "run", str(plan), "--driver", "command", "--run", "maintenance=true", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "warning: the seatbelt blocks this change until an approver approves it" in err
    assert "note: the plan leaves 1 host of the change unscheduled: kvm02" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--driver", "nosuch"], "--driver: error: unknown driver 'nosuch' (known: command, libvirt, qemu)"),
        (["--driver", "command", "--run", "reboot"], "--run: error: 'reboot': expected KIND=TEMPLATE"),
        (["--driver", "command", "--run", "hot=true", "--run", "hot=false"], "--run hot: error: given twice"),
        (["--driver", "command", "--connect", "x"], "--connect: error: is not an option of --driver command"),
        (["--driver", "qemu", "--jitter", "2:1"], "--jitter: error: expected LO:HI with 0 < LO <= HI <= 100, not '2:1"),
        (["--driver", "qemu", "--jitter", "1e300:1e300"], "--jitter: error: expected LO:HI with 0 < LO <= HI <= 100"),
        (["--driver", "command", "--format", "yaml"], "--format: error: unknown format 'yaml'"),
    ],
)
def test_bad_options(plan_file, capsys, args, message):
    assert message in refused(capsys, str(plan_file), *args)


def test_the_qemu_driver_needs_the_vm_lab(plan_file, capsys):
    if importlib.util.find_spec("netcfg.vmlab") is not None:
        pytest.skip("the VM lab is installed: its own tests run the qemu driver")
    err = refused(capsys, str(plan_file), "--driver", "qemu", "--lab", "lab1")
    assert "--driver qemu: error: the qemu driver needs the VM lab (netcfg vmlab)" in err


def test_a_missing_plan(tmp_path, capsys):
    err = refused(capsys, str(tmp_path / "nope.json"), "--driver", "command")
    assert "nope.json: error: cannot read the plan" in err


def test_a_json_file_that_is_not_a_plan_is_refused_and_nothing_is_written(tmp_path, capsys):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"decision": "pass", "touched": []}))
    err = refused(capsys, str(report), "--driver", "command", "--run", "maintenance=true")
    assert "not a plan file: no waves, migrations, maintenance" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


@pytest.mark.parametrize("step_id", ["a\x00b", "-oProxyCommand=touch /tmp/x", "two words", ""])
def test_a_step_id_that_is_not_a_name_is_refused(tmp_path, capsys, step_id):
    # {id} reaches argv: a control character, an option or a second word must not.
    plan = write_plan(tmp_path / "plan.json", maint=[maintenance(step_id, "kvm1")])
    err = refused(capsys, str(plan), "--driver", "command", "--run", "maintenance=echo {id}")
    assert "maintenance[0]: `id` must be a name (letters, digits" in err
    assert not (tmp_path / "plan.json.journal").exists()


def test_a_journal_that_is_not_a_regular_file_is_refused(plan_file, tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    run = ["--driver", "command", "--run", "hot=true", "--run", "migration=true", "--run", "maintenance=true"]
    for journal in ("/dev/null", str(fifo)):
        err = refused(capsys, str(plan_file), *run, "--journal", journal)
        assert f"{journal}: error: the journal must be a regular file" in err
    err = refused(capsys, str(plan_file), *run, "--journal", str(fifo), "--resume", "--dry-run")
    assert "cannot read the journal: not a regular file" in err
    err = refused(capsys, str(plan_file), *run, "--journal", str(tmp_path / "no" / "journal"))
    assert "cannot create the journal: its directory does not exist" in err


def test_the_plan_is_read_once_so_it_can_come_from_a_pipe(tmp_path):
    plan = write_plan(tmp_path / "plan.json", maint=[maintenance("a", "kvm1")])
    ran = subprocess.run(
        [sys.executable, "-m", "netcfg", "rollout", "run", "/dev/stdin", "--driver", "command"]
        + ["--run", "maintenance=true", "--journal", str(tmp_path / "j")],
        stdin=plan.open("rb"),
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0, ran.stderr
    assert '"plan_sha256": "' + hashlib.sha256(plan.read_bytes()).hexdigest() in (tmp_path / "j").read_text()


def test_libvirt_refuses_its_own_options_in_either_spelling(plan_file, capsys):
    for option in ("--domain=evil", "--desturi=qemu+ssh://x/system", "--live"):
        err = refused(
            capsys,
            str(plan_file),
            "--driver",
            "libvirt",
            "--run",
            "hot=true",
            "--run",
            "maintenance=true",
            "--migrate-option",
            option,
            "--dry-run",
        )
        assert "netcfg writes --live, --domain and --desturi itself" in err


def test_resuming_with_the_journal_of_another_plan_says_so_whatever_its_steps(tmp_path, capsys):
    first = write_plan(tmp_path / "first.json", maint=[maintenance("a", "kvm1")])
    journal = str(tmp_path / "journal")
    assert (
        main(["rollout", "run", str(first), "--driver", "command", "--run", "maintenance=true", "--journal", journal])
        == 0
    )
    other = write_plan(tmp_path / "other.json", maint=[maintenance("b", "kvm1")])
    err = refused(
        capsys, str(other), "--driver", "command", "--run", "maintenance=true", "--journal", journal, "--resume"
    )
    assert "the journal is of another plan" in err and "not in the plan" not in err


def test_a_reader_of_both_streams_leaving_early_does_not_change_the_exit_code(plan_file):
    # `rollout run ... 2>&1 | head -1`: the message after the table hit the closed pipe
    # and click turned the broken pipe into exit 1.
    netcfg = [sys.executable, "-m", "netcfg", "rollout", "run", str(plan_file), "--driver", "command", "--dry-run"]
    runs = ["--run", "hot=true", "--run", "migration=true", "--run", "maintenance=true"]
    with subprocess.Popen([*netcfg, *runs], stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as process:
        assert process.stdout is not None
        process.stdout.readline()
        process.stdout.close()
        assert process.wait(timeout=60) == 0


def test_the_plan_of_a_blocked_change_runs_with_a_warning(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    before, after = EXAMPLES / "add-public-network" / "before", EXAMPLES / "add-public-network" / "after"
    assert main(["plan", str(before), str(after), "--json", str(plan)]) == 0
    assert json.loads(plan.read_text())["decision"] == "block"
    capsys.readouterr()
    runs = ["--driver", "command", "--run", "hot=true", "--run", "maintenance=true", "--run", "migration=true"]
    assert main(["rollout", "run", str(plan), *runs, "--dry-run"]) == 0
    assert "warning: the seatbelt blocks this change until an approver approves it" in capsys.readouterr().err


def test_a_journal_path_that_is_a_link_is_refused_not_written_through(plan_file, tmp_path, capsys):
    outside = tmp_path / "elsewhere" / "journal"
    outside.parent.mkdir()
    (tmp_path / "plan.json.journal").symlink_to(outside)  # dangling: opening would create the target
    err = refused(
        capsys,
        str(plan_file),
        "--driver",
        "command",
        "--run",
        "hot=true",
        "--run",
        "migration=true",
        "--run",
        "maintenance=true",
    )
    assert "plan.json.journal: error: the journal is a symbolic link: netcfg does not write through it" in err
    assert not outside.exists()


def _routers_restarted(tmp_path: Path) -> tuple[Path, Path]:
    """The bundled inventory with a network added to mgm, both routers holding an
    address in it, under reconfigure: restart; and the plan of that change."""
    bundled = Path(__file__).resolve().parents[2] / "inventory"
    head = tmp_path / "head"
    import shutil

    shutil.copytree(bundled, head)
    networks = head / "networks.yaml"
    old = "  - {prefix: 10.40.0.0/24, segment: mgm, gateway: 10.40.0.1, private: true}\n"
    assert old in networks.read_text()
    networks.write_text(
        networks.read_text().replace(old, old + "  - {prefix: 10.41.0.0/24, segment: mgm, gateway: 10.41.0.1}\n")
    )
    routers = head / "machines" / "routers.yaml"
    text = routers.read_text().replace("mgm: {addresses: [10.40.0.1]}", "mgm: {addresses: [10.40.0.1, 10.41.0.1]}")
    routers.write_text(text.replace("mgm: {addresses: [10.40.0.2]}", "mgm: {addresses: [10.40.0.2, 10.41.0.2]}"))
    policy = head / "policy.yaml"
    policy.write_text(policy.read_text().replace("reconfigure: live", "reconfigure: restart"))
    plan_file = tmp_path / "plan.json"
    assert main(["plan", str(bundled), str(head), "--json", str(plan_file)]) == 0
    return head, plan_file


def test_a_plan_checked_against_the_inventory_runs_when_clean_and_is_refused_when_not(tmp_path, capsys):
    """Both routers' windows stripped of their dependencies: timed one after the other
    they look fine, but run as the graph allows they restart together. --inventory
    catches it before anything starts."""
    head, plan_file = _routers_restarted(tmp_path)
    capsys.readouterr()
    args = ["--driver", "command", "--inventory", str(head)]
    args += ["--run", "maintenance=true", "--run", "hot=true", "--run", "migration=true"]
    assert main(["rollout", "run", str(plan_file), *args]) == 0
    assert "clean in its own times and in 20 jittered replays" in capsys.readouterr().err

    plan = json.loads(plan_file.read_text())
    routers = [w for w in plan["maintenance"] if w["host"] in ("rt01", "rt02")]
    assert len(routers) == 2 and routers[1]["start_s"] >= routers[0]["end_s"]
    for window in routers:
        window["after"] = []
    stripped = tmp_path / "stripped.json"
    stripped.write_text(json.dumps(plan))
    assert main(["rollout", "run", str(stripped), *args]) == 3
    err = capsys.readouterr().err
    assert "VIOLATION routers" in err and "nothing started (exit 3)" in err
    assert not (tmp_path / "stripped.json.journal").exists()
