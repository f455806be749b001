"""A no-op `netcfg apply --from FILE --netns NAME` is a dump and a compare (kernel/settled.py),
run before the command-line parser loads (cli/applying.py); anything that differs goes
the long way and gives the same answer as the whole apply."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from netcfg import __version__
from netcfg.cli.applying import _from_and_netns
from netcfg.kernel import apply as apply_mod
from netcfg.kernel import codec
from netcfg.kernel.apply import apply_host
from netcfg.kernel.lock import namespace_file, namespace_lock
from netcfg.kernel.netlink import Netlink
from netcfg.kernel.settled import SUFFIX, recorded
from netcfg.kernel.snapshot import AF_INET, AF_INET6, Link, Snapshot, read_snapshot
from netcfg.kernel.state import ownership
from netcfg.model.host import InterfaceConfig, Rule
from tests.integration.test_apply import inventory_dir, ip, lock_dir, netns, snapshot, web1  # noqa: F401 - fixtures
from tests.integration.test_apply_from_file import rendered  # noqa: F401 - fixture
from tests.requirements import needing

# Which of the heavy modules a run loaded: the parser (typer, rich), the decoder, and
# dataclasses (the model's; importing it costs a no-op apply more than its own work).
WATCHED = ("typer", "rich", "netcfg.kernel.codec", "dataclasses")
LONG_WAY = ["netcfg.kernel.codec", "dataclasses"]  # what the whole apply loads, without the parser
PROBE = f"""
import json, sys
from netcfg.cli import main
code = main(sys.argv[1:])
print(json.dumps([code, [m for m in {WATCHED!r} if m in sys.modules]]), file=sys.stderr)
"""


def wait_for_addresses(name: str) -> None:
    """Until no IPv6 address of namespace `name` is tentative (at most 5 s)."""
    for _ in range(500):
        if not ip(name, "-6", "address", "show", "tentative").strip():
            return
        time.sleep(0.01)
    raise AssertionError(f"netns {name}: IPv6 addresses still tentative after 5 s")


def run(*args: str) -> tuple[int, str, str, list[str]]:
    """exit code, stdout, stderr and the watched modules loaded, of a whole process."""
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=os.environ)
    *err, last = done.stderr.splitlines()
    code, loaded = json.loads(last)
    return code, done.stdout, "\n".join(err), loaded


@needing("ip", root=True)
def test_a_settled_namespace_is_answered_without_the_parser_or_the_decoder(rendered, netns, lock_dir):  # noqa: F811
    code, out, err, loaded = run("apply", "--from", str(rendered), "--netns", netns)
    assert code == 0 and "applied and verified" in err
    assert loaded == LONG_WAY
    if not os.path.exists(namespace_file(netns, lock_dir, SUFFIX)):
        # The read-back saw an IPv6 address the kernel had not finished adding
        # (Snapshot.settling): nothing recorded. The next no-op, the long way, records.
        wait_for_addresses(netns)
        assert run("apply", "--from", str(rendered), "--netns", netns)[1:4:2] == ("0 changes\n", LONG_WAY)
    assert os.path.exists(namespace_file(netns, lock_dir, SUFFIX))

    code, out, err, loaded = run("apply", "--netns", netns, "--from", str(rendered))
    assert (code, out, err) == (0, "0 changes\n", f"web1 -> netns {netns} (policy-routing): applying")
    assert loaded == []

    # The parsed command line (HOST given) plans the long way and says the same.
    assert run("apply", "web1", f"--from={rendered}", f"--netns={netns}")[:3] == (code, out, err)


@needing("ip", root=True)
def test_any_byte_that_differs_goes_the_long_way(rendered, netns, lock_dir):  # noqa: F811
    assert run("apply", "--from", str(rendered), "--netns", netns)[0] == 0
    before = snapshot(netns)
    owned = next(r for r in before["route4"] if r.get("protocol") == "77" and r.get("dst") != "default")
    ip(netns, "route", "del", owned["dst"], "table", str(owned.get("table", "main")), "proto", "77")
    code, out, _, loaded = run("apply", "--from", str(rendered), "--netns", netns)
    assert (code, out.splitlines()[-1], loaded) == (0, "1 change", LONG_WAY)
    assert snapshot(netns) == before
    assert run("apply", "--from", str(rendered), "--netns", netns)[3] == []

    # A foreign rule is no step, but the namespace is not the one recorded.
    ip(netns, "rule", "add", "from", "192.0.2.200", "lookup", "main", "priority", "5")
    assert run("apply", "--from", str(rendered), "--netns", netns)[1:4:2] == ("0 changes\n", LONG_WAY)
    assert run("apply", "--from", str(rendered), "--netns", netns)[3] == []

    # The same config in other bytes: another file.
    rendered.write_text(json.dumps(json.loads(rendered.read_text()), indent=1))
    assert run("apply", "--from", str(rendered), "--netns", netns)[1:4:2] == ("0 changes\n", LONG_WAY)

    # A record another version wrote, or no record at all, is no answer.
    record = Path(namespace_file(netns, lock_dir, SUFFIX))
    data = json.loads(record.read_text())
    assert recorded(netns, lock_dir) is not None
    record.write_text(json.dumps({**data, "netcfg": "0.0.1"}))
    assert recorded(netns, lock_dir) is None
    # A namespace made after the record (a new one reusing a dead one's inode number)
    # has a younger nsfs inode: its record is not read, no socket is opened for it.
    record.write_text(json.dumps({**data, "born": data["born"] - 1}))
    assert recorded(netns, lock_dir) is None
    record.write_text(json.dumps(data))
    assert recorded(netns, lock_dir) is not None
    for garbage in ("{not json", "[" * 100_000 + "]" * 100_000):
        record.write_text(garbage)
        assert recorded(netns, lock_dir) is None
    record.unlink()
    os.mkfifo(record)  # nothing writes to it: read, it would wait forever
    assert recorded(netns, lock_dir) is None
    record.unlink()
    assert run("apply", "--from", str(rendered), "--netns", netns)[1:4:2] == ("0 changes\n", LONG_WAY)
    assert json.loads(record.read_text())["netcfg"] == __version__


@needing("ip", root=True)
def test_an_interface_gone_during_the_apply_is_not_recorded_as_settled(inventory_dir, netns, lock_dir, monkeypatch):  # noqa: F811
    # An interface that carries nothing netcfg owns can go without the verification
    # noticing; recorded, the next apply would say "0 changes" instead of exit 2.
    inv, config = web1(inventory_dir)
    config = replace(config, interfaces=(*config.interfaces, InterfaceConfig("ethx", "fe")))
    ip(netns, "link", "add", "ethx", "type", "veth", "peer", "name", "pethx")
    ip(netns, "link", "set", "ethx", "up")
    real_execute = apply_mod.execute

    def execute_then_remove(*args, **kwargs):
        rejected = real_execute(*args, **kwargs)
        ip(netns, "link", "del", "ethx")
        return rejected

    monkeypatch.setattr(apply_mod, "execute", execute_then_remove)
    assert apply_host(config, ownership(inv, config), netns, lock_dir=lock_dir, source="digest").applied
    assert recorded(netns, lock_dir) is None
    monkeypatch.setattr(apply_mod, "execute", real_execute)
    ip(netns, "link", "add", "ethx", "type", "veth", "peer", "name", "pethx")
    ip(netns, "link", "set", "ethx", "up")
    assert not apply_host(config, ownership(inv, config), netns, lock_dir=lock_dir, source="digest").applied
    assert recorded(netns, lock_dir) is not None  # the no-op records


@needing("ip", root=True)
def test_the_read_back_of_an_apply_with_tentative_addresses_is_not_recorded(inventory_dir, netns, lock_dir):  # noqa: F811
    # With duplicate address detection (5 probes a second apart) the addresses stay
    # tentative for seconds: the read-back after the apply sees them so.
    inv, config = web1(inventory_dir)
    for iface in ("ethfe", "ethsrv"):
        subprocess.run(
            ["ip", "netns", "exec", netns, "sysctl", "-qw"]
            + [f"net.ipv6.conf.{iface}.accept_dad=1", f"net.ipv6.conf.{iface}.dad_transmits=5"],
            check=True,
        )
    assert apply_host(config, ownership(inv, config), netns, lock_dir=lock_dir, source="digest").applied
    with Netlink(netns) as nl:
        assert read_snapshot(nl).settling
    assert recorded(netns, lock_dir) is None
    # The next no-op records what it finds: an address may stay tentative (no carrier).
    assert not apply_host(config, ownership(inv, config), netns, lock_dir=lock_dir, source="digest").applied
    assert recorded(netns, lock_dir) is not None


def test_a_tentative_ipv6_address_is_settling():
    def address(family: int, flags: int) -> bytes:
        return bytes([family, 64, flags, 0]) + (2).to_bytes(4, "little")

    link = (Link(1, "lo", True),)
    assert Snapshot(link, (address(AF_INET6, 0x40),), (), ()).settling
    assert not Snapshot(link, (address(AF_INET6, 0x80), address(AF_INET, 0x40)), (), ()).settling


@needing("ip", root=True)
def test_a_held_lock_is_exit_5_also_when_nothing_is_to_change(rendered, netns, lock_dir):  # noqa: F811
    assert run("apply", "--from", str(rendered), "--netns", netns)[0] == 0
    with namespace_lock(netns, lock_dir):
        code, _, err, _ = run("apply", "--from", str(rendered), "--netns", netns)
    assert code == 5 and "another netcfg apply" in err


@needing("ip", root=True)
def test_a_batch_reports_each_refusal_by_its_index(netns):  # noqa: F811
    # Only the batch's last request asks for an ack: refusals before it still arrive,
    # in order, and the requests between them are carried out.
    fine = [codec.rule_request(Rule(4, 40 + n, 300, src=f"10.9.{n}.0/24"), "add") for n in range(4)]
    missing = codec.rule_request(Rule(4, 99, 300, src="10.9.99.0/24"), "remove")
    with Netlink(netns) as nl:
        rejected = nl.send([fine[0], missing, fine[1], fine[2], missing, fine[3]], stop_on_error=False)
    assert [r.position for r in rejected] == [1, 4]
    rules = {r.get("priority") for r in json.loads(ip(netns, "-j", "rule"))}
    assert {40, 41, 42, 43} <= rules


def test_the_digest_covers_every_byte_and_where_each_entry_ends():
    base = Snapshot((Link(1, "lo", True),), (b"a",), (b"ab", b"c"), ())
    assert base.digest() == Snapshot((Link(1, "lo", True),), (b"a",), (b"ab", b"c"), ()).digest()
    for other in (
        Snapshot((Link(1, "lo", False),), (b"a",), (b"ab", b"c"), ()),
        Snapshot((Link(2, "lo", True),), (b"a",), (b"ab", b"c"), ()),
        Snapshot((Link(1, "lo", True),), (b"a",), (b"a", b"bc"), ()),
        Snapshot((Link(1, "lo", True),), (), (b"a", b"ab", b"c"), ()),
        Snapshot((Link(1, "lo", True),), (b"a",), (b"ab",), (b"c",)),
    ):
        assert other.digest() != base.digest(), other


@pytest.mark.parametrize(
    ("args", "shape"),
    [
        (["apply", "--from", "f.json", "--netns", "ns"], ("f.json", "ns")),
        (["apply", "--netns=ns", "--from=f.json"], ("f.json", "ns")),
        (["apply", "--from", "f.json"], None),
        (["apply", "--from", "f.json", "--netns", "ns", "--dry-run"], None),
        (["apply", "web1", "--from", "f.json", "--netns", "ns"], None),
        (["apply", "--from", "a", "--from", "b", "--netns", "ns"], None),
        (["apply", "--from", "--netns", "ns"], None),
        (["apply", "--from", "f.json", "--netns"], None),
        (["apply", "--from=", "--netns", "ns"], None),
        # Spelled otherwise by the parser's Path: left to it.
        (["apply", "--from", "f.json/", "--netns", "ns"], None),
        (["apply", "--from", "./f.json", "--netns", "ns"], None),
        (["apply", "--from", "d//f.json", "--netns", "ns"], None),
        (["apply", "--from", "d/./f.json", "--netns", "ns"], None),
        (["apply", "--from", "/d/f.json", "--netns", "ns"], ("/d/f.json", "ns")),
        (["apply", "--from", "f.json", "--netns", "ns", "--help"], None),
        (["status", "--from", "f.json", "--netns", "ns"], None),
        ([], None),
    ],
)
def test_only_the_exact_form_is_read_without_the_parser(args, shape):
    assert _from_and_netns(args) == shape


@needing("ip", root=True)
def test_a_lock_file_that_is_not_one_is_an_input_error(rendered, netns, lock_dir, tmp_path):  # noqa: F811
    os.makedirs(lock_dir)
    lock = namespace_file(netns, lock_dir, ".lock")
    outside = tmp_path / "outside"
    outside.write_text("kept\n")
    os.symlink(outside, lock)  # the pid would be written into the link's target
    code, _, err, _ = run("apply", "--from", str(rendered), "--netns", netns)
    assert (code, outside.read_text()) == (2, "kept\n") and "is a symbolic link" in err
    os.unlink(lock)
    os.mkfifo(lock)
    code, _, err, _ = run("apply", "--from", str(rendered), "--netns", netns)
    assert code == 2 and "is not a regular file" in err


@needing("ip", root=True)
def test_a_run_directory_that_cannot_be_one_is_an_input_error(rendered, netns, tmp_path, monkeypatch):  # noqa: F811
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    monkeypatch.setenv("NETCFG_RUN_DIR", str(not_a_directory))
    code, _, err, _ = run("apply", "--from", str(rendered), "--netns", netns)
    assert code == 2 and "cannot use the run directory" in err and "Traceback" not in err


@needing("ip", root=True)
def test_an_owned_route_given_an_mtu_by_hand_is_replaced_in_place(rendered, netns, lock_dir):  # noqa: F811
    assert run("apply", "--from", str(rendered), "--netns", netns)[0] == 0
    route = next(
        r for r in snapshot(netns)["route4"] if r.get("protocol") == "77" and "dev" in r and "gateway" not in r
    )
    table = str(route.get("table", "main"))
    ip(netns, "route", "change", route["dst"], "dev", route["dev"], "table", table, "proto", "77", "mtu", "1400")
    code, out, err, _ = run("apply", "--from", str(rendered), "--netns", netns)
    assert code == 0, err
    assert out.splitlines()[-2:] == [out.splitlines()[-2], "1 change"] and out.splitlines()[-2].startswith("~ route")
    assert run("apply", "--from", str(rendered), "--netns", netns)[1] == "0 changes\n"
    assert not [r for r in snapshot(netns)["route4"] if r.get("dst") == route["dst"] and "metrics" in r]


@needing("ip", root=True)
def test_a_record_that_cannot_be_written_leaves_no_temporary_file(rendered, netns, lock_dir):  # noqa: F811
    os.makedirs(namespace_file(netns, lock_dir, SUFFIX))  # a directory where the record goes
    for _ in range(2):
        code, _, err, _ = run("apply", "--from", str(rendered), "--netns", netns)
        assert code == 0, err
    assert [name for name in os.listdir(lock_dir) if name.endswith(".tmp")] == []
