"""Help of the kernel commands, lab state files and host selection (no namespaces)."""

from __future__ import annotations

import pytest

from netcfg.cli import main
from netcfg.errors import InputError
from netcfg.lab import netns as lab


@pytest.mark.parametrize(
    "argv",
    [
        ["apply", "--help"],
        ["status", "--help"],
        ["lab", "--help"],
        ["lab", "up", "--help"],
        ["lab", "check", "--help"],
        ["lab", "down", "--help"],
    ],
)
def test_every_command_has_help(argv, capsys):
    assert main(argv) == 0
    assert "Usage" in capsys.readouterr().out


def test_apply_needs_netns(capsys):
    assert main(["apply", "web1"]) == 2


def test_a_stage_and_a_design_together_are_refused_before_anything_is_made(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    plan.write_text('{"to": "flat", "stages": [{"index": 1, "machines": ["web01"]}]}')
    assert main(["lab", "up", "--stage", f"{plan}:1", "--design", "flat", "--name", "never"]) == 2
    assert "--stage: error: not with --design: the stage decides each machine's design" in capsys.readouterr().err


def test_state_file_round_trip(tmp_path):
    state = lab.LabState("l1", "inv", "flat", {"a": "l1-m-a"}, "l1-sw", ("l1-sw", "l1-m-a"), {"fe": "sw0"})
    lab.write_state(state, str(tmp_path))
    assert lab.read_state("l1", str(tmp_path)) == state
    assert lab.read_state("other", str(tmp_path)) is None


@pytest.mark.parametrize("name", ["", "../x", "a/b", "x" * 33, "-lead", "lab\n"])
def test_bad_lab_names(name):
    with pytest.raises(InputError):
        lab.check_name(name)


def test_select_adds_routers_and_rejects_empty_globs():
    from netaddr import IPAddress, IPNetwork

    from netcfg.model.host import Kind
    from netcfg.model.inventory import Interface, Inventory, Machine, Network, Segment

    inv = Inventory.build(
        [Segment("fe", 2, 20)],
        [Network(IPNetwork("192.0.2.0/24"), "fe", IPAddress("192.0.2.1"))],
        [
            Machine("rt", Kind.ROUTER, (Interface("fe", "ethfe", (IPAddress("192.0.2.1"),)),)),
            Machine("web1", Kind.PHYSICAL, (Interface("fe", "ethfe", (IPAddress("192.0.2.10"),)),)),
            Machine("db1", Kind.PHYSICAL, (Interface("fe", "ethfe", (IPAddress("192.0.2.20"),)),)),
        ],
    )
    assert lab.select(inv, ["web*"]) == ["rt", "web1"]
    assert lab.select(inv, ["web*", "db1"]) == ["db1", "rt", "web1"]
    assert lab.select(inv) == ["db1", "rt", "web1"]
    with pytest.raises(InputError):
        lab.select(inv, ["nope*"])
