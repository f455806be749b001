"""Every machine's netplan file is accepted by real `netplan generate --root-dir`, and the
systemd-networkd files netplan generates carry the same addresses, rules and routes as
the model. netplan (0.106) cannot set a route protocol, so protocols are not compared:
netplan's routes are installed as "static".

`netplan generate` is a Python front end over netplan's C generator; its start-up costs
~0.2 s, which for ~380 files is over a minute. The whole fleet therefore runs through the
generator it executes (/usr/libexec/netplan/generate, same parser and output), and a
sample of every machine kind through the `netplan generate` command itself.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from netcfg.designs import render as render_design
from netcfg.formats import render_host, templates
from netcfg.inventory.load import load_inventory
from netcfg.model.host import HostConfig
from netcfg.testing.compare import canonical
from netcfg.testing.readback import parse_networkd

INVENTORY = Path(__file__).resolve().parents[2] / "inventory"
NETPLAN = shutil.which("netplan")
GENERATOR = next(
    (p for p in ("/usr/libexec/netplan/generate", "/usr/lib/netplan/generate") if Path(p).exists()),
    None,
)

pytestmark = pytest.mark.skipif(NETPLAN is None, reason="netplan is not installed (apt-get install netplan.io)")


def generate(config: HostConfig, text: str, command: bool = True) -> dict[str, str]:
    """Run `netplan generate` (or, command=False, its generator) on one machine's YAML;
    the networkd files it writes, by name."""
    with tempfile.TemporaryDirectory() as root:
        conf = Path(root, "etc/netplan")
        conf.mkdir(parents=True)
        path = conf / f"{config.name}.yaml"
        path.write_text(text)
        path.chmod(0o600)
        argv = [NETPLAN, "generate"] if command or GENERATOR is None else [GENERATOR]
        done = subprocess.run([*argv, "--root-dir", root], capture_output=True, text=True)
        if done.returncode != 0 or "Error" in done.stderr or "WARNING" in done.stderr:
            raise AssertionError(f"{config.name}: netplan generate: {done.stderr.strip()}")
        out = Path(root, "run/systemd/network")
        return {p.name: p.read_text() for p in sorted(out.iterdir())} if out.is_dir() else {}


def compare(config: HostConfig, text: str, command: bool = True) -> str:
    generated = generate(config, text, command)
    parsed = parse_networkd(generated, config.kind, config.design)
    # netplan files carry no netcfg header (name, kind, design, segment): compare what
    # networkd will configure.
    got = canonical(parsed, without_protocol=True)
    want = canonical(config, without_protocol=True)
    problems = []
    if got.rules != want.rules:
        problems.append(f"rules differ: {set(got.rules) ^ set(want.rules)}")
    if got.routes != want.routes:
        problems.append(f"routes differ: {set(got.routes) ^ set(want.routes)}")
    got_addresses = {(i.name, i.bridge, i.addresses) for i in got.interfaces}
    want_addresses = {(i.name, i.bridge, i.addresses) for i in want.interfaces}
    if got_addresses != want_addresses:
        problems.append(f"interfaces differ: {got_addresses ^ want_addresses}")
    return f"{config.name}: " + "; ".join(problems) if problems else ""


@pytest.mark.parametrize("design", ["policy-routing", "flat"])
def test_every_netplan_file_generates_the_same_networkd_config(design):
    inventory = load_inventory(INVENTORY)
    configs = render_design(inventory, design)
    compiled = templates()
    jobs = [(c, render_host(c, ["netplan"], compiled)[f"netplan/{c.name}.yaml"]) for c in configs.values()]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: compare(*job, command=False), jobs))
    failures = [r for r in results if r]
    assert len(jobs) > 100
    assert not failures, f"{len(failures)} of {len(jobs)} differ:\n" + "\n".join(failures[:5])


@pytest.mark.parametrize("design", ["policy-routing", "flat"])
def test_netplan_command_on_one_machine_of_each_kind(design):
    inventory = load_inventory(INVENTORY)
    sample = {}
    for machine in inventory.machines.values():
        sample.setdefault(machine.kind, machine)
    configs = render_design(inventory, design, sample.values())
    compiled = templates()
    for config in configs.values():
        (text,) = render_host(config, ["netplan"], compiled).values()
        assert compare(config, text, command=True) == ""


def test_netplan_rejects_what_it_should():
    """The check can fail: netplan refuses a route table it cannot parse."""
    inventory = load_inventory(INVENTORY)
    config = render_design(inventory)["kvm01"]
    (text,) = render_host(config, ["netplan"], templates()).values()
    with pytest.raises(AssertionError, match="netplan generate"):
        generate(config, text.replace("table: 2", "table: two", 1))


def test_hand_built_edge_cases():
    """An interface without addresses, a router, an IPv6-only VM: netplan accepts all."""
    from netaddr import IPAddress, IPNetwork

    from netcfg.model.host import Kind
    from netcfg.model.inventory import Interface, Inventory, Machine, Network, Segment

    inventory = Inventory.build(
        [Segment("fe", 2, 20), Segment("v6", 5, 50)],
        [
            Network(IPNetwork("192.0.2.0/26"), "fe", IPAddress("192.0.2.1")),
            Network(IPNetwork("2001:db8:5::/64"), "v6", IPAddress("2001:db8:5::1")),
        ],
        [
            Machine("empty", Kind.VM, (Interface("fe", "ethfe", ()),)),
            Machine("kvm", Kind.KVM_HOST, (Interface("fe", "brfe", ()),)),
            Machine("six", Kind.VM, (Interface("v6", "ethv6", (IPAddress("2001:db8:5::6"),)),)),
            Machine("rt", Kind.ROUTER, (Interface("fe", "ethfe", (IPAddress("192.0.2.1"),)),)),
        ],
    )
    compiled = templates()
    for design in ("policy-routing", "flat"):
        for config in render_design(inventory, design).values():
            (text,) = render_host(config, ["netplan"], compiled).values()
            assert compare(config, text, command=False) == "", text


@pytest.mark.parametrize("design", ["policy-routing", "flat"])
def test_unusual_yaml_inventory(design):
    """Tables above 255, name: overrides, IPv6-only and IPv4-only machines, several
    networks on one interface: `netplan generate` gives the same rules and routes."""
    from netcfg.inventory.load import load_inventory_texts
    from tests.integration.test_iproute2_batch import UNUSUAL

    configs = render_design(load_inventory_texts(UNUSUAL, "unusual"), design)
    compiled = templates()
    for config in configs.values():
        (text,) = render_host(config, ["netplan"], compiled).values()
        assert compare(config, text, command=True) == ""
