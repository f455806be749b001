"""One test per validation check: a minimal bad inventory, the exact message and where."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from netcfg.cli import main

# A minimal valid inventory; each case below breaks one thing in a file of its own, so
# line and column are those of that small file.
BASE = """\
segments:
  fe: {table: 2, priority: 20}
  srv: {table: 3, priority: 30}
networks:
  - {prefix: 203.0.113.0/26, segment: fe, gateway: 203.0.113.1}
  - {prefix: 10.20.0.0/16, segment: srv, gateway: 10.20.0.1, private: true}
  - {prefix: "2001:db8:20::/64", segment: srv, gateway: "2001:db8:20::1"}
machines:
  kvm01:
    kind: kvm-host
    memory_gib: 64
    nic_gbit: 10
    interfaces:
      fe: {addresses: [203.0.113.10]}
      srv: {addresses: [10.20.1.10, "2001:db8:20::10"]}
  vm01:
    kind: vm
    host: kvm01
    memory_gib: 16
    interfaces:
      fe: {addresses: [203.0.113.20]}
"""


def run_validate(tmp_path: Path, capsys, extra: str | None = None, base: str = BASE):
    (tmp_path / "base.yaml").write_text(base)
    if extra is not None:
        (tmp_path / "more.yaml").write_text(textwrap.dedent(extra))
    code = main(["validate", str(tmp_path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def expect(tmp_path, capsys, extra, *lines, base=BASE):
    """The run exits 2 and prints exactly these `line:col: message` problems of more.yaml
    (or base.yaml when the text starts with 'base.yaml:')."""
    code, _, errors = run_validate(tmp_path, capsys, extra, base)
    wanted = [
        str(tmp_path / line) if line.startswith("base.yaml:") else f"{tmp_path / 'more.yaml'}:{line}" for line in lines
    ]
    assert errors == wanted
    assert code == 2


def test_valid_inventory_prints_summary(tmp_path, capsys):
    code, out, err = run_validate(tmp_path, capsys)
    assert code == 0
    assert err == []
    assert out.strip() == (
        f"{tmp_path}: valid: 2 segments, 3 networks (2 IPv4, 1 IPv6), 2 machines (1 kvm-host, "
        "1 vm), 4 addresses; design policy-routing, reconfigure live"
    )


def test_yaml_syntax(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "machines:\n  web1: {kind: vm\n",
        "3:1: error: YAML syntax: did not find expected ',' or '}'",
    )


def test_a_control_character_is_named_where_it_is_on_one_line(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        'segments: {}\nx: "\x1b"\n',
        "2:5: error: YAML syntax: unacceptable character #x001b: control characters are not allowed",
    )


def test_yaml_syntax_second_document(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "---\nmachines: {}\n---\nsegments: {}\n",
        "3:1: error: YAML syntax: expected a single document in the stream, but found another document",
    )


def test_unknown_key_with_suggestion(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "segments:\n  mgm: {table: 4, priorty: 40}\n",
        "2:8: error: missing key 'priority' in segment 'mgm'",
        "2:19: error: unknown key 'priorty' in segment 'mgm' (did you mean 'priority'?)",
    )


def test_unknown_top_level_key(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "machine:\n  x: {}\n",
        "1:1: error: unknown key 'machine' in top level (did you mean 'machines'?)",
    )


def test_missing_key(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "networks:\n  - {prefix: 192.0.2.0/24, gateway: 192.0.2.1}\n",
        "2:5: error: missing key 'segment' in a network",
    )


def test_mistyped_key(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        'segments:\n  mgm: {table: "4", priority: 40}\n',
        "2:16: error: expected an integer, got '4'",
    )


def test_mistyped_structure(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "networks:\n  prefix: 192.0.2.0/24\n",
        "2:3: error: networks must be a list, not a mapping",
    )


def test_prefix_with_host_bits(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "networks:\n  - {prefix: 192.0.2.5/24, segment: fe}\n",
        "2:14: error: prefix 192.0.2.5/24 has host bits set (did you mean 192.0.2.0/24?)",
    )


def test_overlapping_networks(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "networks:\n  - {prefix: 203.0.113.32/27, segment: fe}\n",
        f"2:5: error: network 203.0.113.32/27 overlaps network 203.0.113.0/26 (at {tmp_path / 'base.yaml'}:5:5)",
    )


def test_a_network_defined_twice_inside_a_wider_one_is_said_to_be_twice(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "networks:\n  - {prefix: 10.20.5.0/24, segment: srv}\n  - {prefix: 10.20.5.0/24, segment: fe}\n",
        f"2:5: error: network 10.20.5.0/24 overlaps network 10.20.0.0/16 (at {tmp_path / 'base.yaml'}:6:5)",
        f"3:5: error: network 10.20.5.0/24 defined twice (first at {tmp_path / 'more.yaml'}:2:5)",
    )


def test_gateway_outside_network(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "networks:\n  - {prefix: 192.0.2.0/25, segment: fe, gateway: 192.0.2.129}\n",
        "2:50: error: gateway 192.0.2.129 is outside its network 192.0.2.0/25",
    )


@pytest.mark.parametrize(("gateway", "which"), [("192.0.2.0", "network"), ("192.0.2.127", "broadcast")])
def test_gateway_on_network_or_broadcast_address(tmp_path, capsys, gateway, which):
    expect(
        tmp_path,
        capsys,
        f"networks:\n  - {{prefix: 192.0.2.0/25, segment: fe, gateway: {gateway}}}\n",
        f"2:50: error: gateway {gateway} is the {which} address of 192.0.2.0/25 (use a host address of the network)",
    )


def test_address_outside_every_network_of_its_segment(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        """\
        machines:
          db1:
            kind: physical
            interfaces:
              fe: {addresses: [10.20.5.5]}
        """,
        "5:24: error: address 10.20.5.5 of machine 'db1' is in no IPv4 network of segment"
        " 'fe' (10.20.0.0/16 is on segment 'srv')",
    )


def test_duplicate_address(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        """\
        machines:
          db1:
            kind: physical
            interfaces:
              srv: {addresses: ["2001:db8:20::10"]}
        """,
        f"5:25: error: address 2001:db8:20::10 of machine 'db1' is already used by machine"
        f" 'kvm01' (at {tmp_path / 'base.yaml'}:15:37)",
    )


def test_interface_on_unknown_segment(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        """\
        machines:
          db1:
            kind: physical
            interfaces:
              sto: {addresses: []}
        """,
        "5:7: error: interface of machine 'db1' is on unknown segment 'sto' (known segments: fe, srv)",
    )


def test_vm_on_unknown_host(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        """\
        machines:
          vm02: {kind: vm, host: kvm99, memory_gib: 4, interfaces: {}}
        """,
        "2:26: error: VM 'vm02' runs on unknown host 'kvm99'",  # at the host: value
    )


def test_vm_on_a_machine_that_is_not_a_kvm_host(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        """\
        machines:
          db1: {kind: physical, interfaces: {}}
          vm02: {kind: vm, host: db1, memory_gib: 4, interfaces: {}}
        """,
        "3:26: error: VM 'vm02' runs on 'db1', which is a physical, not a kvm-host",
    )


def test_vms_need_more_memory_than_their_host_has(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        """\
        machines:
          vm02: {kind: vm, host: kvm01, memory_gib: 64, interfaces: {}}
        """,
        "base.yaml:9:3: error: the VMs of 'kvm01' need 80 GiB but it has 64 GiB (move 16 GiB of VMs to another host)",
    )


def test_machine_defined_twice_across_files(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        """\
        machines:
          vm01: {kind: vm, host: kvm01, memory_gib: 4, interfaces: {}}
        """,
        f"2:3: error: machine 'vm01' defined twice (first at {tmp_path / 'base.yaml'}:16:3)",
    )


def test_segments_share_a_table(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "segments:\n  mgm: {table: 3, priority: 40}\n",
        "2:3: error: segment 'mgm' uses table 3, already used by segment 'srv'",
    )


def test_segments_share_a_priority(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "segments:\n  mgm: {table: 4, priority: 30}\n",
        "2:3: error: segment 'mgm' uses priority 30, already used by segment 'srv'",
    )


@pytest.mark.parametrize("table", [253, 254, 255])
def test_reserved_table(tmp_path, capsys, table):
    expect(
        tmp_path,
        capsys,
        f"segments:\n  mgm: {{table: {table}, priority: 40}}\n",
        f"2:3: error: segment 'mgm' uses reserved table {table} (tables 0, 253 (default),"
        " 254 (main) and 255 (local) belong to the kernel)",
    )


def test_table_zero_is_out_of_range(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "segments:\n  mgm: {table: 0, priority: 40}\n",
        "2:16: error: 0 is below the minimum 1",
    )


def test_address_family_without_gateway_for_its_default_route(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        """\
        networks:
          - {prefix: "2001:db8:10::/64", segment: fe}
        machines:
          web1:
            kind: physical
            interfaces:
              fe: {addresses: [203.0.113.30, "2001:db8:10::30"]}
        """,
        "7:38: error: machine 'web1' needs an IPv6 default route via network 2001:db8:10::/64,"
        f" which has no gateway (add gateway: to network 2001:db8:10::/64 at"
        f" {tmp_path / 'more.yaml'}:2:5)",
    )


@pytest.mark.parametrize("name", ["../etc", "web 1", "-rf", ".hidden"])
def test_machine_name_unsafe_as_file_name(tmp_path, capsys, name):
    expect(
        tmp_path,
        capsys,
        f'machines:\n  "{name}": {{kind: physical, interfaces: {{}}}}\n',
        f"2:3: error: machine name '{name}' is not safe as a file name (use letters, digits,"
        " '.', '_' and '-', starting with a letter or digit, at most 63 characters)",
    )


def test_interface_name_too_long(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "machines:\n  db1: {kind: physical, interfaces: {fe: {name: averyveryverylongname}}}\n",
        "2:43: error: interface name 'averyveryverylongname' is not a valid Linux interface"
        " name (at most 15 letters, digits, '.', '_' or '-', starting with a letter or digit;"
        " set name: to override)",
    )


def test_two_interfaces_of_a_machine_with_one_name(tmp_path, capsys):
    """`ip link add` would fail on the second: both segments cannot share one link."""
    expect(
        tmp_path,
        capsys,
        """\
        machines:
          db1:
            kind: physical
            interfaces:
              fe: {addresses: [203.0.113.30]}
              srv: {addresses: [10.20.1.30], name: ethfe}
        """,
        "6:7: error: interface name 'ethfe' of machine 'db1' is already used by its interface"
        " on segment 'fe' (give one of them another name:)",
    )


@pytest.mark.parametrize("name", ["-x", "..", "_br", "eth#1"])
def test_interface_name_that_render_would_refuse(tmp_path, capsys, name):
    """A leading '-' would be an option to `ip`: validate refuses what render refuses."""
    expect(
        tmp_path,
        capsys,
        f'machines:\n  db1: {{kind: physical, interfaces: {{fe: {{name: "{name}"}}}}}}\n',
        f"2:43: error: interface name '{name}' is not a valid Linux interface"
        " name (at most 15 letters, digits, '.', '_' or '-', starting with a letter or digit;"
        " set name: to override)",
    )


def test_key_that_does_not_apply_to_the_kind(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "machines:\n  db1: {kind: physical, host: kvm01, interfaces: {}}\n",
        "2:25: error: key 'host' does not apply to a physical (only to a vm)",
    )


def test_yaml_aliases_are_refused(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "machines:\n  db1: &a {kind: physical, interfaces: {}}\n  db2: *a\n",
        "2:8: error: YAML anchors and aliases are not supported in an inventory",
    )


def test_every_problem_is_reported_at_once(tmp_path, capsys):
    code, _, errors = run_validate(
        tmp_path,
        capsys,
        "segments:\n  mgm: {table: 254, priority: 30}\nnetworks:\n  - {prefix: 192.0.2.5/24, segment: mgm}\n",
    )
    assert code == 2
    assert len(errors) == 3


def test_a_bad_key_does_not_hide_the_other_problems_of_a_machine(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        """\
        machines:
          vm9:
            kind: vm
            host: kvm01
            memory_gib: -4
            nic_gbit: 10
            interfaces:
              fe: {addresses: [203.0.113.300], mtu: 9000}
              srv: {addresses: 10.20.1.99}
        """,
        "5:17: error: -4 is below the minimum 0.001",
        "6:5: error: key 'nic_gbit' does not apply to a vm (only to a kvm-host)",
        "8:24: error: '203.0.113.300' is not a valid IPv4 or IPv6 address",
        "8:40: error: unknown key 'mtu' in interface 'fe' of machine 'vm9' (known keys: addresses, name)",
        "9:24: error: addresses must be a list, not '10.20.1.99'",
    )


def test_every_policy_problem_is_reported_at_once(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        """\
        policy:
          design: curvy
          seatbelt: {max_fraction: 2}
          rollout: {soak_s: -3}
        """,
        "2:11: error: 'curvy' is not a valid value (one of policy-routing, flat)",
        "3:28: error: 2 is above the maximum 1",
        "4:21: error: -3 is below the minimum 0",
    )


def test_sizes_and_times_beyond_any_machine_are_refused(tmp_path, capsys):
    # 10^20 GiB was accepted, and the planner's sums then lost the other hosts' free memory.
    expect(
        tmp_path,
        capsys,
        """\
        machines:
          kvm9: {kind: kvm-host, memory_gib: 99999999999999999999, nic_gbit: 1e9, interfaces: {}}
          kvm8: {kind: kvm-host, memory_gib: 1048576.5, nic_gbit: 100000.01, interfaces: {}}
        policy:
          rollout: {reconfigure_s: 1000000000, soak_s: 1e300}
        """,
        "2:38: error: 1e+20 is above the maximum 1048576",
        "2:70: error: 1000000000 is above the maximum 100000",
        "3:38: error: 1048576.5 is above the maximum 1048576",
        "3:59: error: 100000.01 is above the maximum 100000",
        "5:28: error: 1000000000 is above the maximum 604800",
        "5:48: error: 1e+300 is above the maximum 604800",
    )


def test_rollout_waves_each_problem_at_its_entry(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        """\
        policy:
          rollout: {waves: [canary, 5%, rest, 0%, bogus, 10, canary]}
        """,
        "2:33: error: policy.rollout.waves: `rest` can only be the last wave (it takes every machine left)",
        "2:39: error: policy.rollout.waves: '0%': a percentage must be above 0 % and below 100 % "
        "(the last wave is `rest`)",
        "2:43: error: policy.rollout.waves: 'bogus' is not a wave size: expected canary, a percentage such as 5%, "
        "a number of machines, or rest",
        "2:54: error: policy.rollout.waves: `canary` can only be the first wave",
        "2:54: error: policy.rollout.waves: the last wave must be `rest` (it takes every machine left)",
    )


@pytest.mark.parametrize(
    "waves, error",
    [
        (
            "[rest]",
            "2:21: error: policy.rollout.waves: needs at least two waves, the last one `rest`: never every "
            "machine in one wave",
        ),
        (
            "[canary, 25%]",
            "2:29: error: policy.rollout.waves: the last wave must be `rest` (it takes every machine left)",
        ),
        ("5", "2:20: error: policy.rollout.waves must be a list, not '5'"),
        (
            "[canary, 100%, rest]",
            "2:29: error: policy.rollout.waves: '100%': a percentage must be above 0 % and "
            "below 100 % (the last wave is `rest`)",
        ),
    ],
)
def test_rollout_waves_shape(tmp_path, capsys, waves, error):
    expect(tmp_path, capsys, f"policy:\n  rollout: {{waves: {waves}}}\n", error)


def test_rollout_waves_accepted_forms(tmp_path, capsys):
    from netcfg.inventory.load import load_inventory

    (tmp_path / "base.yaml").write_text(BASE + "policy:\n  rollout: {waves: [Canary, 2.5 %, 10, 50%, REST]}\n")
    assert load_inventory(tmp_path).policy.rollout.waves == ("canary", "2.5%", "10", "50%", "rest")
    (tmp_path / "base.yaml").write_text(BASE)
    assert load_inventory(tmp_path).policy.rollout.waves == ("canary", "5%", "25%", "rest")  # the default


@pytest.mark.parametrize(
    "network, error",
    [
        (
            "{prefix: 203.0.113.64/26, segment: fe, gateway: 203.0.113.65, vlan: 7}",
            "2:67: error: unknown key 'vlan' in a network (known keys: prefix, segment, gateway, private, description)",
        ),
        (
            "{prefix: 203.0.113.70/26, segment: fe, gateway: 203.0.113.65}",
            "2:14: error: prefix 203.0.113.70/26 has host bits set (did you mean 203.0.113.64/26?)",
        ),
        (
            "{prefix: 203.0.113.64/26, segment: fe, gateway: bogus}",
            "2:53: error: 'bogus' is not a valid IPv4 or IPv6 address",
        ),
    ],
)
def test_addresses_of_a_network_that_failed_to_parse_are_not_reported_again(tmp_path, capsys, network, error):
    expect(
        tmp_path,
        capsys,
        f"networks:\n  - {network}\n"
        "machines:\n  db1: {kind: physical, interfaces: {fe: {addresses: [203.0.113.70]}}}\n",
        error,
    )


def test_addresses_of_a_network_on_an_unknown_segment_are_not_reported_again(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "networks:\n  - {prefix: 203.0.113.64/26, segment: fee, gateway: 203.0.113.65}\n"
        "machines:\n  db1: {kind: physical, interfaces: {fe: {addresses: [203.0.113.70]}}}\n",
        "2:40: error: network 203.0.113.64/26 is on unknown segment 'fee' (known segments: fe, srv)",
    )


def test_missing_inventory_is_invalid_input(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope")]) == 2
    assert "no such inventory file or directory" in capsys.readouterr().err


def test_approvals_directory_is_not_inventory(tmp_path, capsys):
    (tmp_path / "approvals").mkdir()
    (tmp_path / "approvals" / "x.yaml").write_text("digest: abc\nby: ops\nreason: ok\n")
    code, _, errors = run_validate(tmp_path, capsys)
    assert (code, errors) == (0, [])


def test_single_file_inventory(tmp_path, capsys):
    path = tmp_path / "one.yaml"
    path.write_text(BASE)
    assert main(["validate", str(path)]) == 0


def test_interface_named_like_the_loopback(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        "machines:\n  db1: {kind: physical, interfaces: {fe: {name: lo}}}\n",
        "2:43: error: interface name 'lo' is the loopback every namespace already has (choose another name:)",
    )


@pytest.mark.parametrize("name", ["all", "default"])
def test_interface_named_like_the_kernels_settings_of_every_interface(tmp_path, capsys, name):
    # `ip link add name all ...`: EINVAL.
    expect(
        tmp_path,
        capsys,
        f"machines:\n  db1: {{kind: physical, interfaces: {{fe: {{name: {name}}}}}}}\n",
        f"2:43: error: interface name '{name}' is refused by the kernel: it names the settings of every"
        f" interface (/proc/sys/net/ipv4/conf/{name}) (choose another name:)",
    )


def test_a_gateway_no_router_of_its_segment_holds(tmp_path, capsys):
    expect(
        tmp_path,
        capsys,
        """\
        networks:
          - {prefix: 198.51.100.0/26, segment: fe, gateway: 198.51.100.1}
        machines:
          rt01:
            kind: router
            interfaces:
              fe: {addresses: [203.0.113.1]}
        """,
        "2:53: error: gateway 198.51.100.1 of network 198.51.100.0/26 is held by no router of segment 'fe'"
        " (add 198.51.100.1 to the fe interface of rt01)",
    )


def test_every_problem_of_a_machine_at_once(tmp_path, capsys):
    # A machine with a bad key still has its addresses checked: the duplicate is shown too.
    expect(
        tmp_path,
        capsys,
        """\
        machines:
          web01:
            kind: physical
            colour: blue
            interfaces:
              fe: {addresses: [203.0.113.20]}
        """,
        "4:5: error: unknown key 'colour' in machine 'web01' (known keys: kind, memory_gib, nic_gbit, host,"
        " dirty_mib_s, service, design, interfaces, description)",
        "6:24: error: address 203.0.113.20 of machine 'web01' is already used by machine 'vm01'"
        f" (at {tmp_path / 'base.yaml'}:21:24)",
    )


def test_a_file_that_cannot_be_read_hides_no_other_problem(tmp_path, capsys):
    """Every file's own problems at once, also beside one not UTF-8, too deep, a FIFO or a
    link out of the inventory; but no check across files, which would report what the
    unread file defines as missing wherever it is used."""
    import os

    inventory = tmp_path / "inv"
    inventory.mkdir()
    (inventory / "0-unknown.yaml").write_text("yyy: 1\n")
    (inventory / "a-bad.yaml").write_bytes(b"segments:\n  fe: {table: 2, priority: 20}\n  \xff: 1\n")
    (inventory / "b-unknown.yaml").write_text("zzz: 1\n")
    (inventory / "c-fifo.yaml").unlink(missing_ok=True)
    os.mkfifo(inventory / "c-fifo.yaml")
    (inventory / "d-out.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    (inventory / "machines.yaml").write_text(
        "machines:\n  db1: {kind: physical, interfaces: {fe: {addresses: [10.0.0.5]}}}\n"
        "  db2: {kind: physical, interfaces: {fe: {addresses: [10.0.0.5]}}}\n"
    )
    assert main(["validate", str(inventory)]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert f"{inventory / 'a-bad.yaml'}:3:3: error: is not UTF-8 text: invalid start byte" in errors
    assert any(e.startswith(f"{inventory / '0-unknown.yaml'}:1:1: error: unknown key 'yyy'") for e in errors)
    assert any(e.startswith(f"{inventory / 'b-unknown.yaml'}:1:1: error: unknown key 'zzz'") for e in errors)
    assert any(e.startswith(f"{inventory / 'c-fifo.yaml'}: error: is not a regular file") for e in errors)
    assert any(e.startswith(f"{inventory / 'd-out.yaml'}: error: is a symbolic link") for e in errors)
    assert any("address 10.0.0.5 of machine 'db2' is already used by machine 'db1'" in e for e in errors), errors
    assert not any("unknown segment" in e for e in errors), errors


def test_a_yaml_syntax_error_is_not_followed_by_what_its_file_would_have_defined(tmp_path, capsys):
    inventory = tmp_path / "inv"
    inventory.mkdir()
    (inventory / "segments.yaml").write_text("segments: [\n")
    (inventory / "machines.yaml").write_text("machines:\n  db1: {kind: physical, interfaces: {fe: {}}}\n")
    assert main(["validate", str(inventory)]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors == [f"{inventory / 'segments.yaml'}:2:1: error: YAML syntax: did not find expected node content"]
