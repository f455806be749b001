"""`netcfg verify` end to end: the summary, problems with examples, exit 3 when a
promise breaks, JSON keys, one flow hop by hop, the fleet after a migration stage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from netcfg.cli import main

BUNDLED = str(Path(__file__).resolve().parents[2] / "inventory")


def test_policy_routing_keeps_its_promises_and_lists_what_it_drops(capsys):
    assert main(["verify", BUNDLED]) == 0
    out = capsys.readouterr().out
    assert out.startswith("policy-routing: 191 machines (policy-routing 189; 2 routers)")
    assert "every promise kept" in out
    # What strict rp_filter drops is listed with an example and the rule and route that decide.
    assert "DROPPED" in out and "dropped by strict rp_filter" in out
    assert "decided by dns01: rule `20: from all to 203.0.113.0/25 lookup 2`" in out


def test_flat_breaks_its_promise_on_the_bundled_data_centre_exit_3(capsys):
    assert main(["verify", BUNDLED, "--design", "flat", "--format", "json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["broken"] > 0
    for key in ("design", "machines", "classes", "flow_classes", "delivered", "dropped", "broken", "findings"):
        assert key in report
    first = report["findings"][0]
    assert first["broken"] and first["reason"] == "no route" and first["at"] in ("rt01", "rt02")
    example = first["examples"][0]
    assert example["verdict"] == "dropped" and example["hops"][-1] == first["at"]
    assert "no route at rt0" in example["reason"]
    assert report["delivered"] + report["dropped"] == report["flow_classes"]


def test_one_flow_hop_by_hop(capsys):
    assert main(["verify", BUNDLED, "--flow", "web01", "db01", "--format", "json"]) == 0
    path = json.loads(capsys.readouterr().out)
    assert path["verdict"] == "delivered" and path["reason"] is None
    assert path["hops"] == ["web01", "db01"] and path["reply_hops"] == ["db01", "web01"]
    assert path["request"]["steps"][0]["rule"] == "30: from 10.20.0.0/16 lookup 3"
    # Through the router it cannot cross, under flat: dropped, with where and why.
    assert main(["verify", BUNDLED, "--design", "flat", "--flow", "cust01-1", "203.0.113.163"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("cust01-1 203.0.113.29 -> 203.0.113.163: dropped")
    assert "rt01 (in ethfe): no rule leads to a route: no-route" in text
    assert "dropped at rt01: no route" in text


def test_bad_flow_arguments_are_input_errors(capsys):
    assert main(["verify", BUNDLED, "--flow", "nosuch", "10.0.0.1"]) == 2
    assert "unknown machine 'nosuch'" in capsys.readouterr().err
    assert main(["verify", BUNDLED, "--flow", "web01", "not-an-address"]) == 2
    assert "neither an address nor a machine" in capsys.readouterr().err
    assert main(["verify", BUNDLED, "--rp-filter", "sometimes"]) == 2
    assert "unknown rp_filter 'sometimes'" in capsys.readouterr().err
    # A prefix is no destination, nor is an address that never leaves the machine.
    for prefix in ("10.20.0.0/16", "10.20.1.1/24"):
        assert main(["verify", BUNDLED, "--flow", "web01", prefix]) == 2
        assert f"'{prefix}' is a prefix: a flow goes to one address" in capsys.readouterr().err
    for local in ("127.0.0.1", "::1", "0.0.0.0"):
        assert main(["verify", BUNDLED, "--flow", "web01", local]) == 2
        assert f"{local} never leaves the machine" in capsys.readouterr().err
    # A subnet's broadcast and its network address (IPv6: a router answers it) are no machine's.
    for special, what in (
        ("10.20.255.255", "broadcast address of 10.20.0.0/16"),
        ("10.20.0.0", "network address of 10.20.0.0/16"),
        ("2001:db8:20::", "network address of 2001:db8:20::/64"),
    ):
        assert main(["verify", BUNDLED, "--flow", "web01", special]) == 2
        assert f"{special} is the {what}" in capsys.readouterr().err


def test_a_destination_that_is_a_machine_and_an_address_is_ambiguous(tmp_path, capsys):
    inventory = tmp_path / "inventory"
    shutil.copytree(BUNDLED, inventory)
    machines = next(p for p in sorted(inventory.rglob("*.yaml")) if "\n  db01:" in p.read_text())
    machines.write_text(machines.read_text().replace("\n  db01:", "\n  10.20.2.1:", 1))
    assert main(["verify", str(inventory), "--flow", "web01", "10.20.2.1"]) == 2
    assert "'10.20.2.1' is both a machine and an address" in capsys.readouterr().err


def test_the_fleet_after_a_stage(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"to": "flat", "stages": [{"index": 1, "machines": ["web01", "web02"]}]}))
    assert main(["verify", BUNDLED, "--stage", f"{plan}:1", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["designs"] == {"flat": 2, "policy-routing": 187}
    assert report["design"].startswith(f"after stage 1 of {plan}")
    # Stage 0 is the start.
    assert main(["verify", BUNDLED, "--stage", f"{plan}:0", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["designs"] == {"policy-routing": 189}


def test_a_stage_says_when_the_plan_was_verified_under_another_rp_filter(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    stages = [{"index": 1, "machines": ["web01"]}]
    plan.write_text(json.dumps({"to": "flat", "stages": stages, "rp_filter": "loose"}))
    assert main(["verify", BUNDLED, "--stage", f"{plan}:1", "--format", "json"]) == 0
    assert "the migration plan was verified under rp_filter loose; this models strict" in capsys.readouterr().err
    assert main(["verify", BUNDLED, "--stage", f"{plan}:1", "--format", "json", "--rp-filter", "loose"]) == 0
    assert "verified under" not in capsys.readouterr().err
    plan.write_text(json.dumps({"to": "flat", "stages": stages, "rp_filter": "x" * 100}))
    assert main(["verify", BUNDLED, "--stage", f"{plan}:1"]) == 2
    assert "rp_filter must be strict, loose or off" in capsys.readouterr().err


def test_a_bad_stage_is_an_input_error(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"to": "flat", "stages": [{"index": 1, "machines": ["web01"]}]}))
    # The stage decides each machine's design: --design beside it would be ignored.
    assert main(["verify", BUNDLED, "--stage", f"{plan}:1", "--design", "flat"]) == 2
    assert "--stage: error: not with --design" in capsys.readouterr().err
    plan.write_text(json.dumps({"to": "flat", "stages": [{"index": 1, "machines": ["nosuch"]}]}))
    assert main(["verify", BUNDLED, "--stage", f"{plan}:1"]) == 2
    assert "the plan moves machines the inventory does not have: 'nosuch'" in capsys.readouterr().err
    assert main(["verify", BUNDLED, "--stage", f"{plan}:5"]) == 2
    assert "the plan has 1 stage, not 5" in capsys.readouterr().err
    assert main(["verify", BUNDLED, "--stage", "plan-without-a-stage"]) == 2
    assert "expected PLAN:K" in capsys.readouterr().err
    plan.write_text("{}")
    assert main(["verify", BUNDLED, "--stage", f"{plan}:1"]) == 2
    assert "not a migration plan" in capsys.readouterr().err


FLOW_FLEET = """\
segments:
  fe:  {table: 2, priority: 20}
networks:
  - {prefix: 192.0.2.0/26, segment: fe, gateway: 192.0.2.1}
  - {prefix: 198.51.100.0/26, segment: fe, gateway: 198.51.100.1}
machines:
  r1: {kind: router, interfaces: {fe: {addresses: [192.0.2.1, 198.51.100.1]}}}
  b: {kind: physical, interfaces: {fe: {addresses: [198.51.100.10]}}}
  c: {kind: physical, interfaces: {fe: {addresses: [192.0.2.11, 198.51.100.11]}}}
"""


def test_a_flow_leaves_from_the_address_the_kernel_chooses(tmp_path, capsys):
    """An on-link route without a source: IPv4 sends from the interface's first address,
    not the one in the destination's network (`ip route get` said src 192.0.2.11; the
    model said 198.51.100.11 and so a direct path where the reply crosses the router)."""
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(FLOW_FLEET)
    assert main(["verify", str(inventory), "--flow", "c", "198.51.100.10"]) == 0
    assert capsys.readouterr().out.startswith("c 192.0.2.11 -> 198.51.100.10: ")


def test_a_flow_over_a_connected_route_leaves_from_the_routes_own_source(tmp_path, capsys):
    """Under flat the kernel's connected route decides, and it carries its address as
    `src`: c sends from 198.51.100.11 (`ip route get` and a plain ping agree), not from
    its interface's first address, which strict rp_filter at b would drop the reply to."""
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(FLOW_FLEET + "policy: {design: flat}\n")
    assert main(["verify", str(inventory), "--flow", "c", "198.51.100.10", "--format", "json"]) == 0
    flow = json.loads(capsys.readouterr().out)
    assert (flow["source_address"], flow["verdict"]) == ("198.51.100.11", "delivered"), flow
    assert main(["verify", str(inventory), "--flow", "r1", "198.51.100.10"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("r1 198.51.100.1 -> 198.51.100.10: delivered"), out
    assert "198.51.100.0/26 dev ethfe proto kernel scope link src 198.51.100.1`" in out


def test_link_local_and_multicast_destinations_are_refused(capsys):
    # The kernel sends them on-link or to a group; the model said "dropped at the router".
    for destination, what in (
        ("fe80::1", "a link-local address"),
        ("169.254.1.1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("255.255.255.255", "an address of the reserved (and broadcast) range"),
        ("::ffff:10.20.1.2", "an address of the IPv4-mapped range"),
    ):
        assert main(["verify", BUNDLED, "--flow", "web01", destination]) == 2
        assert f"{destination} is {what}" in capsys.readouterr().err


def test_a_long_flow_argument_is_quoted_short(capsys):
    assert main(["verify", BUNDLED, "--flow", "web01", "a" * 5000]) == 2
    err = capsys.readouterr().err
    assert "'" + "a" * 40 + "…' is neither an address nor a machine" in err and "a" * 41 not in err
    assert main(["verify", BUNDLED, "--flow", "b" * 5000, "10.20.1.2"]) == 2
    assert "b" * 41 not in capsys.readouterr().err
