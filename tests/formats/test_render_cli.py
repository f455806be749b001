"""`netcfg render` and `netcfg show` through the real CLI entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from netaddr import IPAddress, IPNetwork

from netcfg.cli import main
from netcfg.designs import render as render_design
from netcfg.errors import InputError
from netcfg.formats import render_files, write_rendered
from netcfg.formats.output import MANIFEST
from netcfg.model.host import HostConfig, Kind
from netcfg.model.inventory import Interface, Inventory, Machine, Network, Segment

INVENTORY = Path(__file__).resolve().parents[2] / "inventory"


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".netcfg-render")
    }


def counts(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


def test_render_writes_all_formats_then_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["render", str(INVENTORY), "--out", str(out)]) == 0
    first = tree(out)
    n = len(first)
    assert counts(capsys.readouterr().err) == f"{n} files written, 0 unchanged"
    assert {p.split("/")[0] for p in first} == {"iproute2", "networkd", "netplan", "json"}
    assert "iproute2/kvm01.batch" in first and "iproute2/kvm01.6.batch" in first
    assert "networkd/kvm01/10-brfe.network" in first and "json/web01.json" in first
    assert (out / "netplan/web01.yaml").stat().st_mode & 0o777 == 0o600
    mtimes = {p: (out / p).stat().st_mtime_ns for p in first}

    assert main(["render", str(INVENTORY), "--out", str(out)]) == 0
    assert counts(capsys.readouterr().err) == f"0 files written, {n} unchanged"
    assert tree(out) == first
    assert {p: (out / p).stat().st_mtime_ns for p in first} == mtimes


def test_render_is_byte_stable_across_runs_and_directories(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["render", str(INVENTORY), "--out", str(a), "--design", "flat"]) == 0
    assert main(["render", str(INVENTORY), "--out", str(b), "--design", "flat"]) == 0
    assert tree(a) == tree(b)
    assert json.loads((a / "json/kvm01.json").read_text())["design"] == "flat"


def has_rules_on_fe_v4(config: dict) -> bool:
    """A machine that policy-routing gives IPv4 rules on fe (routers get no rules)."""
    return config["kind"] != "router" and any(
        i["segment"] == "fe" and any(":" not in a for a in i["addresses"]) for i in config["interfaces"]
    )


def test_only_changed_files_are_rewritten(tmp_path, capsys):
    inv = tmp_path / "inv"
    shutil.copytree(INVENTORY, inv)
    flat, legacy = tmp_path / "flat", tmp_path / "legacy"
    for out, design in ((flat, "flat"), (legacy, "policy-routing")):
        assert main(["render", str(inv), "--out", str(out), "-f", "json", "-d", design]) == 0
    capsys.readouterr()
    # A new public network on fe that no machine has an address in yet (its gateway is
    # not on the router yet either: no gateway).
    networks = inv / "networks.yaml"
    networks.write_text(networks.read_text() + '  - {prefix: "192.0.2.0/28", segment: fe}\n')
    total = len(tree(flat))
    # flat: nobody's config depends on it.
    assert main(["render", str(inv), "--out", str(flat), "-f", "json", "-d", "flat"]) == 0
    assert counts(capsys.readouterr().err) == f"0 files written, {total} unchanged"
    # policy-routing: every machine with an address on fe gets a rule and a route.
    argv = ["render", str(inv), "--out", str(legacy), "-f", "json", "-d", "policy-routing"]
    assert main(argv) == 0
    on_fe = sum(1 for p in tree(legacy) if has_rules_on_fe_v4(json.loads((legacy / p).read_text())))
    assert 0 < on_fe < total
    assert counts(capsys.readouterr().err) == f"{on_fe} files written, {total - on_fe} unchanged"


def test_stale_files_of_ours_are_removed_and_others_kept(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["render", str(INVENTORY), "--out", str(out), "-f", "json", "-f", "networkd"]) == 0
    foreign = out / "json" / "README.txt"
    foreign.write_text("not netcfg's")
    (out / "json" / "ghost.json").write_text("{}")  # not in the manifest: not ours
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["files"]["json/gone01.json"] = {"format": "json", "host": "gone01"}
    manifest["files"]["networkd/gone01/10-ethfe.network"] = {"format": "networkd", "host": "gone01"}
    (out / "json/gone01.json").write_text("{}")
    (out / "networkd/gone01").mkdir()
    (out / "networkd/gone01/10-ethfe.network").write_text("")
    (out / MANIFEST).write_text(json.dumps(manifest))
    capsys.readouterr()

    assert main(["render", str(INVENTORY), "--out", str(out), "-f", "json", "-f", "networkd"]) == 0
    assert counts(capsys.readouterr().err).endswith(", 2 removed")
    assert not (out / "json/gone01.json").exists()
    assert not (out / "networkd/gone01").exists()  # emptied directory pruned
    assert foreign.exists() and (out / "json/ghost.json").exists()


def test_host_and_format_selection_limit_writes_and_removals(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["render", str(INVENTORY), "--out", str(out)]) == 0
    everything = tree(out)
    capsys.readouterr()
    # Rendering a subset must not remove the files of the machines and formats left out.
    argv = ["render", str(INVENTORY), "--out", str(out), "--host", "kvm0*", "-f", "iproute2"]
    assert main(argv) == 0
    err = counts(capsys.readouterr().err)
    assert err.startswith("0 files written") and "removed" not in err
    assert tree(out) == everything
    fresh = tmp_path / "fresh"
    assert main([*argv[:3], str(fresh), *argv[4:]]) == 0
    written = tree(fresh)
    assert written and all(p.startswith("iproute2/kvm0") for p in written)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--host", "no-such-*"], "no machine matches 'no-such-*'"),
        (["--format", "xml"], "unknown format 'xml'"),
        (["--design", "mesh"], "unknown design 'mesh'"),
        (["--templates", "/nonexistent"], "templates directory does not exist"),
    ],
)
def test_bad_arguments_exit_2(tmp_path, capsys, argv, message):
    assert main(["render", str(INVENTORY), "--out", str(tmp_path / "o"), *argv]) == 2
    assert message in capsys.readouterr().err


def test_user_templates_override_only_what_they_contain(tmp_path, capsys):
    mine = tmp_path / "tpl" / "json"
    mine.mkdir(parents=True)
    (mine / "host.json.j2").write_text('{"host": {{ host.name | yaml_str }}}\n')
    out = tmp_path / "out"
    argv = ["render", str(INVENTORY), "--out", str(out), "--templates", str(tmp_path / "tpl")]
    assert main([*argv, "-f", "json", "-f", "iproute2", "--host", "web01"]) == 0
    assert (out / "json/web01.json").read_text() == '{"host": "web01"}\n'
    assert (out / "iproute2/web01.batch").read_text().startswith("# netcfg: host=web01")


@pytest.mark.parametrize(
    "source, message",
    [
        ("{{ host.nosuchfield }}", "template error"),
        ("{{ host.__class__.__mro__ }}", "template error"),  # the sandbox refuses
        ("{% for %}", "template syntax error"),
        ("\n{{ 1 / 0 }}", "host.json.j2:2:1: error: template error: division by zero"),
        ("{{ range(10**9) | list }}", "template error: Range too big"),
        (
            "\n\n{% include '/etc/passwd' %}",
            "host.json.j2:3:1: error: template error: included template not found: /etc/passwd",
        ),
    ],
)
def test_broken_user_templates_are_input_errors(tmp_path, capsys, source, message):
    mine = tmp_path / "tpl" / "json"
    mine.mkdir(parents=True)
    (mine / "host.json.j2").write_text(source)
    argv = ["render", str(INVENTORY), "--out", str(tmp_path / "o"), "-f", "json"]
    assert main([*argv, "--templates", str(tmp_path / "tpl")]) == 2
    assert message in capsys.readouterr().err


def test_a_template_that_is_a_fifo_is_refused_not_waited_for(tmp_path, capsys):
    mine = tmp_path / "tpl" / "json"
    mine.mkdir(parents=True)
    os.mkfifo(mine / "host.json.j2")
    argv = ["render", str(INVENTORY), "--out", str(tmp_path / "o"), "-f", "json", "--templates", str(tmp_path / "tpl")]
    done = subprocess.run([sys.executable, "-m", "netcfg", *argv], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "is not a regular file (a FIFO, a socket, a device): not read" in done.stderr
    assert not (tmp_path / "o").exists()


def tiny_inventory(name: str, interface: str = "ethfe") -> Inventory:
    return Inventory.build(
        [Segment("fe", 2, 20)],
        [Network(IPNetwork("192.0.2.0/24"), "fe", IPAddress("192.0.2.1"))],
        [Machine(name, Kind.VM, (Interface("fe", interface, (IPAddress("192.0.2.9"),)),))],
    )


@pytest.mark.parametrize("name", ["../etc", "a/b", ".hidden", "..", "-x", "x" * 64, "a b"])
def test_unsafe_machine_names_are_refused_before_writing(tmp_path, name):
    configs = render_design(tiny_inventory(name))
    with pytest.raises(InputError, match="cannot be used as a file name"):
        write_rendered(tmp_path / "out", configs)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.json"))


@pytest.mark.parametrize("name", ["Web01", "a..b", "x.json", "x" * 63])
def test_names_validate_accepts_also_render(tmp_path, capsys, name):
    """A machine name `netcfg validate` accepts is rendered, not refused (exit 0)."""
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(
        "segments: {fe: {table: 2, priority: 20}}\n"
        "networks: [{prefix: 192.0.2.0/24, segment: fe, gateway: 192.0.2.1}]\n"
        f"machines: {{'{name}': {{kind: physical, interfaces: {{fe: {{addresses: [192.0.2.9]}}}}}}}}\n"
    )
    assert main(["validate", str(inventory)]) == 0
    assert main(["render", str(inventory), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "json" / f"{name}.json").is_file()
    assert (tmp_path / "out" / "iproute2" / f"{name}.batch").is_file()


@pytest.mark.parametrize("iface", ["eth fe", "eth#1", "a/b", "x" * 16, "-x", ".."])
def test_unsafe_interface_names_are_refused(iface):
    with pytest.raises(InputError, match="cannot be written safely"):
        render_files(render_design(tiny_inventory("ok", iface)))


def test_show_prints_tables(capsys):
    assert main(["show", "kvm01", "-i", str(INVENTORY)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("kvm01: kvm-host, design policy-routing")
    for heading in ("addresses", "rules", "routes"):
        assert heading in text
    assert "203.0.113.2/25" in text and "brfe" in text and "198.51.100.128/28" in text


def test_show_flat_and_json(capsys):
    assert main(["show", "kvm01", "-i", str(INVENTORY), "--design", "flat", "--json"]) == 0
    config = HostConfig.from_dict(json.loads(capsys.readouterr().out))
    assert config.design == "flat" and not config.rules
    assert main(["show", "kvm01", "-i", str(INVENTORY), "--design", "flat"]) == 0
    assert "rules: none" in capsys.readouterr().out


def test_show_unknown_host_exits_2(capsys):
    assert main(["show", "kvm99", "-i", str(INVENTORY)]) == 2
    err = capsys.readouterr().err
    assert "unknown machine 'kvm99'" in err


def test_progress_bar_path_writes_the_same(tmp_path, capsys, monkeypatch):
    import netcfg.cli.progress as progress_cli
    import netcfg.cli.render as render_cli

    monkeypatch.setattr(progress_cli, "show_progress", lambda: True)
    monkeypatch.setattr(render_cli, "PROGRESS_ABOVE", 0)
    assert main(["render", str(INVENTORY), "--out", str(tmp_path / "bar"), "-f", "json"]) == 0
    assert counts(capsys.readouterr().err).endswith("files written, 0 unchanged")
    monkeypatch.setattr(progress_cli, "show_progress", lambda: False)
    assert main(["render", str(INVENTORY), "--out", str(tmp_path / "plain"), "-f", "json"]) == 0
    assert tree(tmp_path / "bar") == tree(tmp_path / "plain")


def test_same_bytes_under_different_hash_seeds(tmp_path):
    """No set or dict-order dependence: two processes with different hash seeds agree."""
    import os
    import subprocess
    import sys

    for seed in ("1", "4242"):
        subprocess.run(
            [sys.executable, "-m", "netcfg", "render", str(INVENTORY), "--out", str(tmp_path / seed)],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
    assert tree(tmp_path / "1") == tree(tmp_path / "4242")
    assert (tmp_path / "1" / MANIFEST).read_bytes() == (tmp_path / "4242" / MANIFEST).read_bytes()


def test_out_inside_the_inventory_is_refused(tmp_path, capsys):
    inv = tmp_path / "inv"
    shutil.copytree(INVENTORY, inv)
    assert main(["render", str(inv), "--out", str(inv / "rendered")]) == 2
    assert "--out is inside the inventory directory" in capsys.readouterr().err
    assert not (inv / "rendered").exists()


def test_netplan_refuses_a_table_it_would_turn_negative(tmp_path, capsys):
    """netplan 0.106 writes table 4294967295 as `Table=-1`: refused before any file."""
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(
        "segments: {fe: {table: 4294967295, priority: 20}}\n"
        "networks: [{prefix: 192.0.2.0/24, segment: fe, gateway: 192.0.2.1}]\n"
        "machines: {a1: {kind: physical, interfaces: {fe: {addresses: [192.0.2.9]}}}}\n"
    )
    out = tmp_path / "out"
    assert main(["render", str(inventory), "--out", str(out)]) == 2
    # Named at the segment, not at the first machine that uses its table.
    expected = f"{inventory}:1:12: error: segment fe: netplan cannot express table 4294967295"
    assert expected in capsys.readouterr().err
    assert not out.exists()
    argv = ["render", str(inventory), "--out", str(out), "-f", "iproute2", "-f", "networkd"]
    assert main(argv) == 0
    assert "table 4294967295" in (out / "iproute2" / "a1.batch").read_text()
    flat = ["render", str(inventory), "--out", str(tmp_path / "flat"), "--design", "flat"]
    assert main(flat) == 0  # no tables under flat


def test_a_user_template_failing_on_one_machine_leaves_the_directory_as_it_was(tmp_path, capsys):
    """Every machine is rendered before the first file is written: exit 2, and the files,
    manifest and state of the last run are untouched."""
    out = tmp_path / "out"
    argv = ["render", str(INVENTORY), "--out", str(out), "-f", "json", "-f", "iproute2"]
    assert main(argv) == 0
    before = {p: (p.read_bytes(), p.stat().st_ino) for p in out.rglob("*") if p.is_file()}
    mine = tmp_path / "tpl" / "json"
    mine.mkdir(parents=True)
    (mine / "host.json.j2").write_text(  # fails on web01, late in name order
        '{% if host.name == "web01" %}{{ 1 / 0 }}{% endif %}{{ host.name }}\n'
    )
    assert main([*argv, "--templates", str(tmp_path / "tpl")]) == 2
    assert "division by zero" in capsys.readouterr().err
    assert {p: (p.read_bytes(), p.stat().st_ino) for p in out.rglob("*") if p.is_file()} == before


def test_a_failure_half_way_leaves_the_files_written_listed_as_ours(tmp_path, monkeypatch, capsys):
    """Files written before a run stops (a disk error, Ctrl-C) stay in the manifest, so
    the next run updates or removes them instead of leaving them behind forever."""
    from netcfg import formats

    real = formats.render_host

    def fail_on_kvm01(config, *args, **kwargs):
        if config.name == "kvm01":
            raise InputError("out of space, say")
        return real(config, *args, **kwargs)

    monkeypatch.setattr(formats, "render_host", fail_on_kvm01)
    out = tmp_path / "out"
    assert main(["render", str(INVENTORY), "--out", str(out), "-f", "json", "-f", "iproute2"]) == 2
    # Beside the manifest and state: the run's marker and journal, which the next run reads.
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and not p.name.startswith(".netcfg-")}
    assert "json/backup01.json" in written  # before kvm01
    listed = set(json.loads((out / MANIFEST).read_text())["files"])
    assert written <= listed


def test_an_unwritable_output_directory_is_invalid_input(tmp_path, capsys):
    from netcfg.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["render", "inventory", "--out", str(blocker / "out"), "-f", "json", "--host", "web01"]) == 2
    assert "error: cannot" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args", [["render", str(INVENTORY), "--out", ""], ["synth", "--machines", "10", "--networks", "4", "--out", ""]]
)
def test_an_empty_out_is_refused_not_the_current_directory(args, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # where an empty --out used to write
    assert main(args) == 2
    assert "--out: error: is empty" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
