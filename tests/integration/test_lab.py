"""`netcfg lab up|check|down` with real namespaces and real pings: two segments, a
router and six machines (a KVM host with bridge interfaces, three VMs, two physical)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from netcfg.cli import main
from netcfg.inventory.load import load_inventory
from netcfg.lab import netns as lab_mod
from tests.requirements import needs

pytestmark = needs("ip", "ping", root=True)

INVENTORY = """\
segments:
  fe:  {table: 2, priority: 20}
  srv: {table: 300, priority: 30}
networks:
  - {prefix: 203.0.113.0/26, segment: fe, gateway: 203.0.113.1}
  - {prefix: 198.51.100.64/27, segment: fe, gateway: 198.51.100.65}
  - {prefix: "2001:db8:10::/64", segment: fe, gateway: "2001:db8:10::1"}
  - {prefix: 10.20.0.0/16, segment: srv, gateway: 10.20.0.1, private: true}
  - {prefix: "2001:db8:20::/64", segment: srv, gateway: "2001:db8:20::1"}
machines:
  rt01:
    kind: router
    interfaces:
      fe: {addresses: [203.0.113.1, 198.51.100.65, "2001:db8:10::1"]}
      srv: {addresses: [10.20.0.1, "2001:db8:20::1"]}
  kvm01:
    kind: kvm-host
    memory_gib: 64
    nic_gbit: 10
    interfaces:
      fe: {addresses: [203.0.113.10]}
      srv: {addresses: [10.20.1.10, "2001:db8:20::10"]}
  vm1:
    kind: vm
    host: kvm01
    memory_gib: 4
    interfaces:
      fe: {addresses: [198.51.100.70, "2001:db8:10::70"]}
  vm2:
    kind: vm
    host: kvm01
    memory_gib: 4
    interfaces:
      fe: {addresses: [203.0.113.20]}
      srv: {addresses: [10.20.1.20, "2001:db8:20::20"]}
  vm3:
    kind: vm
    host: kvm01
    memory_gib: 4
    interfaces:
      fe: {addresses: [203.0.113.30, "2001:db8:10::30"]}
  pm1:
    kind: physical
    interfaces:
      fe: {addresses: [198.51.100.80]}
      srv: {addresses: [10.20.1.30, "2001:db8:20::30"]}
  pm2:
    kind: physical
    interfaces:
      srv: {addresses: [10.20.1.40, "2001:db8:20::40"]}
"""


def namespaces() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


@pytest.fixture
def inventory_dir(tmp_path: Path) -> Path:
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "all.yaml").write_text(INVENTORY)
    return tmp_path / "inventory"


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("NETCFG_RUN_DIR", str(tmp_path / "run"))
    return tmp_path / "run"


@pytest.fixture
def lab_names(run_dir):
    """Fresh lab names; whatever a test leaves up is taken down (and checked gone)."""
    before = namespaces()
    made: list[str] = []

    def new() -> str:
        made.append(f"t{uuid.uuid4().hex[:6]}")
        return made[-1]

    try:
        yield new
    finally:
        for name in made:
            lab_mod.down(name, state_dir=str(run_dir))
        leaked = {ns for ns in namespaces() - before if any(ns.startswith(f"{n}-") for n in made)}
        for ns in leaked:
            subprocess.run(["ip", "netns", "del", ns], check=False)
        assert not leaked, f"namespaces left behind: {leaked}"


@pytest.mark.parametrize("design", ["policy-routing", "flat"])
def test_lab_up_check_down(inventory_dir, lab_names, run_dir, capsys, design):
    name = lab_names()
    before = namespaces()
    assert main(["lab", "up", str(inventory_dir), "--design", design, "--name", name]) == 0
    out = capsys.readouterr().out
    assert f"kvm01 {name}-m-kvm01" in out
    # Only this lab's names: other tests may create namespaces at the same time.
    made = {ns for ns in namespaces() - before if ns.startswith(f"{name}-")}
    assert made == {f"{name}-sw"} | {f"{name}-m-{m}" for m in ("rt01", "kvm01", "vm1", "vm2", "vm3", "pm1", "pm2")}
    # interfaces are named as rendered; a KVM host's are bridges
    links = subprocess.run(
        ["ip", "-n", f"{name}-m-kvm01", "-d", "link", "show", "brfe"], capture_output=True, text=True, check=True
    ).stdout
    assert "bridge" in links

    assert main(["lab", "check", str(inventory_dir), "--name", name]) == 0
    report = capsys.readouterr().out
    assert report and "FAIL" not in report
    if design == "policy-routing":
        assert "pm1 198.51.100.80 -> kvm01 203.0.113.10: reply, routers forwarded 0" in report
    else:
        assert "expected via-router" in report and "private IPv4 is direct" in report
        assert "IPv6 is direct" in report

    # apply's locks are keyed on each namespace's identity; down removes them too.
    assert len(list(run_dir.glob("netns-*.lock"))) == len(made) - 1  # all but the switch
    assert main(["lab", "down", "--name", name]) == 0
    assert not (namespaces() & made)
    assert not (run_dir / f"lab-{name}.json").exists()
    assert not list(run_dir.glob("netns-*.lock"))


def test_traffic_through_the_router_stays_there_no_redirect_makes_it_direct(inventory_dir, lab_names, capsys):
    # Flat: vm3 (203.0.113.30) and vm1 (198.51.100.70) share segment fe, not a network.
    name = lab_names()
    assert main(["lab", "up", str(inventory_dir), "--design", "flat", "--name", name]) == 0
    vm3 = f"{name}-m-vm3"
    ping = ["ip", "netns", "exec", vm3, "ping", "-c", "5", "-i", "0.2", "-W", "1", "-q", "198.51.100.70"]
    subprocess.run(ping, capture_output=True, check=True)
    route = subprocess.run(["ip", "-n", vm3, "route", "get", "198.51.100.70"], capture_output=True, text=True).stdout
    assert "via 203.0.113.1 " in route and "redirected" not in route, route
    assert main(["verify", str(inventory_dir), "--design", "flat", "--flow", "vm3", "198.51.100.70"]) == 0
    assert "rt01" in capsys.readouterr().out


def test_check_without_ping_says_so(inventory_dir, lab_names, capsys, monkeypatch, tmp_path):
    name = lab_names()
    assert main(["lab", "up", str(inventory_dir), "--name", name]) == 0
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "ip").symlink_to(shutil.which("ip"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # ip, but no ping
    capsys.readouterr()
    assert main(["lab", "check", str(inventory_dir), "--name", name]) == 2
    assert "ping is not installed (apt-get install iputils-ping)" in capsys.readouterr().err


def test_check_fails_when_a_path_goes_through_the_router(inventory_dir, lab_names, capsys):
    name = lab_names()
    assert main(["lab", "up", str(inventory_dir), "--name", name]) == 0
    # Without its fe rules pm1 reaches kvm01's network through the router.
    for selector in (["from", "198.51.100.64/27"], ["to", "203.0.113.0/26"]):
        subprocess.run(
            ["ip", "-n", f"{name}-m-pm1", "rule", "del", *selector, "lookup", "2", "priority", "20"], check=True
        )
    capsys.readouterr()
    assert main(["lab", "check", str(inventory_dir), "--name", name]) == 4
    assert "FAIL fe pm1 198.51.100.80 -> kvm01 203.0.113.10" in capsys.readouterr().out


def test_check_fails_when_one_rule_is_missing_on_a_machine_no_probe_uses(inventory_dir, lab_names, capsys):
    # A single missing rule breaks no probed path (from and to rules back each other
    # up, and vm3 sends no probe), yet the machine no longer has its rendered routing.
    name = lab_names()
    assert main(["lab", "up", str(inventory_dir), "--name", name]) == 0
    subprocess.run(
        ["ip", "-n", f"{name}-m-vm3", "rule", "del", "to", "198.51.100.64/27", "lookup", "2", "priority", "20"],
        check=True,
    )
    capsys.readouterr()
    assert main(["lab", "check", str(inventory_dir), "--name", name]) == 4
    out, err = capsys.readouterr()
    assert (f"FAIL state vm3 {name}-m-vm3: missing   rule to 198.51.100.64/27 lookup 2 priority 20") in out
    assert "1 machine differs from the policy-routing render (vm3;" in err
    # The hint is a command that shows this drift: the lab's inventory and design.
    assert f"--inventory {inventory_dir} --design policy-routing` shows how" in err
    subprocess.run(["ip", "netns", "del", f"{name}-m-pm2"], check=True)
    assert main(["lab", "check", str(inventory_dir), "--name", name]) == 2
    assert f"lab {name} is broken" in capsys.readouterr().err


def test_drift_is_found_where_there_is_nothing_to_probe(inventory_dir, lab_names, capsys):
    name = lab_names()
    assert main(["lab", "up", str(inventory_dir), "--name", name, "--host", "vm3"]) == 0
    capsys.readouterr()
    assert main(["lab", "check", str(inventory_dir), "--name", name, "--hosts", "vm3"]) == 0
    assert "nothing to probe" in capsys.readouterr().err
    subprocess.run(
        ["ip", "-n", f"{name}-m-vm3", "rule", "del", "to", "198.51.100.64/27", "lookup", "2", "priority", "20"],
        check=True,
    )
    assert main(["lab", "check", str(inventory_dir), "--name", name, "--hosts", "vm3"]) == 4
    assert "1 machine differs" in capsys.readouterr().err


def test_check_without_inventory_uses_the_labs_own(inventory_dir, lab_names, capsys, monkeypatch):
    # `lab up` says "`netcfg lab check --name LAB` sends packets": from any directory.
    name = lab_names()
    monkeypatch.chdir(inventory_dir.parent)
    assert main(["lab", "up", inventory_dir.name, "--name", name]) == 0
    monkeypatch.chdir("/")
    capsys.readouterr()
    assert main(["lab", "check", "--name", name]) == 0
    assert "pm1 198.51.100.80 -> kvm01 203.0.113.10: reply" in capsys.readouterr().out


def test_two_labs_never_collide(inventory_dir, lab_names):
    first, second = lab_names(), lab_names()
    assert main(["lab", "up", str(inventory_dir), "--name", first, "--hosts", "pm*"]) == 0
    assert main(["lab", "up", str(inventory_dir), "--name", second, "--hosts", "pm*", "--design", "flat"]) == 0
    assert main(["lab", "check", str(inventory_dir), "--name", first, "--hosts", "pm*"]) in (0, 2)
    assert main(["lab", "down", "--name", first]) == 0
    assert f"{second}-m-pm1" in namespaces() and f"{first}-m-pm1" not in namespaces()
    assert main(["lab", "up", str(inventory_dir), "--name", second]) == 2  # already up
    assert main(["lab", "down", "--name", second]) == 0


@pytest.mark.parametrize("failure", [KeyboardInterrupt, RuntimeError])
def test_failed_or_interrupted_up_removes_everything(inventory_dir, lab_names, run_dir, monkeypatch, failure):
    name = lab_names()
    real = lab_mod.apply_host
    calls = []

    def apply_then_fail(*args, **kwargs):
        calls.append(args[0].name)
        if len(calls) == 3:
            raise failure("injected")
        return real(*args, **kwargs)

    monkeypatch.setattr(lab_mod, "apply_host", apply_then_fail)
    with pytest.raises(failure):
        lab_mod.up(load_inventory(inventory_dir), name, state_dir=str(run_dir))
    assert len(calls) == 3
    # Only this lab's names: other tests may create namespaces at the same time.
    assert not {ns for ns in namespaces() if ns.startswith(f"{name}-")}
    assert not (run_dir / f"lab-{name}.json").exists()


def test_down_of_a_lab_that_is_not_up_is_fine(lab_names, capsys):
    assert main(["lab", "down", "--name", lab_names()]) == 0
    assert "not up" in capsys.readouterr().err


def test_bad_lab_name_and_unmatched_hosts_are_input_errors(inventory_dir, lab_names):
    assert main(["lab", "up", str(inventory_dir), "--name", "../x"]) == 2
    assert main(["lab", "up", str(inventory_dir), "--name", lab_names(), "--hosts", "nope*"]) == 2
    assert main(["lab", "check", str(inventory_dir), "--name", lab_names()]) == 2  # not up


def test_an_interface_name_the_kernel_refuses_fails_up_cleanly(tmp_path, lab_names, run_dir, capsys):
    # Every namespace already has an `lo`: exit 2 naming it (validate refuses it before
    # the lab starts), not an internal error, and nothing left behind.
    (tmp_path / "lo").mkdir()
    (tmp_path / "lo" / "all.yaml").write_text(
        INVENTORY.replace("      fe: {addresses: [203.0.113.30, ", "      fe: {name: lo, addresses: [203.0.113.30, ")
    )
    name = lab_names()
    capsys.readouterr()
    assert main(["lab", "up", str(tmp_path / "lo"), "--name", name]) == 2
    assert "interface name 'lo' is the loopback" in capsys.readouterr().err
    assert not {ns for ns in namespaces() if ns.startswith(f"{name}-")}
    assert not (run_dir / f"lab-{name}.json").exists()


def test_a_fleet_half_migrated_is_built_and_probed_as_the_model_expects(inventory_dir, lab_names, tmp_path, capsys):
    """`migrate` plans the move (loose rp_filter: under strict, flat drops what the
    multi-homed machines receive from srv on fe); `lab up --stage PLAN:1` builds the
    fleet after stage 1, some machines flat, some not; `lab check` probes it with real
    packets, routers included, and finds every path where the model (strict, as the
    lab) expects it, and every machine as rendered under its own design."""
    plan = tmp_path / "plan.json"
    assert (
        main(
            [
                "migrate",
                "--to",
                "flat",
                str(inventory_dir),
                "--rp-filter",
                "loose",
                "--max-stage",
                "3",
                "--format",
                "json",
            ]
        )
        == 0
    )
    plan.write_text(capsys.readouterr().out)
    first = json.loads(plan.read_text())["stages"][0]["machines"]
    name = lab_names()
    assert main(["lab", "up", str(inventory_dir), "--stage", f"{plan}:1", "--name", name]) == 0
    capsys.readouterr()
    assert main(["lab", "check", "--name", name]) == 0
    report = capsys.readouterr().out
    assert "FAIL" not in report
    # A flat machine and a policy-routing one of one segment: the designs differ, and
    # the router is in the path (the flat one's side).
    crossing = [
        line
        for line in report.splitlines()
        if " -> " in line and ("policy-routing -> flat" in line or "flat -> policy-routing" in line)
    ]
    assert crossing and any("expected via-router" in line for line in crossing)
    # verify models the same fleet.
    assert main(["verify", str(inventory_dir), "--stage", f"{plan}:1", "--format", "json"]) in (0, 3)
    designs = json.loads(capsys.readouterr().out)["designs"]
    assert designs["flat"] == len(first)
