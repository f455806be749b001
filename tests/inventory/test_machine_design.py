"""A machine's own `design:` (a fleet being migrated is mixed): validated with file,
line and column, and honoured by rendering, the formats, validation of gateways, the
dependency graph, diff and impact, show and apply's render."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from netcfg.cli import main
from netcfg.designs import render
from netcfg.impact.analysis import analyse
from netcfg.impact.graph import DESIGN_NODE, build_graph, dependents
from netcfg.inventory.load import load_inventory
from netcfg.model.host import DesignName

INVENTORY = """\
segments:
  fe: {table: 2, priority: 20}
  srv: {table: 3, priority: 30}
networks:
  - {prefix: 203.0.113.0/26, segment: fe, gateway: 203.0.113.1}
  - {prefix: 198.51.100.0/26, segment: fe, gateway: 198.51.100.1}
  - {prefix: 10.20.0.0/16, segment: srv, gateway: 10.20.0.1, private: true}
machines:
  rt01:
    kind: router
    interfaces:
      fe: {addresses: [203.0.113.1, 198.51.100.1]}
      srv: {addresses: [10.20.0.1]}
  web01:
    kind: physical
    design: flat
    interfaces:
      fe: {addresses: [203.0.113.10]}
      srv: {addresses: [10.20.1.10]}
  web02:
    kind: physical
    interfaces:
      fe: {addresses: [198.51.100.10]}
      srv: {addresses: [10.20.1.11]}
"""


def write(tmp_path: Path, text: str = INVENTORY, name: str = "inv") -> Path:
    path = tmp_path / name
    path.mkdir()
    (path / "all.yaml").write_text(textwrap.dedent(text))
    return path


def test_each_machine_is_rendered_under_its_own_design(tmp_path):
    inventory = load_inventory(write(tmp_path))
    assert inventory.mixed
    configs = render(inventory)
    assert configs["web01"].design is DesignName.FLAT and not configs["web01"].rules
    assert configs["web02"].design is DesignName.POLICY_ROUTING and configs["web02"].rules
    # A design given on the command line is for every machine.
    assert all(c.design is DesignName.POLICY_ROUTING for c in render(inventory, "policy-routing").values())


def test_validate_says_the_fleet_is_mixed(tmp_path, capsys):
    assert main(["validate", str(write(tmp_path))]) == 0
    assert "design policy-routing (1 machine flat by their own design:), reconfigure live" in capsys.readouterr().out


def test_a_bad_design_and_a_router_with_one_are_errors_with_where(tmp_path, capsys):
    text = INVENTORY.replace("    design: flat\n", "    design: flatter\n").replace(
        "    kind: router\n", "    kind: router\n    design: flat\n"
    )
    path = write(tmp_path, text)
    assert main(["validate", str(path)]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert (
        f"{path}/all.yaml:11:5: error: key 'design' does not apply to a router (only to a kvm-host or vm or physical)"
        in errors
    )
    assert f"{path}/all.yaml:17:13: error: 'flatter' is not a valid value (did you mean 'flat'?)" in errors


def test_gateways_are_checked_under_each_machines_design(tmp_path, capsys):
    # Under policy-routing every segment's first network needs a gateway; web01 is flat:
    # only its preferred segment's (fe) does, so srv's missing gateway is fine for it.
    text = INVENTORY.replace(", gateway: 10.20.0.1, private: true", ", private: true").replace(
        "      srv: {addresses: [10.20.0.1]}\n", ""
    )
    text = text.replace("  web02:\n", "  web02:\n    design: flat\n")
    assert main(["validate", str(write(tmp_path, text))]) == 0
    # Back under policy-routing web02 needs it.
    text = text.replace("  web02:\n    design: flat\n", "  web02:\n")
    assert main(["validate", str(write(tmp_path, text, "pr"))]) == 2
    assert "machine 'web02' needs an IPv4 default route via network 10.20.0.0/16" in capsys.readouterr().err


def test_show_and_the_json_format_carry_the_machines_design(tmp_path, capsys):
    path = write(tmp_path)
    assert main(["show", "web01", "-i", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["design"] == "flat"
    out = tmp_path / "out"
    assert main(["render", str(path), "--out", str(out), "-f", "json"]) == 0
    assert json.loads((out / "json" / "web01.json").read_text())["design"] == "flat"
    assert json.loads((out / "json" / "web02.json").read_text())["design"] == "policy-routing"


def test_changing_a_machines_design_touches_that_machine_only(tmp_path):
    base = write(tmp_path, INVENTORY.replace("    design: flat\n", ""), "base")
    head = write(tmp_path, INVENTORY, "head")
    impact = analyse(str(base), str(head)).impact
    assert [h.diff.name for h in impact.hosts] == ["web01"]
    assert impact.hosts[0].causes == ("design of web01 changed from the policy to flat",)
    assert impact.hosts[0].change.value == "hot"  # rules and routes only


def test_the_policys_design_is_read_only_by_machines_without_their_own(tmp_path):
    inventory = load_inventory(write(tmp_path))
    assert dependents(build_graph(inventory), DESIGN_NODE) == {"rt01", "web02"}
    # Under --design every machine reads it.
    assert dependents(build_graph(inventory, "flat"), DESIGN_NODE) == {"rt01", "web01", "web02"}
    base = write(tmp_path, INVENTORY, "base")
    head = write(tmp_path, INVENTORY.replace("segments:", "policy: {design: flat}\nsegments:"), "head")
    impact = analyse(str(base), str(head)).impact
    assert [h.diff.name for h in impact.hosts] == ["web02"]  # web01 was flat already
