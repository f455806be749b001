"""Every examples/ scenario through `netcfg check`: the README's promise holds."""

from __future__ import annotations

import json
import shutil

import pytest

from netcfg.cli import main
from tests.impact.helpers import EXAMPLES, SCENARIOS, expected


def test_all_six_kinds_of_scenario_exist():
    for name in (
        "add-public-network",
        "add-public-network-flat",
        "add-vm",
        "move-vm",
        "change-gateway",
        "remove-network",
        "change-address",
    ):
        assert name in SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_outcome_matches_readme(scenario, tmp_path, capsys):
    want = expected(scenario)
    report_json, report_md = tmp_path / "r.json", tmp_path / "r.md"
    code = main(
        [
            "check",
            "--base",
            str(EXAMPLES / scenario / "before"),
            "--inventory",
            str(EXAMPLES / scenario / "after"),
            "--report-json",
            str(report_json),
            "--report-md",
            str(report_md),
        ]
    )
    report = json.loads(report_json.read_text())
    assert code == want["code"]
    assert report["decision"] == want["decision"]
    assert report["hosts_touched"] == want["touched"]
    assert report["hosts_total"] == want["total"]
    assert report["totals"]["hot"] == want["hot"]
    assert report["totals"]["disruptive"] == want["disruptive"]
    assert sum(len(h["evacuate"]) for h in report["hosts"]) == want["evacuate"]
    assert len(report["hosts"]) == report["hosts_touched"]
    # Every touched machine explains itself.
    assert all(h["causes"] for h in report["hosts"])
    assert report_md.read_text().startswith("### netcfg check: ")
    # With --report-md the summary is not also printed.
    assert "### netcfg check" not in capsys.readouterr().out


def _check(scenario, tmp_path):
    out = tmp_path / "r.json"
    main(
        [
            "check",
            "--base",
            str(EXAMPLES / scenario / "before"),
            "--inventory",
            str(EXAMPLES / scenario / "after"),
            "--report-json",
            str(out),
            "--report-md",
            str(tmp_path / "r.md"),
        ]
    )
    return json.loads(out.read_text())


def test_public_network_policy_routing_touches_every_fe_machine_hot(tmp_path):
    report = _check("add-public-network", tmp_path)
    fe = report["segments"]["fe"]
    assert fe["touched"] == fe["machines"]
    hot = [h for h in report["hosts"] if h["change"] == "hot"]
    assert hot and all(
        h["added"]
        == [
            "rule to 198.51.100.64/27 lookup 2 priority 20",
            "route 198.51.100.64/27 dev " + ("brfe" if h["kind"] == "kvm-host" else "ethfe") + " scope link table 2",
        ]
        for h in hot
    )
    assert all("network 198.51.100.64/27 added to segment fe" in h["causes"] for h in hot)
    reason = next(r for r in report["reasons"] if r.startswith("every host and VM of segment fe"))
    fe = report["segments"]["fe"]
    assert f"{fe['touched']} of its {fe['machines']} machines" in reason
    # The stale approval in after/approvals/ is named as not matching.
    assert any("does not match this change" in r and "by bob" in r for r in report["reasons"])
    assert report["approvals"][0]["matches"] is False


def test_public_network_flat_touches_only_its_users(tmp_path):
    report = _check("add-public-network-flat", tmp_path)
    assert report["design"] == "flat"
    assert sorted(h["name"] for h in report["hosts"]) == ["rt01", "web09"]
    web09 = next(h for h in report["hosts"] if h["name"] == "web09")
    assert web09["state"] == "added" and web09["change"] == "disruptive"


def test_approval_unblocks_exactly_its_digest(tmp_path):
    blocked = _check("add-public-network", tmp_path / "a")
    approved = _check("add-public-network-approved", tmp_path / "b")
    assert blocked["digest"] == approved["digest"]
    assert approved["approved_by"] == "alice"
    assert any(r.startswith("approved by alice") for r in approved["reasons"])


def test_moved_vm_touches_nothing_but_is_explained(tmp_path):
    report = _check("move-vm", tmp_path)
    assert report["hosts"] == []
    assert report["changes"] == [
        {"text": "web01 moved from kvm01 to kvm03", "where": report["changes"][0]["where"], "touches": 0}
    ]


def test_changed_address_of_kvm_host_evacuates_its_vms(tmp_path):
    report = _check("change-address", tmp_path)
    (host,) = report["hosts"]
    assert host["name"] == "kvm02" and host["change"] == "disruptive"
    assert host["evacuate"] == ["app02", "db02", "web02", "web06"]
    assert host["added"] == ["address 10.20.1.12/16 dev brsrv"]
    assert host["removed"] == ["address 10.20.1.2/16 dev brsrv"]
    assert host["causes"] == ["address of kvm02 on segment srv changed from 10.20.1.2 to 10.20.1.12"]


def test_gateway_change_touches_only_machines_routing_through_it(tmp_path):
    report = _check("change-gateway", tmp_path)
    names = sorted(h["name"] for h in report["hosts"])
    assert names == ["kvm03", "kvm04", "rt01", "web05", "web06", "web07", "web08"]
    kvm03 = next(h for h in report["hosts"] if h["name"] == "kvm03")
    assert "route default via 192.0.2.94 table 2" in kvm03["added"]
    assert "route default via 192.0.2.65 metric 20 table main" in kvm03["removed"]


def test_digest_ignores_file_layout_comments_and_order(tmp_path):
    """The same change written as one file, machines in reverse order, with comments and
    another flow style, has the same digest: it is over the semantic diff only."""
    after = EXAMPLES / "add-public-network" / "after"
    merged = tmp_path / "after"
    merged.mkdir()
    shutil.copytree(after / "approvals", merged / "approvals")
    texts = {p.name: p.read_text() for p in after.glob("*.yaml")}
    machines = [line for line in texts["machines.yaml"].splitlines() if line.startswith("  ")]
    networks = [line for line in texts["networks.yaml"].splitlines() if line.startswith("  ")]
    (merged / "all.yaml").write_text(
        "# everything in one file\n"
        + texts["policy.yaml"]
        + texts["segments.yaml"]
        + "machines:\n"
        + "\n".join(reversed(machines))
        + "\n"
        + "networks:  # reordered\n"
        + "\n".join(reversed(networks))
        + "\n"
    )
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    before = str(EXAMPLES / "add-public-network" / "before")
    main(
        [
            "check",
            "--base",
            before,
            "--inventory",
            str(after),
            "--report-json",
            str(a / "r.json"),
            "--report-md",
            str(a / "r.md"),
        ]
    )
    main(
        [
            "check",
            "--base",
            before,
            "--inventory",
            str(merged),
            "--report-json",
            str(b / "r.json"),
            "--report-md",
            str(b / "r.md"),
        ]
    )
    first, second = (json.loads((d / "r.json").read_text()) for d in (a, b))
    assert first["digest"] == second["digest"]
    assert first["hosts"] == second["hosts"]
