"""`netcfg plan` and `netcfg simulate` end to end, through the real CLI and real files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from netcfg.cli import main

from .conftest import INCIDENT, REPO

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


def one_entry_a_line(data: dict[str, object], key: str) -> tuple[str, int]:
    """`data` as JSON with each entry of the list `key` on a line of its own (indented by
    two), and the line of its first entry."""
    lines = ["{"]
    first = 0
    for n, (name, value) in enumerate(data.items()):
        comma = "," if n < len(data) - 1 else ""
        if name == key and isinstance(value, list):
            lines.append(f"{json.dumps(name)}: [")
            first = len(lines) + 1
            lines += [f"  {json.dumps(item)}{',' if i < len(value) - 1 else ''}" for i, item in enumerate(value)]
            lines.append(f"]{comma}")
        else:
            lines.append(f"{json.dumps(name)}: {json.dumps(value)}{comma}")
    return "\n".join([*lines, "}"]) + "\n", first


def test_bad_entries_of_a_report_or_a_plan_are_named_at_their_line(tmp_path, capsys):
    (tmp_path / "inv.yaml").write_text(TIGHT)
    inventory = ["--inventory", str(tmp_path / "inv.yaml")]
    hosts = [{"name": "kvm1", "change": "disruptive"}, {"name": "vm0a", "change": ["hot"]}, {"change": "hot"}]
    text, first = one_entry_a_line({"hosts": hosts}, "hosts")
    report = tmp_path / "report.json"
    report.write_text(text)
    assert main(["plan", "--from-report", str(report), *inventory]) == 2
    err = capsys.readouterr().err
    assert f"report.json:{first + 1}:3: error: hosts[1]: 'vm0a': change '[\\'hot\\']' is neither" in err
    assert f"report.json:{first + 2}:3: error: hosts[2]: not an impact report's host: no name" in err
    assert "Traceback" not in err
    write_report(report, {"kvm1": "disruptive", "vm0a": "disruptive", "vm2b": "disruptive"})
    assert main(["plan", "--from-report", str(report), *inventory, "--json", str(tmp_path / "plan.json")]) == 0
    plan = json.loads((tmp_path / "plan.json").read_text())
    last = len(plan["maintenance"]) - 1
    plan["maintenance"][last]["id"] = 42
    plan["maintenance"][0]["after"] = ["nowhere"]
    text, first = one_entry_a_line(plan, "maintenance")
    (tmp_path / "bad.json").write_text(text)
    capsys.readouterr()
    assert main(["simulate", str(tmp_path / "bad.json"), *inventory]) == 2
    err = capsys.readouterr().err
    assert f"bad.json:{first + last}:3: error: maintenance[{last}]: id must be a non-empty string" in err, err
    assert f"bad.json:{first}:3: error: maintenance[0]: after names 'nowhere'" in err, err
    # The executor's reader stops at the ids: `after` names ids.
    assert main(["rollout", "run", str(tmp_path / "bad.json"), "--driver", "command", "--dry-run"]) == 2
    assert f"bad.json:{first + last}:3: error: maintenance[{last}]: `id` must be a name" in capsys.readouterr().err


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


# --- the plan as a graph, replayed with jitter ---------------------------------------


def all_disruptive_report(path: Path, inventory_dir: Path, digest: bool = True) -> Path:
    """A report as `check` writes it, every machine of the inventory disruptive."""
    from netcfg.inventory.digest import inventory_digest
    from netcfg.inventory.load import load_inventory

    inventory = load_inventory(inventory_dir)
    report = {"hosts": [{"name": n, "change": "disruptive"} for n in inventory.machines]}
    if digest:
        report["inventory_digest"] = inventory_digest(inventory)
    path.write_text(json.dumps(report))
    return path


def jitter(plan: Path, inventory: Path, *extra: str) -> list[str]:
    return ["simulate", str(plan), "-i", str(inventory), "--jitter", "0.3:3.0", "--runs", "200", "--seed", "1", *extra]


def test_the_bundled_fleet_all_disruptive_stays_clean_under_jitter(tmp_path, capsys):
    inventory = Path(__file__).resolve().parents[2] / "inventory"
    report = all_disruptive_report(tmp_path / "report.json", inventory)
    plan = tmp_path / "plan.json"
    assert main(["plan", "--from-report", str(report), "-i", str(inventory), "--json", str(plan)]) == 0
    assert json.loads(plan.read_text())["migrations"]
    capsys.readouterr()
    assert main(jitter(plan, inventory)) == 0
    out = capsys.readouterr().out
    assert "clean: no invariant violated in any of 200 runs" in out
    assert re.search(r"makespan: planned \d+ h \d\d min .*p50 .*\(\d\.\d\d x\), p95 .*\(\d\.\d\d x\)", out), out


def test_the_incident_stays_clean_under_jitter_and_says_so_in_json(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    assert main(["plan", str(INCIDENT / "inventory"), str(INCIDENT / "after"), "--json", str(plan)]) == 0
    capsys.readouterr()
    assert main(jitter(plan, INCIDENT / "after", "--format", "json")) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["clean"] and result["violations"] == 0 and result["runs"] == 200
    assert result["jitter"] == {"low": 0.3, "high": 3.0} and result["seed"] == 1
    spans = result["makespan_s"]
    assert spans["planned"] == json.loads(plan.read_text())["makespan_s"]
    assert spans["min"] <= spans["p50"] <= spans["p95"] <= spans["max"]
    assert result["p95_ratio"] == round(spans["p95"] / spans["planned"], 4)


@pytest.mark.parametrize("seed", [1, 2])
def test_synth_fleets_stay_clean_under_jitter(tmp_path, capsys, seed):
    fleet = tmp_path / "fleet"
    assert main(["synth", "--machines", "400", "--networks", "12", "--seed", str(seed), "--out", str(fleet)]) == 0
    report = all_disruptive_report(tmp_path / "report.json", fleet)
    plan = tmp_path / "plan.json"
    assert main(["plan", "--from-report", str(report), "-i", str(fleet), "--json", str(plan)]) == 0
    assert len({m["from"] for m in json.loads(plan.read_text())["migrations"]}) >= 10
    capsys.readouterr()
    assert main(jitter(plan, fleet)) == 0, capsys.readouterr().out
    assert "clean: no invariant violated in any of 200 runs" in capsys.readouterr().out


def test_a_plan_with_one_dependency_removed_is_caught(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    assert main(["plan", str(INCIDENT / "inventory"), str(INCIDENT / "after"), "--json", str(plan)]) == 0
    data = json.loads(plan.read_text())
    by_id = {m["id"]: m for m in data["migrations"]}
    window = next(w for w in data["maintenance"] if w["host"] == "kvm03")
    last_out = next(a for a in window["after"] if a in by_id and by_id[a]["from"] == "kvm03")
    window["after"].remove(last_out)  # kvm03 may now be maintained before that VM has left
    plan.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(jitter(plan, INCIDENT / "after")) == 3
    out = capsys.readouterr().out
    assert re.search(r"VIOLATION maintenance +kvm03 .*enters maintenance holding", out), out
    assert re.search(r"\d+ violations? in \d+ of 200 runs", out)
    # Without --jitter the file's times still keep every invariant and respect what is
    # left of the graph, but the graph itself, run at the planned durations, does not.
    capsys.readouterr()
    assert main(["simulate", str(plan), "-i", str(INCIDENT / "after")]) == 3
    out = capsys.readouterr().out
    assert re.search(r"VIOLATION maintenance +kvm03 .*\(when the graph runs at the planned durations\)", out), out


ADDED_NETWORK = REPO / "examples" / "add-public-network"


def planned_with_waves_freed(tmp_path: Path, waves: slice) -> tuple[Path, Path]:
    """The plan of examples/add-public-network with the `after` of `waves` removed, and
    the inventory it applies to."""
    plan, after = tmp_path / "plan.json", ADDED_NETWORK / "after"
    assert main(["plan", str(ADDED_NETWORK / "before"), str(after), "--json", str(plan)]) == 0
    data = json.loads(plan.read_text())
    for wave in data["waves"][waves]:
        wave["after"] = []
    plan.write_text(json.dumps(data))
    return plan, after


def test_hot_waves_stripped_of_their_dependencies_are_caught_by_the_jittered_replay(tmp_path, capsys):
    plan, after = planned_with_waves_freed(tmp_path, slice(None))  # no canary, no soak
    capsys.readouterr()
    # Its times still keep the waves apart; its graph, run at the planned durations, does not.
    assert main(["simulate", str(plan), "-i", str(after)]) == 3
    assert "at once hold every host of the change (when the graph runs at the planned durations)" in (
        capsys.readouterr().out
    )
    assert main(jitter(plan, after)) == 3
    assert "at once hold every host of the change" in capsys.readouterr().out


def test_one_hot_wave_freed_of_the_wave_before_it_is_caught(tmp_path, capsys):
    plan, after = planned_with_waves_freed(tmp_path, slice(1, 2))  # wave 1 may start beside the canary
    capsys.readouterr()
    assert main(["simulate", str(plan), "-i", str(after)]) == 3
    out = capsys.readouterr().out
    assert "wave 1 starts at 0 s, before wave 0 has ended and soaked" in out
    assert "wave 2 starts" not in out
    assert main(jitter(plan, after)) == 3
    assert "before wave 0 has ended and soaked" in capsys.readouterr().out


ONE_HOST = """\
segments:
  sa: {table: 10, priority: 100}
networks:
  - {prefix: 10.0.0.0/16, segment: sa, gateway: 10.0.0.1, private: true}
policy:
  reconfigure: restart
  rollout: {max_parallel_evacuations: 1, max_migrations_per_host: 1}
machines:
  hv00: {kind: kvm-host, memory_gib: 64, nic_gbit: 1, interfaces: {sa: {addresses: [10.0.1.1]}}}
  hv01: {kind: kvm-host, memory_gib: 64, nic_gbit: 1, interfaces: {sa: {addresses: [10.0.1.2]}}}
  vm000: {kind: vm, host: hv00, memory_gib: 8, dirty_mib_s: 5, interfaces: {sa: {addresses: [10.0.3.1]}}}
  vm001: {kind: vm, host: hv00, memory_gib: 8, dirty_mib_s: 5, interfaces: {sa: {addresses: [10.0.3.2]}}}
  vm002: {kind: vm, host: hv00, memory_gib: 8, dirty_mib_s: 5, interfaces: {sa: {addresses: [10.0.3.3]}}}
  vm003: {kind: vm, host: hv00, memory_gib: 8, dirty_mib_s: 5, interfaces: {sa: {addresses: [10.0.3.4]}}}
  vm004: {kind: vm, host: hv00, memory_gib: 8, dirty_mib_s: 5, interfaces: {sa: {addresses: [10.0.3.5]}}}
"""


def test_a_migration_freed_of_its_vms_own_maintenance_is_caught_whatever_the_draw(tmp_path, capsys):
    # Only a rare draw (0.1 % of runs at 0.3:3) times vm002's window across its
    # migration once the edge is gone; the graph itself says they may overlap.
    (tmp_path / "inv.yaml").write_text(ONE_HOST)
    disruptive = {f"vm00{i}": "disruptive" for i in range(5)} | {"hv00": "disruptive"}
    report = write_report(tmp_path / "report.json", disruptive)
    plan = tmp_path / "plan.json"
    assert main(["plan", "--from-report", str(report), "-i", str(tmp_path / "inv.yaml"), "--json", str(plan)]) == 0
    data = json.loads(plan.read_text())
    window = next(w for w in data["maintenance"] if w["host"] == "vm002")
    migration = next(m for m in data["migrations"] if m["vm"] == "vm002")
    edge = migration if window["id"] in migration["after"] else window
    edge["after"].remove((window if edge is migration else migration)["id"])
    plan.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["simulate", str(plan), "-i", str(tmp_path / "inv.yaml")]) == 3
    out = capsys.readouterr().out
    assert re.search(r"VIOLATION maintenance +vm002 .*does not wait for .*some durations run the two together", out)
    assert out.count("VIOLATION") == 1
    assert main(jitter(plan, tmp_path / "inv.yaml")) == 3


def test_a_plan_timed_before_its_dependencies_or_not_a_graph_is_caught_by_the_exact_replay(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    assert main(["plan", str(INCIDENT / "inventory"), str(INCIDENT / "after"), "--json", str(plan)]) == 0
    data = json.loads(plan.read_text())
    early, cyclic = tmp_path / "early.json", tmp_path / "cyclic.json"
    window = next(w for w in data["maintenance"] if w["host"] == "kvm03")
    early.write_text(json.dumps(data).replace(json.dumps(window), json.dumps(window | {"start_s": 0.0})))
    data["migrations"][0]["after"] = [data["maintenance"][-1]["id"]]
    cyclic.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["simulate", str(early), "-i", str(INCIDENT / "after")]) == 3
    assert f"{window['id']} starts at 0 s, before" in capsys.readouterr().out
    assert main(["simulate", str(cyclic), "-i", str(INCIDENT / "after")]) == 2
    assert "the dependencies form a cycle" in capsys.readouterr().err


@pytest.mark.parametrize(
    "value, message",
    [
        ("3:0.3", "LO (3) is above HI (0.3)"),
        ("0:1", "the factors must be above 0"),
        ("-1:2", "the factors must be above 0"),
        ("fast", "expected LO:HI, two numbers such as 0.3:3.0, not 'fast'"),
        ("1", "expected LO:HI"),
        ("1:x", "expected LO:HI"),
        ("nan:1", "expected LO:HI"),
        ("1:inf", "expected LO:HI"),
        ("1:1e308", "the factors must lie within 1/1000 and 1000"),
        ("1e-9:1", "the factors must lie within 1/1000 and 1000"),
    ],
)
def test_bad_jitter_is_exit_2_with_a_clear_message(tmp_path, capsys, value, message):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"waves": [], "migrations": [], "maintenance": []}))
    assert main(["simulate", str(plan), "-i", str(INCIDENT / "after"), f"--jitter={value}"]) == 2
    err = capsys.readouterr().err
    assert f"--jitter: error: {message}" in err and "Traceback" not in err


def simulate_changed(tmp_path, capsys, where: tuple[str, int, str], value, options: list[str]) -> tuple[int, str]:
    """Exit code and stderr of `simulate` of the incident's plan with one time changed:
    `where` is (kind, index, field)."""
    planned = tmp_path / "planned.json"
    if not planned.exists():
        assert main(["plan", str(INCIDENT / "inventory"), str(INCIDENT / "after"), "--json", str(planned)]) == 0
    changed = json.loads(planned.read_text())
    kind, index, field = where
    changed[kind][index][field] = value
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(changed))
    capsys.readouterr()
    code = main(["simulate", str(plan), "-i", str(INCIDENT / "after"), *options])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("jittered", [False, True])
def test_times_too_large_to_replay_are_exit_2_not_an_overflow(tmp_path, capsys, jittered):
    options = ["--jitter", "1:2", "--runs", "1"] if jittered else []
    for huge in (1.5e308, 10**400):
        code, err = simulate_changed(tmp_path, capsys, ("maintenance", -1, "end_s"), huge, options)
        assert code == 2
        assert re.search(r"plan\.json:1:\d+: error: (not a plan file: )?maintenance\[\d+\]", err), err
        assert "Traceback" not in err and "internal error" not in err


@pytest.mark.parametrize("jittered", [False, True])
def test_a_step_ending_before_it_starts_or_timed_in_text_is_exit_2(tmp_path, capsys, jittered):
    """Jittered, a negative duration let its dependants start before it: "clean", exit 0."""
    options = ["--jitter", "0.3:3", "--runs", "5"] if jittered else []
    for field, value in (("end_s", -5), ("start_s", "0")):
        code, err = simulate_changed(tmp_path, capsys, ("migrations", 0, field), value, options)
        assert code == 2
        assert "end" in err and "before" in err and "migrations[0]" in err


def test_a_plan_of_the_wrong_shape_or_with_unprintable_names_is_exit_2(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    for data, message in (
        ({"waves": [], "migrations": {}, "maintenance": []}, "not a plan file: migrations is not a list"),
        ({"waves": [], "migrations": [], "maintenance": ""}, "not a plan file: maintenance is not a list"),
        (
            {"waves": [], "migrations": [], "maintenance": [{"host": "\x1b[31mRED", "start_s": 0, "end_s": 1}]},
            "not a plan file: maintenance[0] names no machine",
        ),
        (
            {"waves": [{"hosts": [[{}]], "start_s": float("nan"), "end_s": 1}], "migrations": [], "maintenance": []},
            "not a plan file: waves[0] has a time or size that is not a number up to",
        ),
        # Not text at all: no machine called "None" or "True" either (a replay would say so).
        (
            {"waves": [], "migrations": [], "maintenance": [{"host": None, "start_s": 0, "end_s": 1}]},
            "not a plan file: maintenance[0] names no machine",
        ),
        (
            {
                "waves": [],
                "migrations": [{"vm": "vm1", "from": True, "to": "kvm02", "start_s": 0, "end_s": 1, "gib": 1}],
                "maintenance": [],
            },
            "not a plan file: migrations[0] names no machine",
        ),
    ):
        plan.write_text(json.dumps(data))
        capsys.readouterr()
        assert main(["simulate", str(plan), "-i", str(INCIDENT / "after")]) == 2
        err = capsys.readouterr().err
        assert message in err and "\x1b" not in err


def test_runs_and_seed_need_jitter_and_a_graph(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"waves": [], "migrations": [], "maintenance": []}))
    assert main(["simulate", str(plan), "-i", str(INCIDENT / "after"), "--runs", "5"]) == 2
    assert "--runs: error: only with --jitter LO:HI" in capsys.readouterr().err
    assert main(["simulate", str(plan), "-i", str(INCIDENT / "after"), "--jitter", "1:2", "--runs", "0"]) == 2
    assert "--runs: error: expected a whole number from 1 to" in capsys.readouterr().err
    assert main(["simulate", str(plan), "-i", str(INCIDENT / "after"), "--jitter", "1:2", "--runs", "100001"]) == 2
    assert "--runs: error: expected a whole number from 1 to 100,000, not '100001'" in capsys.readouterr().err
    # A plan written without ids (by hand, or by an older netcfg) has no graph to replay.
    code = main(["simulate", str(INCIDENT / "naive-plan.json"), "-i", str(INCIDENT / "after"), "--jitter", "1:2"])
    assert code == 2
    err = capsys.readouterr().err
    assert "migrations[0] and 299 more steps have no id or no after: the plan is not a dependency graph" in err
    assert len(err.splitlines()) == 1  # one line, not one per step


# --- honest exits ------------------------------------------------------------------------

HELD = TIGHT.replace(
    "  vm1a: {kind: vm, host: kvm1, memory_gib: 16, dirty_mib_s: 10,",
    "  vm1a: {kind: vm, host: kvm1, memory_gib: 16, dirty_mib_s: 5000,",
)


def test_a_plan_leaving_part_of_the_change_unscheduled_exits_6(tmp_path, capsys):
    assert HELD != TIGHT
    (tmp_path / "inv.yaml").write_text(HELD)
    report = write_report(tmp_path / "report.json", {"kvm1": "disruptive", "kvm0": "disruptive"})
    args = ["plan", "--from-report", str(report), "-i", str(tmp_path / "inv.yaml"), "--json", str(tmp_path / "p.json")]
    assert main(args) == 6
    captured = capsys.readouterr()
    assert "unscheduled: kvm1 (vm1a cannot be live-migrated: pre-copy never converges)" in captured.err
    assert "--allow-unscheduled" in captured.err and "Traceback" not in captured.err
    assert "NOT scheduled: kvm1" in captured.out
    assert json.loads((tmp_path / "p.json").read_text())["unscheduled"] == ["kvm1"]  # written all the same
    assert main([*args, "--allow-unscheduled"]) == 0
    assert "unscheduled: kvm1" in capsys.readouterr().err


def test_a_report_of_another_inventory_is_refused_with_both_digests(tmp_path, capsys):
    (tmp_path / "inv.yaml").write_text(TIGHT)
    other = tmp_path / "other"
    other.mkdir()
    (other / "inv.yaml").write_text(
        TIGHT.replace("kvm2: {kind: kvm-host, memory_gib: 64", "kvm2: {kind: kvm-host, memory_gib: 96")
    )
    base = tmp_path / "base"
    base.mkdir()
    (base / "inv.yaml").write_text(TIGHT.replace("reconfigure: restart", "reconfigure: restart\n  design: flat"))
    report = tmp_path / "report.json"
    assert main(["check", "--base", str(base), "-i", str(tmp_path / "inv.yaml"), "--report-json", str(report)]) in (
        0,
        3,
    )
    recorded = json.loads(report.read_text())["inventory_digest"]
    assert re.fullmatch(r"[0-9a-f]{64}", recorded)
    capsys.readouterr()
    assert main(["plan", "--from-report", str(report), "-i", str(tmp_path / "inv.yaml")]) == 0
    assert main(["plan", "--from-report", str(report), "-i", str(other)]) == 2
    err = capsys.readouterr().err
    assert f"the report is of another inventory: it records inventory digest {recorded}" in err
    from netcfg.inventory.digest import inventory_digest
    from netcfg.inventory.load import load_inventory

    assert inventory_digest(load_inventory(other)) in err and "Traceback" not in err


def test_a_report_edited_by_hand_is_refused_not_planned(tmp_path, capsys):
    """A report is what `check` wrote: a host added, renamed or listed twice, a decision
    or a count that is not one, is named at its line, never planned."""
    examples = Path(__file__).resolve().parents[2] / "examples" / "add-vm"
    report = tmp_path / "report.json"
    assert (
        main(["check", "--base", str(examples / "before"), "-i", str(examples / "after"), "--report-json", str(report)])
        == 0
    )
    written = json.loads(report.read_text())
    (touched,) = written["hosts"]
    inventory = ["-i", str(examples / "after")]
    edits = [
        (
            lambda d: d["hosts"].append(dict(touched, name="kvm01", kind="kvm-host")),
            "$.hosts_touched: '1', but the report lists 2 hosts",
        ),
        (lambda d: d["hosts"][0].update(name="nosuch"), "hosts[0].name: 'nosuch' is no machine of"),
        (lambda d: d["hosts"][0].update(kind="router"), f"hosts[0].kind: 'router', but '{touched['name']}' is a vm"),
        (lambda d: d.update(hosts=[touched, touched], hosts_touched=2), "hosts[1].name: 'web09' is listed twice"),
        (
            lambda d: d.update(decision="yolo"),
            "$.decision: expected one of pass, stagger, block, invalid, found 'yolo'",
        ),
        (lambda d: d.update(digest="0" * 63), "$.digest: expected the change's sha256"),
        (lambda d: d.update(hosts_total="x"), "$.hosts_total: expected a count or null, found 'x'"),
        (lambda d: d["hosts"][0].update(state="gone"), "hosts[0].state: expected one of added, changed, removed"),
        (lambda d: d["hosts"][0].update(change=1), "hosts[0].change: expected one of disruptive, hot, found '1'"),
    ]
    assert touched["name"] == "web09"
    for edit, expected in edits:
        data = json.loads(json.dumps(written))
        edit(data)
        report.write_text(json.dumps(data, indent=2))
        capsys.readouterr()
        assert main(["plan", "--from-report", str(report), *inventory]) == 2, expected
        err = capsys.readouterr().err
        assert re.search(rf"{re.escape(str(report))}:\d+:\d+: error: {re.escape(expected)}", err), (expected, err)
    report.write_text(json.dumps(written))
    assert main(["plan", "--from-report", str(report), *inventory]) == 0


def test_a_report_without_a_digest_is_planned_with_a_warning(tmp_path, capsys):
    (tmp_path / "inv.yaml").write_text(TIGHT)
    report = write_report(tmp_path / "report.json", {"kvm1": "disruptive"})
    assert main(["plan", "--from-report", str(report), "-i", str(tmp_path / "inv.yaml")]) == 0
    assert "records no inventory digest: cannot check that it was made for" in capsys.readouterr().err


def test_a_blocked_change_says_so_in_the_terminal(capsys):
    assert main(["plan", str(INCIDENT / "inventory"), str(INCIDENT / "after")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("BLOCKED by the seatbelt: this change may not roll out until")
