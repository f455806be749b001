"""netcfg synth: same arguments, same bytes; valid inventories of the bundled shape at
any size; the command's arguments and output directory handling."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netaddr import cidr_merge

from netcfg.cli import main
from netcfg.errors import InputError
from netcfg.inventory.load import load_inventory, load_inventory_texts
from netcfg.inventory.synth import FILL, MARKER, synth_texts, write_synth
from netcfg.model.host import Kind
from netcfg.model.inventory import Inventory


def load(machines: int, networks: int, seed: int = 0) -> Inventory:
    return load_inventory_texts(synth_texts(machines, networks, seed), "synth")


def test_same_arguments_same_bytes():
    assert synth_texts(500, 40, 7) == synth_texts(500, 40, 7)


def test_different_seed_different_inventory():
    assert synth_texts(500, 40, 7) != synth_texts(500, 40, 8)


def test_same_bytes_in_a_fresh_interpreter():
    """No dependence on hash randomisation: children with other PYTHONHASHSEEDs agree."""
    code = (
        "import sys, json; from netcfg.inventory.synth import synth_texts;"
        " json.dump(synth_texts(300, 25, 3), sys.stdout)"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    ]
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0]) == synth_texts(300, 25, 3)


@pytest.mark.parametrize(
    ("machines", "networks"), [(10, 4), (10, 5), (11, 6), (50, 4), (400, 30), (2_500, 120), (3_000, 5)]
)
def test_sizes_load_cleanly_with_the_requested_counts(machines, networks):
    inventory = load(machines, networks)
    assert len(inventory.machines) == machines
    assert len(inventory.networks) == networks
    assert_bundled_shape(inventory)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    machines=st.integers(min_value=10, max_value=400),
    networks=st.integers(min_value=4, max_value=80),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_any_arguments_give_a_valid_inventory(machines, networks, seed):
    inventory = load(machines, networks, seed)  # raises InputError listing problems if invalid
    assert (len(inventory.machines), len(inventory.networks)) == (machines, networks)
    assert_bundled_shape(inventory)


def assert_bundled_shape(inventory: Inventory) -> None:
    assert sorted(inventory.segments) == ["fe", "mgm", "srv"]
    public = [n.prefix for n in inventory.networks_on("fe", 4)]
    assert public and not any(n.private for n in inventory.networks_on("fe", 4))
    assert sorted(cidr_merge(public)) == sorted(public), "public networks never aggregate"
    assert [n.prefix.prefixlen for n in inventory.networks_on("fe", 6)] == [64]
    assert [(n.private, n.prefix.prefixlen) for n in inventory.networks_on("srv", 4)] == [(True, 16)]

    routers = [m for m in inventory.machines.values() if m.kind is Kind.ROUTER]
    assert len(routers) == 2
    carried = [(i.segment, a) for r in routers for i in r.interfaces for a in i.addresses]
    for network in inventory.networks:
        assert carried.count((network.segment, network.gateway)) == 1, network.cidr

    kinds = [m.kind for m in inventory.machines.values()]
    hosts = [m for m in inventory.machines.values() if m.kind is Kind.KVM_HOST]
    assert Kind.PHYSICAL in kinds and len(hosts) >= 2
    assert kinds.count(Kind.VM) >= 5
    for host in hosts:
        assert 128 <= host.memory_gib <= 512 and host.nic_gbit in (1, 10)
        used = sum(vm.memory_gib for vm in inventory.vms_of(host.name))
        assert used <= host.memory_gib * FILL + 2  # spare room on every host for evacuations
    for vm in inventory.machines.values():
        if vm.kind is Kind.VM:
            assert vm.service and 2 <= vm.memory_gib <= 128 and vm.dirty_mib_s > 0


def test_large_fleets_use_the_documentation_ranges_first():
    public = [n.prefix for n in load(2_000, 200).networks_on("fe", 4)]
    documentation = [p for p in public if str(p).startswith(("192.0.2.", "198.51.100.", "203.0.113."))]
    assert documentation and len(documentation) < len(public)
    assert all(str(p).startswith("198.18.") or p in documentation for p in public)


def test_machines_are_split_over_files_of_a_thousand():
    texts = synth_texts(3_500, 10, 0)
    vm_files = [name for name in texts if name.startswith("machines/vms-")]
    assert vm_files == [
        "machines/vms-001.yaml",
        "machines/vms-002.yaml",
        "machines/vms-003.yaml",
        "machines/vms-004.yaml",
    ]
    assert max(t.count("\n") for t in texts.values()) <= 1_002


@pytest.mark.parametrize(("machines", "networks"), [(9, 4), (10, 3), (1_000_001, 10), (100, 5_001)])
def test_bad_arguments_are_input_errors(machines, networks):
    with pytest.raises(InputError, match="must be between"):
        synth_texts(machines, networks, 0)


def test_a_fleet_beyond_a_16_gets_larger_private_networks_and_stays_valid(tmp_path):
    # 66,000 machines do not fit the srv and mgm /16s of smaller fleets.
    write_synth(tmp_path / "big", 66_000, 300, 0)
    inventory = load_inventory(tmp_path / "big")
    assert len(inventory.machines) == 66_000
    private = {str(n.prefix) for n in inventory.networks if n.segment in ("srv", "mgm") and n.family == 4}
    assert private == {"10.16.0.0/12", "10.32.0.0/12"}
    assert "10.20.0.0/16" in synth_texts(65_000, 300, 0)["networks.yaml"]  # smaller fleets: the same bytes as before


def test_write_synth_writes_the_texts(tmp_path):
    out = tmp_path / "inv"
    write_synth(out, 120, 9, 5)
    texts = synth_texts(120, 9, 5)
    written = {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*.yaml")}
    assert written == texts
    assert len(load_inventory(out).machines) == 120


def test_write_synth_replaces_its_own_output_including_stale_files(tmp_path):
    write_synth(tmp_path / "inv", 2_500, 9, 1)
    assert (tmp_path / "inv/machines/vms-003.yaml").exists()
    write_synth(tmp_path / "inv", 500, 9, 1)
    assert not (tmp_path / "inv/machines/vms-003.yaml").exists()
    assert len(load_inventory(tmp_path / "inv").machines) == 500


def test_write_synth_refuses_a_directory_it_did_not_write(tmp_path):
    (tmp_path / "mine.yaml").write_text("segments: {}\n")
    with pytest.raises(InputError, match="not written by netcfg synth"):
        write_synth(tmp_path, 100, 5, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.yaml"]
    assert not (tmp_path / MARKER).exists()


def test_cli_writes_a_valid_inventory(tmp_path, capsys):
    out = tmp_path / "inv"
    assert main(["synth", "--machines", "200", "--networks", "12", "--seed", "3", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().err
    assert main(["validate", str(out)]) == 0
    assert "200 machines" in capsys.readouterr().out


def test_cli_bad_arguments_exit_2_without_writing(tmp_path, capsys):
    out = tmp_path / "inv"
    assert main(["synth", "--machines", "5", "--networks", "4", "--out", str(out)]) == 2
    assert "--machines: error: expected a whole number from 10 to 1,000,000, not '5'" in capsys.readouterr().err
    assert not out.exists()
    assert main(["synth", "--machines", "many", "--networks", "4", "--out", str(out)]) == 2


def test_cli_refuses_a_foreign_directory(tmp_path, capsys):
    (tmp_path / "x.yaml").write_text("{}\n")
    assert main(["synth", "--machines", "20", "--networks", "4", "--out", str(tmp_path)]) == 2
    assert "not written by netcfg synth" in capsys.readouterr().err


def test_a_run_cut_short_leaves_a_directory_the_next_run_replaces(tmp_path, monkeypatch):
    import netcfg.inventory.synth as synth_module

    real, calls = synth_module.write_atomic, []

    def interrupted_after_three(path, data, mode=0o644):  # type: ignore[no-untyped-def]
        calls.append(path)
        if len(calls) > 3:
            raise KeyboardInterrupt
        real(path, data, mode)

    monkeypatch.setattr(synth_module, "write_atomic", interrupted_after_three)
    with pytest.raises(KeyboardInterrupt):
        write_synth(tmp_path / "k", 2_500, 20, 0)
    monkeypatch.setattr(synth_module, "write_atomic", real)
    assert len(list((tmp_path / "k").rglob("*.yaml"))) == 2  # cut short
    written = write_synth(tmp_path / "k", 2_500, 20, 0)
    assert sorted(p.name for p in (tmp_path / "k").rglob("*.yaml")) == sorted(p.name for p in written)
    assert (tmp_path / "k" / MARKER).read_text().split() == [str(p.relative_to(tmp_path / "k")) for p in written]
