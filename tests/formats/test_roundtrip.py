"""Every machine of the bundled inventory, both designs: the iproute2, networkd and json
files read back into exactly the model they were rendered from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netcfg.designs import render as render_design
from netcfg.formats import FORMAT_NAMES, render_host, templates
from netcfg.inventory.load import load_inventory
from netcfg.testing.compare import canonical
from netcfg.testing.readback import parse_files

INVENTORY = Path(__file__).resolve().parents[2] / "inventory"


@pytest.fixture(scope="module")
def inventory():
    return load_inventory(INVENTORY)


@pytest.mark.parametrize("design", ["policy-routing", "flat"])
@pytest.mark.parametrize("fmt", ["iproute2", "networkd", "json"])
def test_every_machine_reads_back(inventory, design, fmt):
    compiled = templates()
    configs = render_design(inventory, design)
    assert len(configs) == len(inventory.machines)
    mismatched = []
    for name, config in configs.items():
        files = render_host(config, [fmt], compiled)
        if canonical(parse_files(fmt, files)) != canonical(config):
            mismatched.append(name)
    assert not mismatched, f"{fmt}/{design}: {mismatched[:10]}"


@pytest.mark.parametrize("design", ["policy-routing", "flat"])
def test_json_is_exactly_the_canonical_dump(inventory, design):
    compiled = templates()  # one cache of fragments across all machines, as in a run
    for name, config in render_design(inventory, design).items():
        (text,) = render_host(config, ["json"], compiled).values()
        assert text == json.dumps(config.to_dict(), sort_keys=True, indent=2) + "\n", name
        assert parse_files("json", {f"{name}.json": text}) == config  # order included


def test_a_kvm_host_gets_bridges_in_every_format(inventory):
    config = render_design(inventory)["kvm01"]
    files = render_host(config, FORMAT_NAMES, templates())
    assert "# interface brfe segment=fe bridge=yes" in files["iproute2/kvm01.batch"]
    # The links exist on a real host: only --create-links (an empty namespace) adds them.
    assert "link add" not in files["iproute2/kvm01.batch"]
    created = render_host(config, ["iproute2"], templates(create_links=True))["iproute2/kvm01.batch"]
    assert "link add name brfe type bridge" in created
    assert "Kind=bridge" in files["networkd/kvm01/10-brfe.netdev"]
    assert "  bridges:\n" in files["netplan/kvm01.yaml"]
    assert "  ethernets:" not in files["netplan/kvm01.yaml"]


def test_ipv6_lines_live_in_the_inet6_file(inventory):
    config = render_design(inventory)["kvm01"]
    files = render_host(config, ["iproute2"], templates())
    main, six = files["iproute2/kvm01.batch"], files["iproute2/kvm01.6.batch"]
    routes_and_rules = lambda text: [  # noqa: E731
        line for line in text.splitlines() if line.startswith(("route ", "rule "))
    ]
    assert all(":" not in line for line in routes_and_rules(main))
    assert routes_and_rules(six) and all(":" in line for line in routes_and_rules(six))
    # Every route is ours: numeric protocol 77 and a numeric table.
    for line in routes_and_rules(main) + routes_and_rules(six):
        if line.startswith("route "):
            assert line.endswith(" proto 77")
            assert " table main" not in line


@pytest.mark.parametrize(
    "fmt, files, message",
    [
        ("iproute2", {"h.batch": "# x\nroute replace 10.0.0.0/8 dev eth0\n"}, "h.batch:2:1: error: cannot read"),
        ("iproute2", {"h.batch": "neigh add 10.0.0.1 dev eth0\n"}, "h.batch:1:1: error: not a line"),
        (
            "networkd",
            {"10-e.network": "[Match]\nName=e\n[RoutingPolicyRule]\nTo=10.0.0.0/8\n"},
            "10-e.network: error: cannot read [RoutingPolicyRule]",
        ),
    ],
)
def test_parsers_report_where_a_file_is_wrong(fmt, files, message):
    from netcfg.errors import InputError

    with pytest.raises(InputError) as caught:
        parse_files(fmt, files)
    assert message in str(caught.value)
