"""`netcfg migrate --to flat`: stages that drop no flow, each verified, judged by the
seatbelt and planned; or a refusal naming the flows that force it and what would help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netcfg.cli import main
from netcfg.inventory.load import load_inventory
from netcfg.model.host import DesignName
from netcfg.rollout.migrate import plan_migration, safe_stages, spread_segments

BUNDLED = Path(__file__).resolve().parents[2] / "inventory"

# Hosts on one segment each: under flat they meet at the router, which holds every
# gateway; nothing comes in on one interface to leave by another.
SINGLE_HOMED = """\
segments:
  fe:  {table: 2, priority: 20}
  srv: {table: 3, priority: 30}
networks:
  - {prefix: 203.0.113.0/26, segment: fe, gateway: 203.0.113.1}
  - {prefix: 198.51.100.64/27, segment: fe, gateway: 198.51.100.65}
  - {prefix: 10.20.0.0/16, segment: srv, gateway: 10.20.0.1, private: true}
policy:
  seatbelt: {max_fraction: 0.5, max_hosts: 50, stagger_above: 1}
machines:
  rt01:
    kind: router
    interfaces:
      fe: {addresses: [203.0.113.1, 198.51.100.65]}
      srv: {addresses: [10.20.0.1]}
  kvm01: {kind: kvm-host, memory_gib: 64, interfaces: {srv: {addresses: [10.20.1.10]}}}
  web1: {kind: vm, host: kvm01, memory_gib: 4, interfaces: {fe: {addresses: [203.0.113.10]}}}
  web2: {kind: vm, host: kvm01, memory_gib: 4, interfaces: {fe: {addresses: [198.51.100.70]}}}
  web3: {kind: vm, host: kvm01, memory_gib: 4, interfaces: {fe: {addresses: [203.0.113.11]}}}
  db1: {kind: vm, host: kvm01, memory_gib: 4, interfaces: {srv: {addresses: [10.20.1.20]}}}
"""

# The same, but app1 is on fe and srv: under flat its default route leaves by fe, and
# what reaches its fe address from db1's srv network comes in on fe and would go back
# by srv; strict rp_filter drops it. Moving app1 (first, in name order) drops flows
# policy-routing delivers: no order avoids it, since the last stage is the target.
MULTI_HOMED = SINGLE_HOMED.replace(
    "  db1: {kind: vm,",
    "  app1: {kind: vm, host: kvm01, memory_gib: 4,"
    " interfaces: {fe: {addresses: [203.0.113.12]}, srv: {addresses: [10.20.1.30]}}}\n  db1: {kind: vm,",
)


@pytest.fixture
def inventory(tmp_path):
    def write(text: str) -> Path:
        path = tmp_path / f"inv{len(list(tmp_path.iterdir()))}"
        path.mkdir()
        (path / "all.yaml").write_text(text)
        return path

    return write


def test_a_safe_target_is_reached_in_stages_each_verified_judged_and_planned(inventory, capsys):
    path = inventory(SINGLE_HOMED)
    assert main(["migrate", "--to", "flat", str(path), "--max-stage", "2", "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    stages = plan["stages"]
    assert [s["index"] for s in stages] == [1, 2, 3]
    for stage in stages:
        for key in ("index", "machines", "flows_dropped", "decision", "makespan_s"):
            assert key in stage
        assert stage["flows_dropped"] == 0 and stage["verification"]["newly_dropped"] == 0
        assert 1 <= len(stage["machines"]) <= 2
        assert stage["makespan_s"] > 0
    # Each stage is judged by the seatbelt like any change: two machines stagger, one
    # passes. In name order the first stage would hold both hosts of srv, which blocks:
    # kvm01 trades places with web1.
    assert [(s["machines"], s["decision"]) for s in stages] == [
        (["db1", "web1"], "stagger"),
        (["kvm01", "web2"], "stagger"),
        (["web3"], "pass"),
    ]
    moved = [m for s in stages for m in s["machines"]]
    assert sorted(moved) == ["db1", "kvm01", "web1", "web2", "web3"]  # every host, routers never
    soaks = 300 * (len(stages) - 1)  # the policy's soak_s between two stages
    assert plan["total_makespan_s"] == pytest.approx(sum(s["makespan_s"] for s in stages) + soaks, abs=0.01)
    assert plan["refused"] is None and plan["to"] == "flat"
    assert plan["rp_filter"] == "strict"


def test_each_stage_is_the_fleet_verify_sees(inventory, tmp_path, capsys):
    path = inventory(SINGLE_HOMED)
    plan_file = tmp_path / "plan.json"
    assert main(["migrate", "--to", "flat", str(path), "--max-stage", "2", "--format", "json"]) == 0
    plan_file.write_text(capsys.readouterr().out)
    plan = json.loads(plan_file.read_text())
    for k, stage in enumerate(plan["stages"], 1):
        assert main(["verify", str(path), "--stage", f"{plan_file}:{k}", "--format", "json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["flow_classes"] == stage["verification"]["flow_classes"]
        assert report["dropped"] == stage["verification"]["dropped"] == 0
    # The same names in another inventory: refused, both digests shown.
    other = inventory(SINGLE_HOMED.replace("memory_gib: 64", "memory_gib: 96"))
    assert main(["verify", str(other), "--stage", f"{plan_file}:1"]) == 2
    err = capsys.readouterr().err
    assert f"the plan is of another inventory: it records inventory digest '{plan['inventory_digest']}'" in err


def test_a_target_that_drops_flows_is_refused_with_the_flows_and_what_would_help(inventory, capsys):
    path = inventory(MULTI_HOMED)
    assert main(["migrate", "--to", "flat", str(path), "--format", "json"]) == 3
    plan = json.loads(capsys.readouterr().out)
    assert plan["stages"] == [] and plan["total_makespan_s"] == 0
    refused = plan["refused"]
    assert "would drop" in refused["reason"] and "no order of stages avoids" in refused["reason"]
    flows = refused["flows"]
    assert all(f["reason"] == "rp_filter" for f in flows)
    examples = [e for f in flows for e in f["examples"]]
    assert any(e["dropped_at"] == "app1" and e["before"].startswith("delivered") for e in examples)
    assert any("app1" in fix for fix in refused["fixes"])


def test_the_refusal_reads_for_a_person(inventory, capsys):
    assert main(["migrate", "--to", "flat", str(inventory(MULTI_HOMED))]) == 3
    captured = capsys.readouterr()
    assert "no safe order" in captured.out and "what would help:" in captured.out
    assert "e.g. " in captured.out and "dropped at app1: rp_filter" in captured.out
    assert "netcfg migrate: no safe order to flat (exit 3)" in captured.err


def test_the_bundled_data_centre_cannot_move_to_flat_as_it_is(capsys):
    """rt01 forwards only to the networks it holds gateways of, rt02 likewise: under
    flat the fe networks of one cannot reach the other's."""
    migration = plan_migration(load_inventory(BUNDLED), DesignName.FLAT)
    assert migration.refusal is not None and not migration.stages
    no_route = [b for b in migration.refusal.flows if b.verdict.reason and b.verdict.reason.value == "no route"]
    assert {b.verdict.at for b in no_route} == {"rt01", "rt02"}
    assert any(f.startswith("give rt01 an address in") for f in migration.refusal.fixes)
    assert any(f.startswith("give rt02 an address in") for f in migration.refusal.fixes)


def test_a_stage_whose_fleet_drops_flows_is_merged_with_the_next():
    """The merging itself, with a verdict that refuses the fleet after stage 2."""
    seen = []

    def safe(moved: frozenset[str], index: int, total: int) -> bool:
        seen.append(sorted(moved))
        return moved != {"a", "b", "c", "d"}

    stages = safe_stages([["a", "b"], ["c", "d"], ["e"]], safe)
    assert stages == [["a", "b"], ["c", "d", "e"]]
    assert seen == [["a", "b"], ["a", "b", "c", "d"], ["a", "b", "c", "d", "e"]]
    with pytest.raises(RuntimeError):
        safe_stages([["a"], ["b"]], lambda moved, i, n: False)


def test_nothing_to_move_and_bad_arguments(inventory, capsys):
    flat = inventory(SINGLE_HOMED.replace("policy:\n  seatbelt:", "policy:\n  design: flat\n  seatbelt:"))
    assert main(["migrate", "--to", "flat", str(flat)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["migrate", "--to", "sideways", str(flat)]) == 2
    assert "--to: error: unknown design 'sideways'" in capsys.readouterr().err
    assert main(["migrate", "--to", "flat", str(flat), "--max-stage", "0"]) == 2
    assert "--max-stage" in capsys.readouterr().err


def test_the_page_is_self_contained_and_escapes_names(inventory, tmp_path, capsys):
    path = inventory(SINGLE_HOMED)
    page = tmp_path / "migrate.html"
    assert main(["migrate", "--to", "flat", str(path), "--max-stage", "2", "--html", str(page)]) == 0
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "http" not in html
    assert html.count('<tr data-stage="') == 3 and "web1" in html
    refused = tmp_path / "refused.html"
    assert main(["migrate", "--to", "flat", str(inventory(MULTI_HOMED)), "--html", str(refused)]) == 3
    assert 'id="refused"' in refused.read_text() and "What would help" in refused.read_text()


def test_a_stages_digest_is_what_check_says_of_the_change_that_makes_it(inventory, tmp_path, capsys):
    """So an approval can be prepared from the plan: the stage is the inventory change
    giving its machines `design: flat`."""
    path = inventory(SINGLE_HOMED)
    assert main(["migrate", "--to", "flat", str(path), "--max-stage", "2", "--format", "json"]) == 0
    first = json.loads(capsys.readouterr().out)["stages"][0]
    head = inventory(
        SINGLE_HOMED.replace("  web1: {kind: vm,", "  web1: {kind: vm, design: flat,").replace(
            "  db1: {kind: vm,", "  db1: {kind: vm, design: flat,"
        )
    )
    assert first["machines"] == ["db1", "web1"]
    report = tmp_path / "report.json"
    assert main(["check", "--base", str(path), "-i", str(head), "--report-json", str(report)]) == 0
    checked = json.loads(report.read_text())
    assert checked["digest"] == first["digest"]
    assert checked["decision"] == first["decision"] == "stagger"


def test_no_stage_holds_every_host_and_vm_of_a_guarded_segment():
    members = {"mgm": ["rt", "a0", "a1", "a2"], "srv": ["rt", "h0", "h1", "h2", "h3"]}
    routers = frozenset({"rt"})
    chunks = [["a0", "a1", "a2", "h0"], ["h1", "h2", "h3"]]
    spread = spread_segments(chunks, members, routers, stagger_above=1, limit=4)
    assert sorted(m for c in spread for m in c) == ["a0", "a1", "a2", "h0", "h1", "h2", "h3"]
    assert all(len(c) <= 4 for c in spread)
    for chunk in spread:
        for hosts in ({"a0", "a1", "a2"}, {"h0", "h1", "h2", "h3"}):
            assert not hosts <= set(chunk), spread
    # Nowhere to trade: a new stage. A segment of one host moves whole, as it must.
    assert spread_segments([["a0", "a1", "a2"]], members, routers, 1, 3) == [["a0", "a1"], ["a2"]]
    assert spread_segments([["x"]], {"s": ["x"]}, routers, 0, 1) == [["x"]]


def test_by_default_no_stage_is_blocked_for_a_whole_segment(inventory, capsys):
    machines = [
        "  rt01: {kind: router, interfaces: {srv: {addresses: [10.20.0.1]},"
        " fe: {addresses: [203.0.113.1, 198.51.100.65]}}}"
    ]
    machines += [
        f"  a{i}: {{kind: physical, interfaces: {{fe: {{addresses: [203.0.113.{10 + i}]}}}}}}" for i in range(6)
    ]
    machines += [
        f"  h{i:02}: {{kind: physical, interfaces: {{srv: {{addresses: [10.20.1.{10 + i}]}}}}}}" for i in range(34)
    ]
    text = SINGLE_HOMED.split("machines:")[0].replace("max_fraction: 0.5", "max_fraction: 0.25")
    path = inventory(text.replace("stagger_above: 1", "stagger_above: 5") + "machines:\n" + "\n".join(machines) + "\n")
    assert main(["migrate", "--to", "flat", str(path), "--format", "json"]) == 0
    stages = json.loads(capsys.readouterr().out)["stages"]
    assert len(stages) >= 4 and all(s["decision"] != "block" for s in stages), stages
