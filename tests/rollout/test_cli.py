"""`netcfg plan` and `netcfg simulate` end to end, through the real CLI and real files."""

from __future__ import annotations

import json
import re
from pathlib import Path

from netcfg.cli import main

from .conftest import INCIDENT

TIGHT = """\
segments:
  srv: {table: 3, priority: 30}
networks:
  - {prefix: 10.20.0.0/16, segment: srv, gateway: 10.20.0.1, private: true}
machines:
  kvm0: {kind: kvm-host, memory_gib: 64, nic_gbit: 10, interfaces: {srv: {addresses: [10.20.1.1]}}}
  kvm1: {kind: kvm-host, memory_gib: 64, nic_gbit: 10, interfaces: {srv: {addresses: [10.20.1.2]}}}
  kvm2: {kind: kvm-host, memory_gib: 64, nic_gbit: 10, interfaces: {srv: {addresses: [10.20.1.3]}}}
  vm0a: {kind: vm, host: kvm0, memory_gib: 24, dirty_mib_s: 10, interfaces: {srv: {addresses: [10.20.2.1]}}}
  vm0b: {kind: vm, host: kvm0, memory_gib: 24, dirty_mib_s: 10, interfaces: {srv: {addresses: [10.20.2.2]}}}
  vm1a: {kind: vm, host: kvm1, memory_gib: 16, dirty_mib_s: 10, interfaces: {srv: {addresses: [10.20.2.3]}}}
  vm2a: {kind: vm, host: kvm2, memory_gib: 24, dirty_mib_s: 10, interfaces: {srv: {addresses: [10.20.2.5]}}}
  vm2b: {kind: vm, host: kvm2, memory_gib: 24, dirty_mib_s: 10, interfaces: {srv: {addresses: [10.20.2.6]}}}
policy:
  reconfigure: restart
"""


def write_report(path: Path, hosts: dict[str, str]) -> Path:
    path.write_text(json.dumps({"hosts": [{"name": n, "change": c} for n, c in hosts.items()]}))
    return path


def test_plan_from_report_writes_json_and_html(tmp_path, capsys):
    (tmp_path / "inv.yaml").write_text(TIGHT)
    report = write_report(tmp_path / "report.json", {"kvm1": "disruptive", "vm0a": "hot", "vm2a": "hot"})
    code = main(
        [
            "plan",
            "--from-report",
            str(report),
            "--inventory",
            str(tmp_path / "inv.yaml"),
            "--json",
            str(tmp_path / "out" / "plan.json"),
            "--html",
            str(tmp_path / "plan.html"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "makespan" in captured.out and "lower bound" in captured.out and "simulator: clean" in captured.out
    data = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert {"waves", "migrations", "maintenance", "makespan_s", "lower_bound_s"} <= set(data)
    assert [m["vm"] for m in data["migrations"]] == ["vm1a"]
    assert [w["hosts"] for w in data["waves"]] == [["vm0a"], ["vm2a"]]
    assert "<svg" in (tmp_path / "plan.html").read_text()
    # Written atomically: no temporary file left behind.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["plan.json"]

    assert main(["simulate", str(tmp_path / "out" / "plan.json"), "--inventory", str(tmp_path / "inv.yaml")]) == 0
    out = capsys.readouterr().out
    assert "clean: no invariant violated" in out and "kvm1" in out


def test_no_safe_plan_exits_2_naming_host_and_memory(tmp_path, capsys):
    tight = TIGHT.replace(
        "  vm1a:",
        "  vm1b: {kind: vm, host: kvm1, memory_gib: 24, dirty_mib_s: 10, "
        "interfaces: {srv: {addresses: [10.20.2.4]}}}\n  vm1a:",
    )
    (tmp_path / "inv.yaml").write_text(tight)
    report = write_report(tmp_path / "report.json", {"kvm0": "disruptive"})
    assert main(["plan", "--from-report", str(report), "--inventory", str(tmp_path / "inv.yaml")]) == 2
    err = capsys.readouterr().err
    assert "inv.yaml:6:3" in err and "kvm0" in err and "8 GiB missing" in err
    assert "Traceback" not in err


def test_plan_needs_base_or_report(capsys):
    assert main(["plan"]) == 2
    assert "--from-report" in capsys.readouterr().err


def test_bad_report_and_bad_plan_files_exit_2(tmp_path, capsys):
    (tmp_path / "inv.yaml").write_text(TIGHT)
    (tmp_path / "r.json").write_text("{not json")
    assert main(["plan", "--from-report", str(tmp_path / "r.json"), "--inventory", str(tmp_path / "inv.yaml")]) == 2
    assert "r.json:1:2" in capsys.readouterr().err
    (tmp_path / "p.json").write_text('{"migrations": 3}')
    assert main(["simulate", str(tmp_path / "p.json"), "--inventory", str(tmp_path / "inv.yaml")]) == 2
    assert main(["simulate", str(tmp_path / "missing.json"), "--inventory", str(tmp_path / "inv.yaml")]) == 2


def test_simulate_json_format_and_exit_3_on_violation(tmp_path, capsys):
    (tmp_path / "inv.yaml").write_text(TIGHT)
    plan = {
        "waves": [],
        "maintenance": [{"host": "kvm0", "start_s": 0, "end_s": 60}],
        "migrations": [{"vm": "vm0a", "from": "kvm0", "to": "kvm2", "start_s": 0, "end_s": 100, "gib": 24}],
        "makespan_s": 100,
        "lower_bound_s": 0,
    }
    (tmp_path / "p.json").write_text(json.dumps(plan))
    code = main(["simulate", str(tmp_path / "p.json"), "--inventory", str(tmp_path / "inv.yaml"), "--format", "json"])
    assert code == 3
    result = json.loads(capsys.readouterr().out)
    assert not result["clean"]
    assert result["overcommitted_hosts"] == {"kvm2": 8.0}
    assert {v["invariant"] for v in result["violations"]} == {"capacity", "maintenance"}
    assert result["peak_gib"]["kvm2"] == {"peak": 72.0, "capacity": 64.0}


def test_plan_base_head_directories_through_impact_analysis(tmp_path, capsys):
    code = main(["plan", str(INCIDENT / "inventory"), str(INCIDENT / "after"), "--json", str(tmp_path / "p.json")])
    assert code == 0, capsys.readouterr().err
    assert main(["simulate", str(tmp_path / "p.json"), "--inventory", str(INCIDENT / "after")]) == 0


def test_plan_against_a_git_revision(tmp_path, monkeypatch, capsys):
    import shutil
    import subprocess

    repo = tmp_path / "repo"
    shutil.copytree(INCIDENT / "inventory-live", repo / "inventory")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "inventory"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "before"], check=True)
    shutil.copy(INCIDENT / "after-live" / "networks.yaml", repo / "inventory" / "networks.yaml")
    monkeypatch.chdir(repo)
    assert main(["plan", "HEAD", "--json", "plan.json"]) == 0, capsys.readouterr().err
    plan = json.loads((repo / "plan.json").read_text())
    assert plan["migrations"] == [] and sum(len(w["hosts"]) for w in plan["waves"]) == 156


def test_no_change_is_an_empty_plan(capsys):
    assert main(["plan", str(INCIDENT / "inventory"), str(INCIDENT / "inventory")]) == 0
    assert "makespan 0 s" in capsys.readouterr().out


def test_simulate_writes_the_page_of_a_bad_plan(tmp_path, capsys):
    page = tmp_path / "naive.html"
    code = main(
        ["simulate", str(INCIDENT / "naive-plan.json"), "--inventory", str(INCIDENT / "after"), "--html", str(page)]
    )
    assert code == 3
    out = capsys.readouterr().out
    assert "12 hosts overcommitted, by up to 44 GiB (total 528 GiB)" in out
    assert "kvm01" in out and "OVER" in out
    html = page.read_text()
    assert html.count("data-host=") == 12 and "invariant violations" in html


def test_plan_shows_the_impact_decision(tmp_path, capsys):
    assert main(["plan", str(INCIDENT / "inventory"), str(INCIDENT / "after")]) == 0
    assert "impact: block, 156 of 156 machines touched" in capsys.readouterr().out


def test_plan_files_are_written_even_when_stdout_is_closed_early(tmp_path):
    # `netcfg plan ... --json f | head -1`: the reader goes away before the summary is
    # printed; the files asked for must still be written.
    import subprocess
    import sys

    (tmp_path / "inv.yaml").write_text(TIGHT)
    report = write_report(tmp_path / "report.json", {"kvm1": "disruptive", "vm0a": "hot", "vm2a": "hot"})
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netcfg",
            "plan",
            "--from-report",
            str(report),
            "--inventory",
            str(tmp_path / "inv.yaml"),
            "--json",
            str(tmp_path / "plan.json"),
            "--html",
            str(tmp_path / "plan.html"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[2],
    )
    proc.stdout.close()  # before the interpreter has even started: every print fails
    proc.wait(timeout=120)
    assert json.loads((tmp_path / "plan.json").read_text())["maintenance"]
    assert "<svg" in (tmp_path / "plan.html").read_text()


def test_simulate_exits_3_even_when_stdout_is_closed_early():
    # rich turns a broken pipe into SystemExit(1): a violation must still exit 3.
    import subprocess
    import sys

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netcfg",
            "simulate",
            str(INCIDENT / "naive-plan.json"),
            "--inventory",
            str(INCIDENT / "after"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[2],
    )
    proc.stdout.close()
    assert proc.wait(timeout=120) == 3


def test_plan_with_an_unknown_design_is_a_usage_error(capsys):
    before, after = INCIDENT / "inventory", INCIDENT / "after"
    assert main(["plan", str(before), str(after), "--design", "bogus"]) == 2
    assert main(["plan", str(before), str(INCIDENT / "after-live"), "--design", "flat"]) == 0


def test_simulate_counts_in_whole_numbers_with_their_plural(capsys):
    incident = Path(__file__).resolve().parents[2] / "examples" / "incident-2017"
    assert main(["simulate", str(incident / "naive-plan.json"), "-i", str(incident / "inventory")]) == 3
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("VIOLATION")]
    evacuations = [line for line in lines if line.split()[1] == "evacuations"]
    assert evacuations and all(re.search(r"worst \+\d+ hosts? at", line) for line in evacuations), evacuations
    assert all(".0 host" not in line and ".0 migration" not in line for line in lines)


def test_machines_the_change_adds_are_never_evacuated(tmp_path, capsys):
    # A fleet being created: nothing runs yet, so no VM is migrated anywhere.
    empty = tmp_path / "empty.yaml"
    empty.write_text("machines: {}\n")
    inventory = Path(__file__).resolve().parents[2] / "inventory"
    plan = tmp_path / "plan.json"
    report = tmp_path / "report.json"
    assert main(["plan", str(empty), str(inventory), "--json", str(plan)]) == 0
    data = json.loads(plan.read_text())
    assert data["migrations"] == [] and data["maintenance"] == []
    assert sum(len(w["hosts"]) for w in data["waves"]) > 100
    # The same from the report `check` wrote.
    capsys.readouterr()
    main(["impact", str(empty), str(inventory), "--format", "json"])
    report.write_text(capsys.readouterr().out)
    assert main(["plan", "--from-report", str(report), "-i", str(inventory), "--json", str(plan)]) == 0
    assert json.loads(plan.read_text())["migrations"] == []
