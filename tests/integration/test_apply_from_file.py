"""`netcfg apply --from FILE`: a machine's rendered JSON straight into a namespace,
with no inventory read; every field of the file checked first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netcfg.cli import main
from netcfg.errors import InputError
from netcfg.kernel import codec
from netcfg.kernel.netlink import Netlink
from netcfg.model.host_file import host_config_from_json
from tests.integration.test_apply import inventory_dir, ip, lock_dir, netns, snapshot  # noqa: F401 - fixtures
from tests.requirements import needing


@pytest.fixture
def rendered(inventory_dir: Path, tmp_path: Path) -> Path:  # noqa: F811
    out = tmp_path / "out"
    assert main(["render", str(inventory_dir), "--out", str(out), "-f", "json", "--host", "web1"]) == 0
    return out / "json" / "web1.json"


@needing("ip", root=True)
def test_the_rendered_file_applies_like_the_inventory(inventory_dir, rendered, netns, lock_dir, tmp_path, capsys):  # noqa: F811
    # Nothing of the inventory is there to read: only the file is.
    for path in inventory_dir.iterdir():
        path.unlink()
    assert main(["apply", "--from", str(rendered), "--netns", netns]) == 0
    after = snapshot(netns)
    assert "203.0.113.10" in json.dumps(after["addr"])
    assert main(["apply", "web1", "--from", str(rendered), "--netns", netns]) == 0
    assert "0 changes" in capsys.readouterr().out  # a no-op the second time
    assert snapshot(netns) == after
    assert main(["apply", "web2", "--from", str(rendered), "--netns", netns]) == 2
    assert "is the config of 'web1', not of 'web2'" in capsys.readouterr().err


COLLEAGUES_UDP = ("from", "203.0.113.0/26", "ipproto", "udp", "lookup", "500", "priority", "20")


def _rules_at_20(ns: str) -> list[str]:
    return [line for line in ip(ns, "-4", "rule").splitlines() if line.startswith("20:")]


@needing("ip", root=True)
def test_a_removal_that_would_move_a_rule_behind_a_foreign_one_is_refused(rendered, netns, lock_dir, capsys):  # noqa: F811
    # web1's rule at 20 stands in front of a colleague's; removing netcfg's `from all`
    # behind both means re-creating web1's rule behind it (the kernel deletes the first
    # match): its udp traffic would meet the colleague's rule first.
    apply = ["apply", "--from", str(rendered), "--netns", netns]
    assert main(apply) == 0
    ip(netns, "-4", "rule", "add", *COLLEAGUES_UDP)
    with Netlink(netns) as nl:
        assert not nl.send([codec.rule_request(codec.KernelRule(4, 20, 300, protocol=77), "add")])
    before = snapshot(netns)
    capsys.readouterr()
    assert main(apply) == 2
    err = capsys.readouterr().err
    assert "cannot be applied without reordering rules" in err and "(nothing was changed)" in err
    moved = "rule from 203.0.113.0/26 lookup 300 priority 20 would go behind rule from 203.0.113.0/26 ipproto 17"
    assert moved in err
    assert snapshot(netns) == before


@needing("ip", root=True)
def test_a_roll_back_that_could_not_keep_the_rule_order_says_so(rendered, netns, lock_dir, tmp_path, capsys):  # noqa: F811
    # netcfg's fwmark rule (beyond its model) stands in front of a colleague's. The apply
    # adds web1's plain rule behind both, then the kernel refuses a route: removing the
    # plain rule again re-creates the fwmark rule behind the colleague's. The roll-back
    # must not say the namespace is as before.
    fwmark = codec.KernelRule(4, 20, 300, protocol=77, src="203.0.113.0/26", fwmark=1, fwmask=0xFFFFFFFF)
    with Netlink(netns) as nl:
        assert not nl.send([codec.rule_request(fwmark, "add")])
    ip(netns, "-4", "rule", "add", *COLLEAGUES_UDP)
    order = _rules_at_20(netns)
    data = json.loads(rendered.read_text())
    refused = {"family": 4, "table": 300, "dst": "10.99.0.0/16", "gateway": "198.18.0.1", "device": None}
    data["routes"].append(dict(refused, scope="global", metric=None, protocol=77))  # no link reaches it
    failing = tmp_path / "failing.json"
    failing.write_text(json.dumps(data))
    assert main(["apply", "--from", str(failing), "--netns", netns]) == 5
    err = capsys.readouterr().err
    assert "ROLLBACK INCOMPLETE" in err and "the rules at priority 20 stand in another order" in err
    assert "as before" not in err
    assert sorted(_rules_at_20(netns)) == sorted(order) and _rules_at_20(netns) != order


@needing("ip", root=True)
def test_status_reads_the_rendered_file_as_apply_does(inventory_dir, rendered, netns, lock_dir, capsys):  # noqa: F811
    for path in inventory_dir.iterdir():
        path.unlink()
    status = ["status", "--from", str(rendered), "--netns", netns]
    assert main(status) == 4  # nothing applied yet
    assert "missing   rule from 203.0.113.0/26" in capsys.readouterr().out
    assert main(["apply", "--from", str(rendered), "--netns", netns]) == 0
    capsys.readouterr()
    assert main([*status, "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert (found["host"], found["drift"], found["count"]) == ("web1", False, 0)
    ip(netns, "-4", "rule", "del", "from", "203.0.113.0/26", "lookup", "300", "priority", "20")
    assert main(["status", "web1", "--from", str(rendered), "--netns", netns]) == 4
    assert "missing   rule from 203.0.113.0/26" in capsys.readouterr().out
    assert main(["status", "web2", "--from", str(rendered), "--netns", netns]) == 2
    assert "is the config of 'web1', not of 'web2'" in capsys.readouterr().err
    assert main(["status", "--netns", netns]) == 2
    assert "which machine? Give HOST, or --from FILE" in capsys.readouterr().err


def test_each_bad_field_is_named_at_its_line_and_column(rendered, capsys):
    data = json.loads(rendered.read_text())
    data["rules"][1]["table"] = True
    data["kind"] = "mainframe"
    bad = rendered.with_name("bad.json")
    bad.write_text(json.dumps(data, indent=2))
    text = bad.read_text()
    # The value's own place: `"table": true` in the second rule, `"kind": "mainframe"`.
    second_rule = text.index("{", text.index("{", text.index('"rules"')) + 1)
    table = text.index("true", second_rule)
    kind = text.index('"mainframe"')

    def place(at: int) -> str:
        return f"{text.count(chr(10), 0, at) + 1}:{at - text.rfind(chr(10), 0, at)}"

    assert main(["apply", "--from", str(bad), "--netns", "netcfg-test-not-reached", "--dry-run"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert f"{bad}:{place(kind)}: error: $.kind: expected one of kvm-host, vm, physical, router" in err[0]
    assert err[1] == f"{bad}:{place(table)}: error: $.rules[1].table: expected an integer, found bool"
    assert len(err) == 2


@needing("ip", root=True)
def test_a_rule_selecting_every_address_is_held_as_the_kernel_holds_it(rendered, netns, lock_dir, capsys):  # noqa: F811
    # The kernel keeps `from 0.0.0.0/0` as `from all`: read back, it must still be the
    # rule asked for, not a missing one beside an extra one (exit 5, rolled back).
    data = json.loads(rendered.read_text())
    data["rules"] += [
        {"family": 4, "priority": 98, "table": 256, "src": "0.0.0.0/0", "dst": None},
        {"family": 6, "priority": 98, "table": 256, "src": None, "dst": "::/0"},
    ]
    rendered.write_text(json.dumps(data))
    assert main(["apply", "--from", str(rendered), "--netns", netns]) == 0
    assert "from all lookup 256" in ip(netns, "-4", "rule")
    assert main(["apply", "--from", str(rendered), "--netns", netns, "--dry-run"]) == 0
    assert "0 changes" in capsys.readouterr().out
    assert main(["status", "--from", str(rendered), "--netns", netns]) == 0


def test_a_bad_field_is_one_problem_and_a_scope_the_kernel_would_not_keep_is_refused(rendered):
    data = json.loads(rendered.read_text())
    for key, value, expected in (
        ("protocol", True, "$.routes[0].protocol: expected an integer, found bool"),
        ("scope", None, "$.routes[0].scope: expected a string, found NoneType"),
        ("device", 1, "$.routes[0].device: expected a string or null, found int"),
        ("scope", "host", "$.routes[0].scope: expected one of global, link, found 'host'"),
    ):
        bad = json.loads(json.dumps(data))
        bad["routes"][0][key] = value
        with pytest.raises(InputError) as caught:
            host_config_from_json(bad, "web1.json")
        assert [p.message for p in caught.value.problems] == [expected]
    # Nor a clash of the blanks in their places: no name, no destination, no "twin".
    bad = json.loads(json.dumps(data))
    bad["interfaces"][0]["name"] = 5
    bad["routes"][0]["dst"], bad["routes"][1]["dst"] = 5, 6
    bad["rules"][0]["priority"], bad["rules"][1]["priority"] = True, True
    with pytest.raises(InputError) as caught:
        host_config_from_json(bad, "web1.json")
    assert sorted(p.message for p in caught.value.problems) == [
        "$.interfaces[0].name: expected a string, found int",
        "$.routes[0].dst: expected a string, found int",
        "$.routes[1].dst: expected a string, found int",
        "$.rules[0].priority: expected an integer, found bool",
        "$.rules[1].priority: expected an integer, found bool",
    ]
    bad = json.loads(json.dumps(data))
    bad["interfaces"] = 1
    with pytest.raises(InputError) as caught:
        host_config_from_json(bad, "web1.json")
    assert [p.message for p in caught.value.problems] == ["$.interfaces: expected a list, found int"]


def test_a_rule_selecting_every_address_and_one_without_a_selector_are_twins(rendered):
    # The kernel keeps both as `from all`: the second could never match.
    data = json.loads(rendered.read_text())
    data["rules"] += [
        {"family": 4, "priority": 98, "table": 256, "src": "0.0.0.0/0", "dst": None},
        {"family": 4, "priority": 98, "table": 300, "src": None, "dst": None},
    ]
    n = len(data["rules"])
    with pytest.raises(InputError, match=rf"\$\.rules\[{n - 1}\]: the kernel keeps one entry of its kind where"):
        host_config_from_json(data, "web1.json")


def test_every_bad_field_is_named(rendered):
    data = json.loads(rendered.read_text())
    data["kind"] = "mainframe"
    data["rules"][0]["table"] = "300"
    data["rules"][1]["priority"] = -1
    data["routes"][0]["dst"] = "not-a-prefix"
    data["interfaces"][0]["name"] = "eth0; reboot"
    data["interfaces"][0]["addresses"].append("203.0.113.99")
    with pytest.raises(InputError) as caught:
        host_config_from_json(data, "web1.json")
    text = str(caught.value)
    for expected in (
        "$.kind: expected one of kvm-host, vm, physical, router, found 'mainframe'",
        "$.rules[0].table: expected an integer, found str",
        "$.rules[1].priority: expected 1-32765 (0, 32766 and 32767 are the kernel's own rules), found -1",
        "$.routes[0].dst: not an IP prefix: 'not-a-prefix'",
        "'eth0; reboot' is not an interface name",
        "an address needs its prefix length: '203.0.113.99'",
    ):
        assert expected in text, (expected, text)
    assert all(line.startswith("web1.json: ") for line in text.splitlines())


def test_not_an_object_or_not_json_is_exit_2(tmp_path, capsys):
    bad = tmp_path / "x.json"
    for content in ("[1, 2]", "{not json", '{"name": "web1"}'):
        bad.write_text(content)
        assert main(["apply", "--from", str(bad), "--netns", "nowhere"]) == 2
        err = capsys.readouterr().err
        assert str(bad) in err and "Traceback" not in err


def test_what_the_kernel_would_refuse_or_spell_otherwise_is_named(rendered):
    data = json.loads(rendered.read_text())
    addresses = data["interfaces"][0]["addresses"]
    addresses[0] = "203.0.113.10/024"  # netaddr reads it; the kernel would spell it /24
    n = len(addresses)
    addresses += [None, "127.0.0.5/8", "10.0.0.5/8 "]
    on_link = [n for n, route in enumerate(data["routes"]) if route.get("device")]
    data["routes"][on_link[0]]["device"] = "nosuch"
    data["routes"][on_link[1]]["device"] = None
    data["routes"][on_link[1]]["gateway"] = None
    data["routes"][on_link[2]]["metric"] = 2**32
    data["routes"][on_link[3]]["protocol"] = 4  # would replace netcfg's route with a foreign one
    data["interfaces"].append(dict(data["interfaces"][0], addresses=[]))
    twice = len(data["interfaces"]) - 1
    with pytest.raises(InputError) as caught:
        host_config_from_json(data, "web1.json")
    text = str(caught.value)
    for expected in (
        "$.interfaces[0].addresses[0]: not an IP prefix: '203.0.113.10/024'",
        f"$.interfaces[0].addresses[{n}]: expected a string, found null",
        f"$.interfaces[0].addresses[{n + 1}]: 127.0.0.5/8 is in the loopback range: no interface can use it",
        f"$.interfaces[0].addresses[{n + 2}]: not an IP prefix: '10.0.0.5/8 '",
        f"$.routes[{on_link[0]}].device: 'nosuch' is none of the file's interfaces",
        f"$.routes[{on_link[1]}]: a route needs a device or a gateway",
        f"$.routes[{on_link[2]}].metric: expected 0-4294967295, found 4294967296",
        f"$.routes[{on_link[3]}].protocol: expected 77 (netcfg's marker), found 4",
        f"$.interfaces[{twice}].name: '{data['interfaces'][0]['name']}' is named by an earlier interface too",
    ):
        assert expected in text, (expected, text)


def test_the_kernels_own_priorities_and_tables_are_refused(rendered):
    # What render never writes: a rule read before the local table (priority 0) or in the
    # kernel's own places, a rule to or a route into one of its tables. Routes in main
    # are rendered (default routes), rules to it are not.
    data = json.loads(rendered.read_text())
    assert any(route["table"] == 254 for route in data["routes"])
    host_config_from_json(data, "web1.json")
    rule, route = data["rules"][0], data["routes"][0]
    data["rules"] = [dict(rule, priority=0), dict(rule, priority=32766)]
    data["rules"] += [dict(rule, priority=100 + n, table=table) for n, table in enumerate((254, 255, 253, 0))]
    data["routes"] = [dict(route, table=table) for table in (255, 253, 0)]
    with pytest.raises(InputError) as caught:
        host_config_from_json(data, "web1.json")
    kernels = "(0, 32766 and 32767 are the kernel's own rules)"
    assert sorted(p.message for p in caught.value.problems) == sorted(
        [
            f"$.rules[0].priority: expected 1-32765 {kernels}, found 0",
            f"$.rules[1].priority: expected 1-32765 {kernels}, found 32766",
            "$.rules[2].table: 254 is the kernel's main table: netcfg renders no rule to it",
            "$.rules[3].table: 255 is the kernel's local table: netcfg renders no rule to it",
            "$.rules[4].table: 253 is the kernel's default table: netcfg renders no rule to it",
            "$.rules[5].table: expected 1-4294967295, found 0",
            "$.routes[0].table: 255 is the kernel's local table: netcfg renders no route to it",
            "$.routes[1].table: 253 is the kernel's default table: netcfg renders no route to it",
            "$.routes[2].table: expected 1-4294967295, found 0",
        ]
    )


def test_what_the_apply_could_never_verify_is_named(rendered):
    data = json.loads(rendered.read_text())
    six = next(n for n, route in enumerate(data["routes"]) if route["family"] == 6)
    via = next(n for n, route in enumerate(data["routes"]) if route.get("gateway"))
    four = next(n for n, route in enumerate(data["routes"]) if route["family"] == 4 and n != via)
    data["routes"][six]["metric"] = 0  # the kernel stores 1024
    data["routes"][via]["device"] = data["interfaces"][0]["name"]  # the kernel's pick, unsaid
    data["routes"][four]["metric"] = 10**100
    data["rules"][0]["priority"] = -(10**300)
    with pytest.raises(InputError) as caught:
        host_config_from_json(data, "web1.json")
    assert sorted(p.message for p in caught.value.problems) == sorted(
        [
            f"$.routes[{six}].metric: an IPv6 route's metric 0 is the kernel's 1024: expected null or 1-4294967295",
            f"$.routes[{via}].device: a route via a gateway names no device (the gateway's interface is the kernel's)",
            f"$.routes[{four}].metric: expected 0-4294967295, found 1{'0' * 39}… (101 digits)",
            "$.rules[0].priority: expected 1-32765 (0, 32766 and 32767 are the kernel's own rules), "
            f"found -{'1' + '0' * 38}… (302 digits)",
        ]
    )


def test_a_gateway_the_kernel_would_refuse_mid_apply_is_named(rendered):
    data = json.loads(rendered.read_text())
    via = [n for n, route in enumerate(data["routes"]) if route.get("gateway")]
    four = next(n for n in via if data["routes"][n]["family"] == 4)
    data["routes"][four]["gateway"] = "2001:db8::1"
    data["routes"].extend(
        dict(data["routes"][four], table=900 + n, gateway=gateway)
        for n, gateway in enumerate(("0.0.0.0", "224.0.0.1", "127.0.0.1", "10.0.0.0/8"))
    )
    data["routes"].append(dict(data["routes"][four], family=6, dst="::/0", table=950, gateway="192.0.2.1"))
    with pytest.raises(InputError) as caught:
        host_config_from_json(data, "web1.json")
    text = str(caught.value)
    last = len(data["routes"]) - 1
    for expected in (
        f"$.routes[{four}].gateway: an IPv6 gateway in a family 4 route",
        f"$.routes[{last - 4}].gateway: 0.0.0.0 is in the 'this network' (unspecified) range: no route can go via it",
        f"$.routes[{last - 3}].gateway: 224.0.0.1 is in the multicast range",
        f"$.routes[{last - 2}].gateway: 127.0.0.1 is in the loopback range",
        f"$.routes[{last - 1}].gateway: not an IP address: '10.0.0.0/8'",
        f"$.routes[{last}].gateway: an IPv4 gateway in a family 6 route",
    ):
        assert expected in text, (expected, text)


def test_an_ipv4_gateway_at_scope_link_and_a_bad_interface_name_are_named_once(rendered):
    data = json.loads(rendered.read_text())
    via = [n for n, route in enumerate(data["routes"]) if route.get("gateway")]
    four = next(n for n in via if data["routes"][n]["family"] == 4)
    six = next(n for n in via if data["routes"][n]["family"] == 6)
    data["routes"][four]["scope"] = data["routes"][six]["scope"] = "link"  # IPv6 has no route scopes
    data["interfaces"][0]["name"] = "-x"
    with pytest.raises(InputError) as caught:
        host_config_from_json(data, "web1.json")
    # The routes through the renamed interface are not named too: its name is the problem.
    assert sorted(p.message for p in caught.value.problems) == [
        "$.interfaces[0].name: '-x' is not an interface name (at most 15 letters, digits, '.', '_', '-')",
        f"$.routes[{four}].scope: an IPv4 route via a gateway is global: the kernel refuses it at scope link",
    ]


def test_a_pipe_is_read_like_a_file(tmp_path, capsys):
    # `--from /dev/stdin`, `--from <(...)`: what a pipe holds is read once and checked.
    read, write = os.pipe()
    os.write(write, b"{not json")
    os.close(write)
    try:
        assert main(["apply", "--from", f"/proc/self/fd/{read}", "--netns", "nowhere"]) == 2
    finally:
        os.close(read)
    assert f"/proc/self/fd/{read}:1:2: error: the rendered machine is not JSON" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["apply", "status"])
def test_a_namespace_name_is_never_printed_raw(rendered, command, capsys):
    # `ip netns add` takes a name with an escape sequence in it; a terminal must not obey it.
    assert main([command, "--from", str(rendered), "--netns", "x\x1b[31m"]) == 2
    captured = capsys.readouterr()
    assert "\x1b" not in captured.out + captured.err
    assert "invalid network namespace name 'x\\x1b[31m'" in captured.err


def test_a_named_pipe_is_read_once_its_writer_comes(rendered, tmp_path):
    # The no-op check must not open it (a reader releases the writer, whose bytes would
    # go with that descriptor) and the apply then wait forever for a second writer.
    fifo = tmp_path / "web1.fifo"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f'cat "{rendered}" > "{fifo}"'])
    done = subprocess.run(
        [sys.executable, "-m", "netcfg", "apply", "--from", str(fifo), "--netns", "netcfg-test-nowhere"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    writer.wait(timeout=10)
    assert done.returncode == 2, done.stderr
    assert "network namespace 'netcfg-test-nowhere' does not exist" in done.stderr  # the file was read


def test_missing_unknown_or_twice_named_keys_and_twin_entries_are_named(rendered, tmp_path, capsys):
    """A file without `routes` (or with `Routes`) stood for no routes: every owned one
    removed. Every key the renderer writes is there once, and nothing else; entries the
    kernel cannot hold side by side, and networks with host bits, are refused."""
    data = json.loads(rendered.read_text())
    del data["routes"], data["forwarding"], data["interfaces"][0]["addresses"]
    data["Routes"] = []
    data["rules"][0]["gatway"] = "192.0.2.1"
    data["rules"].append(dict(data["rules"][0], table=99))  # same selectors: never matches
    data["routes"] = [dict(route) for route in json.loads(rendered.read_text())["routes"]]
    data["routes"].append(dict(data["routes"][0], device=None, gateway="203.0.113.1", scope="global"))
    data["routes"][1]["dst"] = "203.0.113.5/24"
    routes = data.pop("routes")
    with pytest.raises(InputError) as caught:
        host_config_from_json(data, "web1.json")
    text = str(caught.value)
    for expected in (
        "$: missing key 'routes'",
        "$: missing key 'forwarding'",
        "$.interfaces[0]: missing key 'addresses'",
        "$: unknown key 'Routes' (expected name, kind, design, forwarding, interfaces, rules, routes)",
        "$.rules[0]: unknown key 'gatway'",
        f"$.rules[{len(data['rules']) - 1}]: the kernel keeps one entry of its kind where this and $.rules[0] are",
    ):
        assert expected in text, (expected, text)
    data["routes"] = routes
    with pytest.raises(InputError) as caught:
        host_config_from_json(data, "web1.json")
    text = str(caught.value)
    assert f"$.routes[{len(routes) - 1}]: the kernel keeps one entry of its kind where this and $.routes[0] are" in text
    assert "$.routes[1].dst: " in text and "has host bits set: not a network" in text
    # A key written twice: json would keep the last one silently.
    twice = tmp_path / "twice.json"
    twice.write_text(rendered.read_text().replace('"kind": ', '"kind": "router", "kind": ', 1))
    assert main(["apply", "--from", str(twice), "--netns", "nowhere"]) == 2
    line = next(n for n, text in enumerate(twice.read_text().splitlines(), 1) if '"kind": "router"' in text)
    assert f"{twice}:{line}:" in (err := capsys.readouterr().err) and "$: " in err
    assert "names key 'kind' twice in one object" in err


def test_long_values_are_cut_in_messages(rendered):
    data = json.loads(rendered.read_text())
    data["kind"] = "x" * 5000
    data["routes"][0]["dst"] = "y" * 5000
    with pytest.raises(InputError) as caught:
        host_config_from_json(data, "web1.json")
    assert max(len(line) for line in str(caught.value).splitlines()) < 200
