"""`netcfg apply` and `netcfg status` in real network namespaces.

Read-back is checked with iproute2's own JSON (`ip -j`), not with netcfg's reader, and
"exactly as before" compares full `ip -j rule`, `ip -j route show table all` and
`ip -j addr` dumps of both families.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from netcfg.cli import main
from netcfg.designs import render
from netcfg.errors import ApplyError
from netcfg.inventory.load import load_inventory
from netcfg.kernel import apply as apply_mod
from netcfg.kernel import codec
from netcfg.kernel.apply import apply_host
from netcfg.kernel.lock import lock_path, namespace_lock
from netcfg.kernel.netlink import Netlink
from netcfg.kernel.rules import MOVED
from netcfg.kernel.snapshot import read_snapshot
from netcfg.kernel.state import desired_state, ownership
from netcfg.model.host import Address, Route
from tests.requirements import needs

pytestmark = needs("ip", root=True)

# fe's table is above 255 (RTA_TABLE / FRA_TABLE only); both segments carry IPv6.
INVENTORY = """\
segments:
  fe:  {table: 300, priority: 20}
  srv: {table: 3, priority: 30}
networks:
  - {prefix: 203.0.113.0/26, segment: fe, gateway: 203.0.113.1}
  - {prefix: 198.51.100.64/27, segment: fe, gateway: 198.51.100.65}
  - {prefix: 192.0.2.128/28, segment: fe, gateway: 192.0.2.129}
  - {prefix: "2001:db8:10::/64", segment: fe, gateway: "2001:db8:10::1"}
  - {prefix: 10.20.0.0/16, segment: srv, gateway: 10.20.0.1, private: true}
  - {prefix: "2001:db8:20::/64", segment: srv, gateway: "2001:db8:20::1"}
machines:
  rt01:
    kind: router
    interfaces:
      fe: {addresses: [203.0.113.1, 198.51.100.65, 192.0.2.129, "2001:db8:10::1"]}
      srv: {addresses: [10.20.0.1, "2001:db8:20::1"]}
  web1:
    kind: physical
    interfaces:
      fe: {addresses: [203.0.113.10, "2001:db8:10::10"]}
      srv: {addresses: [10.20.1.10, "2001:db8:20::10"]}
  web2:
    kind: physical
    interfaces:
      fe: {addresses: [198.51.100.70]}
policy:
  design: policy-routing
"""


def ip(ns: str, *args: str) -> str:
    return subprocess.run(["ip", "-n", ns, *args], check=True, capture_output=True, text=True).stdout


def snapshot(ns: str) -> dict[str, object]:
    """Everything `ip` can tell about the namespace's addresses, rules and routes."""
    return {
        "rule4": json.loads(ip(ns, "-j", "-4", "rule")),
        "rule6": json.loads(ip(ns, "-j", "-6", "rule")),
        "route4": json.loads(ip(ns, "-j", "-4", "route", "show", "table", "all")),
        "route6": json.loads(ip(ns, "-j", "-6", "route", "show", "table", "all")),
        "addr": json.loads(ip(ns, "-j", "addr")),
    }


@pytest.fixture
def inventory_dir(tmp_path: Path) -> Path:
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "all.yaml").write_text(INVENTORY)
    return tmp_path / "inventory"


@pytest.fixture
def lock_dir(tmp_path: Path, monkeypatch) -> str:
    path = str(tmp_path / "run")
    monkeypatch.setenv("NETCFG_RUN_DIR", path)
    return path


@pytest.fixture
def netns():
    """A fresh namespace with web1's interfaces (veth pairs, up), removed afterwards."""
    name = f"netcfg-t-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        # No duplicate address detection: link-local addresses would otherwise change
        # from "tentative" during the test and break the before/after comparison.
        subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                name,
                "sysctl",
                "-qw",
                "net.ipv6.conf.default.accept_dad=0",
                "net.ipv6.conf.all.accept_dad=0",
            ],
            check=True,
        )
        ip(name, "link", "set", "lo", "up")
        for iface, peer in (("ethfe", "pfe"), ("ethsrv", "psrv")):
            ip(name, "link", "add", iface, "type", "veth", "peer", "name", peer)
            ip(name, "link", "set", iface, "up")
            ip(name, "link", "set", peer, "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def web1(inventory_dir: Path, design: str = "policy-routing"):
    inv = load_inventory(inventory_dir)
    config = render(inv, design, [inv.machines["web1"]])["web1"]
    return inv, config


def owned_by_ip(ns: str) -> tuple[set, set, set]:
    """Owned (marked) rules and routes, and the global addresses, as iproute2 reports them
    (iproute2 6.1 does not show an address's marker)."""
    rules = set()
    for family, key in ((4, "rule4"), (6, "rule6")):
        for r in snapshot(ns)[key]:
            if r.get("protocol") == "77":
                src = (
                    f"{r['src']}/{r.get('srclen', 32 if family == 4 else 128)}"
                    if r.get("src", "all") != "all"
                    else None
                )
                dst = f"{r['dst']}/{r.get('dstlen', 32 if family == 4 else 128)}" if "dst" in r else None
                rules.add((family, r["priority"], int(r["table"]), src, dst))
    routes = set()
    for family, key in ((4, "route4"), (6, "route6")):
        for r in snapshot(ns)[key]:
            if r.get("protocol") != "77":
                continue
            dst = r["dst"]
            if dst == "default":
                dst = "0.0.0.0/0" if family == 4 else "::/0"
            table = {"main": 254}.get(r.get("table", "main"), r.get("table", 254))
            gateway = r.get("gateway")
            routes.add(
                (
                    family,
                    int(table),
                    dst,
                    gateway,
                    None if gateway else r.get("dev"),
                    r.get("metric") if r.get("metric") not in (None, 0, 1024) else None,
                )
            )
    addresses = set()
    for link in snapshot(ns)["addr"]:
        for a in link["addr_info"]:
            if a.get("scope") == "global":
                addresses.add((link["ifname"], f"{a['local']}/{a['prefixlen']}"))
    return rules, routes, addresses


def model_view(config) -> tuple[set, set, set]:
    state = desired_state(config)
    rules = {(r.family, r.priority, r.table, r.src, r.dst) for r in state.rules}
    routes = {(r.family, r.table, r.dst, r.gateway, r.device, r.metric) for r in state.routes}
    addresses = {(a.interface, a.address) for a in state.addresses}
    return rules, routes, addresses


@pytest.mark.parametrize("design", ["policy-routing", "flat"])
def test_apply_then_read_back_equals_model_and_second_apply_changes_nothing(
    inventory_dir, netns, lock_dir, capsys, design
):
    code = main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns, "--design", design])
    out = capsys.readouterr().out
    assert code == 0, out
    _, config = web1(inventory_dir, design)
    assert owned_by_ip(netns) == model_view(config)
    if design == "policy-routing":
        assert any(r[2] == 300 for r in model_view(config)[0])  # table > 255 was exercised
        assert any(r[0] == 6 for r in model_view(config)[0])  # and IPv6 rules
    before = snapshot(netns)
    assert main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns, "--design", design]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "0 changes"
    assert snapshot(netns) == before
    assert main(["status", "web1", "--inventory", str(inventory_dir), "--netns", netns, "--design", design]) == 0


def test_switching_design_converges_both_ways(inventory_dir, netns, lock_dir, capsys):
    for design in ("policy-routing", "flat", "policy-routing"):
        assert main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns, "--design", design]) == 0
        _, config = web1(inventory_dir, design)
        assert owned_by_ip(netns) == model_view(config)


def test_dry_run_prints_changes_and_touches_nothing(inventory_dir, netns, lock_dir, capsys):
    before = snapshot(netns)
    assert main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "+ rule from 203.0.113.0/26 lookup 300 priority 20" in out
    assert "+ address 2001:db8:10::10/64 dev ethfe" in out
    assert snapshot(netns) == before


# A colleague's rules at the fe segment's priority (20) and srv's (30), on the very
# prefixes netcfg's own rules use, in front of them: a deletion that did not name netcfg's
# rule completely (its marker, every selector) would remove one of these instead.
COLLEAGUE_RULES = (
    ("from", "203.0.113.0/26", "ipproto", "tcp", "lookup", "300", "priority", "20"),
    ("from", "203.0.113.0/26", "fwmark", "0/0xff", "lookup", "300", "priority", "20"),
    ("from", "10.20.9.0/24", "lookup", "3", "priority", "30"),
)


def add_foreign_state(ns: str) -> None:
    ip(ns, "addr", "add", "10.99.0.5/16", "dev", "ethfe")  # outside the inventory
    ip(ns, "addr", "add", "10.20.9.9/16", "dev", "ethsrv")  # inside srv's network, by hand
    ip(ns, "route", "add", "10.98.0.0/16", "via", "10.99.0.1", "proto", "static", "table", "300")
    ip(ns, "route", "add", "10.97.0.0/16", "dev", "ethfe", "proto", "boot")
    ip(ns, "rule", "add", "from", "10.99.0.0/16", "lookup", "300", "priority", "1000")
    for rule in COLLEAGUE_RULES:
        ip(ns, "rule", "add", *rule)
    ip(ns, "-6", "route", "add", "2001:db8:99::/64", "dev", "ethsrv", "proto", "static")


def colleague_rules(state: dict) -> list:
    """The rules at the segments' priorities that are not netcfg's, in the kernel's order."""
    return [r for r in state["rule4"] + state["rule6"] if r["priority"] in (20, 30) and r.get("protocol") != "77"]


def test_foreign_state_survives_apply(inventory_dir, netns, lock_dir):
    add_foreign_state(netns)
    foreign = snapshot(netns)
    assert len(colleague_rules(foreign)) == len(COLLEAGUE_RULES)
    assert main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns]) == 0
    after = snapshot(netns)
    for key in ("rule4", "rule6"):  # main, local, default and the hand-added rules
        assert all(rule in after[key] for rule in foreign[key])
    assert colleague_rules(after) == colleague_rules(foreign)
    for key in ("route4", "route6"):  # kernel, static and boot routes
        kept = [r for r in foreign[key] if r.get("protocol") in ("kernel", "static", "boot")]
        assert kept and all(r in after[key] for r in kept)
    assert "10.99.0.5" in json.dumps(after["addr"]) and "10.20.9.9" in json.dumps(after["addr"])
    # and netcfg's own rules sit beside the colleague's
    _, config = web1(inventory_dir)
    assert owned_by_ip(netns)[:2] == model_view(config)[:2]
    assert main(["status", "web1", "--inventory", str(inventory_dir), "--netns", netns]) == 0


def bad_config(config):
    """web1 plus routes that fail half way: the gateway is on no connected network."""
    extra = tuple(Route(4, 300, f"10.{i}.0.0/16", device="ethfe", scope="link") for i in range(50, 60))
    bad = Route(4, 300, "10.60.0.0/16", gateway="192.0.2.250")  # unreachable gateway
    return config.__class__(
        **{**{f: getattr(config, f) for f in config.__slots__}, "routes": (*config.routes, *extra, bad)}
    )


def test_failure_half_way_rolls_back_exactly(inventory_dir, netns, lock_dir):
    inv, config = web1(inventory_dir)
    # Start from a previous owned state (the flat design) plus foreign state: the roll
    # back must restore owned entries it removed, and never disturb the others.
    flat_inv, flat = web1(inventory_dir, "flat")
    apply_host(flat, ownership(flat_inv, flat), netns, lock_dir=lock_dir)
    add_foreign_state(netns)
    before = snapshot(netns)
    with pytest.raises(ApplyError) as failed:
        apply_host(bad_config(config), ownership(inv, config), netns, lock_dir=lock_dir)
    assert "rolled back" in str(failed.value)
    assert snapshot(netns) == before


def test_rollback_recreates_a_foreign_route_the_kernel_flushed(inventory_dir, netns, lock_dir):
    # ethsrv has no IPv4 address: the failed apply adds web1's, and removing it again
    # makes the kernel flush every IPv4 route of the link, the hand-added one too.
    ip(netns, "route", "add", "10.97.0.0/16", "dev", "ethsrv", "proto", "static")
    ip(netns, "route", "add", "10.96.0.0/16", "dev", "ethsrv", "proto", "boot", "table", "300")
    inv, config = web1(inventory_dir)
    before = snapshot(netns)
    with pytest.raises(ApplyError, match="rolled back"):
        apply_host(bad_config(config), ownership(inv, config), netns, lock_dir=lock_dir)
    assert snapshot(netns) == before


def inventory_variant(tmp_path: Path, name: str, *replacements: tuple[str, str]) -> Path:
    text = INVENTORY
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    (tmp_path / name).mkdir()
    (tmp_path / name / "all.yaml").write_text(text)
    return tmp_path / name


@pytest.mark.parametrize("change", ["first address dropped", "network resized"])
def test_address_changes_keep_the_other_addresses_and_the_links_routes(tmp_path, netns, lock_dir, capsys, change):
    # The kernel removes a primary IPv4 address's secondaries with it (promote_secondaries
    # is 0 by default), and a link's IPv4 routes with its last IPv4 address.
    base = inventory_variant(
        tmp_path, "base", ("srv: {addresses: [10.20.1.10,", "srv: {addresses: [10.20.1.10, 10.20.1.11,")
    )
    if change == "first address dropped":
        head = inventory_variant(tmp_path, "head", ("srv: {addresses: [10.20.1.10,", "srv: {addresses: [10.20.1.11,"))
    else:
        head = inventory_variant(
            tmp_path,
            "head",
            ("10.20.0.0/16", "10.20.0.0/15"),
            ("srv: {addresses: [10.20.1.10,", "srv: {addresses: [10.20.1.10, 10.20.1.11,"),
        )
    assert main(["apply", "web1", "--inventory", str(base), "--netns", netns]) == 0
    ip(netns, "route", "add", "10.97.0.0/16", "dev", "ethsrv", "proto", "static")
    sysctl = ["ip", "netns", "exec", netns, "sysctl", "-n", "net.ipv4.conf.ethsrv.promote_secondaries"]
    setting = subprocess.run(sysctl, check=True, capture_output=True, text=True).stdout
    capsys.readouterr()
    assert main(["apply", "web1", "--inventory", str(head), "--netns", netns]) == 0, capsys.readouterr()
    _, config = web1(head)
    assert owned_by_ip(netns) == model_view(config)
    assert "10.97.0.0/16" in ip(netns, "route")
    assert subprocess.run(sysctl, check=True, capture_output=True, text=True).stdout == setting
    assert main(["status", "web1", "--inventory", str(head), "--netns", netns]) == 0


def test_an_address_whose_network_left_the_inventory_is_removed(tmp_path, netns, lock_dir, capsys):
    # netcfg marks the addresses it adds: once 10.20.0.0/16 is no longer in the
    # inventory, web1's 10.20.1.10 is still netcfg's to remove, while an address added
    # by hand outside the inventory stays.
    base = inventory_variant(tmp_path, "base")
    head = inventory_variant(
        tmp_path,
        "head",
        ("  - {prefix: 10.20.0.0/16, segment: srv, gateway: 10.20.0.1, private: true}\n", ""),
        ("srv: {addresses: [10.20.0.1, ", "srv: {addresses: ["),
        ("srv: {addresses: [10.20.1.10, ", "srv: {addresses: ["),
    )
    assert main(["apply", "web1", "--inventory", str(base), "--netns", netns]) == 0
    ip(netns, "addr", "add", "10.99.0.5/16", "dev", "ethsrv")
    capsys.readouterr()
    assert main(["apply", "web1", "--inventory", str(head), "--netns", netns]) == 0
    assert "- address 10.20.1.10/16 dev ethsrv" in capsys.readouterr().out
    _, config = web1(head)
    rules, routes, addresses = owned_by_ip(netns)
    assert (rules, routes) == model_view(config)[:2]
    assert addresses == model_view(config)[2] | {("ethsrv", "10.99.0.5/16")}
    assert main(["status", "web1", "--inventory", str(head), "--netns", netns]) == 0


def fail_after_every_step(monkeypatch) -> None:
    """Every step reaches the kernel, removals too, and then something fails."""
    real_execute = apply_mod.execute

    def execute_then_fail(*args, **kwargs):
        real_execute(*args, **kwargs)
        raise RuntimeError("injected")

    monkeypatch.setattr(apply_mod, "execute", execute_then_fail)


@pytest.mark.parametrize("fails", [False, True])
def test_a_colleagues_rules_at_a_segments_priority_survive_apply_and_rollback(
    tmp_path, netns, lock_dir, monkeypatch, capsys, fails
):
    # Regression: a colleague's `ip rule ... ipproto tcp` at a segment's priority was
    # deleted by an apply removing netcfg's rule with the same prefix (the deletion did
    # not carry netcfg's marker), and the roll-back then reported success. Here fe's
    # table changes, so netcfg's `from 203.0.113.0/26 lookup 300 priority 20` goes while
    # the colleague's rules, in front of it, must stay; so must a hand-added address in
    # srv's network, which is not netcfg's either.
    for rule in COLLEAGUE_RULES:
        ip(netns, "rule", "add", *rule)
    ip(netns, "addr", "add", "10.20.9.9/16", "dev", "ethsrv")
    base = inventory_variant(tmp_path, "base")
    head = inventory_variant(tmp_path, "head", ("fe:  {table: 300, priority: 20}", "fe:  {table: 301, priority: 20}"))
    assert main(["apply", "web1", "--inventory", str(base), "--netns", netns]) == 0
    before = snapshot(netns)
    theirs = colleague_rules(before)
    assert len(theirs) == len(COLLEAGUE_RULES)
    if fails:
        fail_after_every_step(monkeypatch)
    capsys.readouterr()
    code = main(["apply", "web1", "--inventory", str(head), "--netns", netns])
    out = capsys.readouterr().out
    assert "- rule from 203.0.113.0/26 lookup 300 priority 20" in out
    after = snapshot(netns)
    assert colleague_rules(after) == theirs
    assert "10.20.9.9" in json.dumps(after["addr"])
    if fails:
        assert code == 5
        assert after == before
    else:
        assert code == 0
        _, config = web1(head)
        assert owned_by_ip(netns)[:2] == model_view(config)[:2]


def test_rules_of_a_segment_whose_priority_changed_are_removed(tmp_path, netns, lock_dir, capsys):
    # netcfg marks its rules (FRA_PROTOCOL 77): at the old priority, no longer one of
    # the inventory's, they are still netcfg's; a colleague's rules there are not, also
    # when they name the same prefix and table (ipproto, a fwmask without fwmark).
    base = inventory_variant(tmp_path, "base")
    head = inventory_variant(tmp_path, "head", ("fe:  {table: 300, priority: 20}", "fe:  {table: 300, priority: 25}"))
    for rule in COLLEAGUE_RULES[:2]:  # in front of netcfg's
        ip(netns, "rule", "add", *rule)
    assert main(["apply", "web1", "--inventory", str(base), "--netns", netns]) == 0
    ip(netns, "rule", "add", "from", "10.99.0.0/16", "lookup", "300", "priority", "20")  # behind
    foreign = [r for r in snapshot(netns)["rule4"] if r["priority"] == 20 and r.get("protocol") != "77"]
    assert len(foreign) == 3
    assert main(["apply", "web1", "--inventory", str(head), "--netns", netns]) == 0
    after = snapshot(netns)
    assert [r for r in after["rule4"] + after["rule6"] if r["priority"] == 20] == foreign
    assert any(r["priority"] == 25 for r in after["rule4"]) and any(r["priority"] == 25 for r in after["rule6"])
    assert main(["status", "web1", "--inventory", str(head), "--netns", netns]) == 0


def add_marked_address(ns: str, interface: str, address: str) -> None:
    """An address marked as netcfg's (IFA_PROTO 77): iproute2 6.1 cannot set the marker."""
    with Netlink(ns) as nl:
        index_of = {name: index for index, name in read_snapshot(nl).names.items()}
        family = 6 if ":" in address else 4
        assert not nl.send([codec.address_request(Address(interface, family, address), index_of, "add")])


def address_markers(ns: str) -> dict[str, int]:
    with Netlink(ns) as nl:
        names = read_snapshot(nl).names
        found = {}
        for payload in nl.dump(codec.dump_request(codec.RTM_GETADDR)):
            parsed = codec.parse_address(payload, names)
            if parsed is not None:
                found[parsed[0].address] = parsed[1]
        return found


@pytest.mark.parametrize("failure", [None, "refused", "after every step"])
def test_marked_entries_beyond_the_model_go_by_every_selector_and_come_back_exactly(
    inventory_dir, netns, lock_dir, monkeypatch, capsys, failure
):
    # Regression: a rule with a fwmask but no fwmark was read as a plain rule (the one
    # netcfg wants), so a roll-back would have re-created it without its mask. Marked as
    # netcfg's but beyond its model, such entries are different from every desired one:
    # apply removes them naming every selector, and a roll-back re-creates them as dumped.
    ip(netns, "rule", "add", "from", "203.0.113.0/26", "fwmark", "0/0xff", "lookup", "300", "priority", "20",
       "protocol", "77")  # fmt: skip
    ip(netns, "rule", "add", "from", "203.0.113.0/26", "fwmark", "0x1", "lookup", "300", "priority", "20",
       "protocol", "77")  # fmt: skip
    ip(netns, "rule", "add", "from", "203.0.113.0/26", "ipproto", "tcp", "lookup", "300", "priority", "20",
       "protocol", "77")  # fmt: skip
    ip(netns, "route", "add", "10.97.0.0/16", "dev", "ethfe", "table", "300", "proto", "77", "mtu", "1400")
    before = snapshot(netns)
    inv, config = web1(inventory_dir)
    if failure == "refused":  # the kernel refuses an addition: no removal is sent
        monkeypatch.setattr("netcfg.cli.apply.machine_config", lambda *_: bad_config(config))
    elif failure:
        fail_after_every_step(monkeypatch)
    code = main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns])
    out = capsys.readouterr().out
    assert "- rule from 203.0.113.0/26 fwmark 0x0/0xff lookup 300 priority 20 proto 77" in out
    assert "- rule from 203.0.113.0/26 fwmark 0x1 lookup 300 priority 20 proto 77" in out
    assert "- rule from 203.0.113.0/26 ipproto 6 lookup 300 priority 20 proto 77" in out
    assert "- route 10.97.0.0/16 dev ethfe scope link mtu 1400 table 300 proto 77" in out
    assert "+ rule from 203.0.113.0/26 lookup 300 priority 20" in out
    if failure is None:
        assert code == 0
        after = snapshot(netns)
        assert not [r for r in after["rule4"] if "fwmask" in r]
        assert "10.97.0.0" not in json.dumps(after["route4"])
        assert owned_by_ip(netns) == model_view(config)
    else:
        # Rolling back the "refused" apply removes netcfg's plain rule from behind the
        # three marked ones, each of which its deletion would match first: they are
        # re-created behind it first, in their order (see rules.py).
        assert code == 5
        assert snapshot(netns) == before  # the rules in their order, with mask and mark


def test_an_owned_rule_less_specific_than_a_desired_one_goes_alone(inventory_dir, netns, lock_dir, capsys):
    # `from all lookup 300 priority 20 proto 77` behind netcfg's `from 203.0.113.0/26
    # lookup 300 priority 20`: its deletion would match the desired rule first (nothing
    # in a deletion can say "no from"); the desired rule is re-created behind it first.
    args = ["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns]
    assert main(args) == 0
    # (`ip rule add` cannot: its NLM_F_EXCL takes the absent "from" for "any", EEXIST)
    with Netlink(netns) as nl:
        assert not nl.send([codec.rule_request(codec.KernelRule(4, 20, 300, protocol=77), "add")])
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    # every desired rule of table 300 at priority 20 sits in front and moves
    assert out.strip().splitlines()[-2:] == ["- rule all lookup 300 priority 20", "9 changes"]
    assert f"+ rule from 203.0.113.0/26 lookup 300 priority 20 ({MOVED})" in out
    _, config = web1(inventory_dir)
    assert owned_by_ip(netns) == model_view(config)
    assert main(["status", "web1", "--inventory", str(inventory_dir), "--netns", netns]) == 0


def test_identical_foreign_entries_satisfy_the_config_and_are_left_alone(inventory_dir, netns, lock_dir, capsys):
    # The host's own network configuration holds web1's srv address, and a colleague
    # added netcfg's fe rule by hand: apply neither adds them again nor marks them, and
    # status reports no drift.
    ip(netns, "addr", "add", "10.20.1.10/16", "dev", "ethsrv")
    ip(netns, "rule", "add", "from", "203.0.113.0/26", "lookup", "300", "priority", "20")
    ip(netns, "route", "add", "192.0.2.128/28", "dev", "ethfe", "scope", "link", "table", "300", "proto", "static")
    args = ["--inventory", str(inventory_dir), "--netns", netns]
    assert main(["apply", "web1", *args]) == 0
    out = capsys.readouterr().out
    assert "= address 10.20.1.10/16 dev ethsrv (present, not netcfg's: left alone)" in out
    assert "= rule from 203.0.113.0/26 lookup 300 priority 20 (present, not netcfg's: left alone)" in out
    # Not "proto 77": the route there is not netcfg's.
    assert "= route 192.0.2.128/28 dev ethfe scope link table 300 (present, not netcfg's: left alone)" in out
    assert "+ address 10.20.1.10/16" not in out and "+ rule from 203.0.113.0/26 lookup 300" not in out
    rules = [r for r in snapshot(netns)["rule4"] if r.get("src") == "203.0.113.0" and r["priority"] == 20]
    assert len(rules) == 1 and "protocol" not in rules[0]
    assert address_markers(netns)["10.20.1.10/16"] == 0
    assert main(["status", "web1", *args, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["drift"] is False and "address 10.20.1.10/16 dev ethsrv" in report["present"]
    assert main(["apply", "web1", *args]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "0 changes"


def test_a_foreign_route_in_the_place_of_a_desired_one_is_exit_2_and_nothing_changes(
    inventory_dir, netns, lock_dir, capsys
):
    # The kernel would refuse netcfg's default route of table 300 (EEXIST: same table,
    # destination and metric), and netcfg never removes foreign state.
    ip(netns, "route", "add", "default", "via", "203.0.113.2", "dev", "ethfe", "onlink", "table", "300", "proto",
       "static")  # fmt: skip
    before = snapshot(netns)
    assert main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns]) == 2
    err = capsys.readouterr().err
    assert "route default via 203.0.113.1 table 300 proto 77: the namespace holds route default via 203.0.113.2" in err
    assert "nothing was changed" in err
    assert snapshot(netns) == before


def test_cli_failure_exits_5(inventory_dir, netns, lock_dir, capsys, monkeypatch):
    inv, config = web1(inventory_dir)
    monkeypatch.setattr("netcfg.cli.apply.machine_config", lambda *_: bad_config(config))
    before = snapshot(netns)
    assert main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns]) == 5
    assert "rolled back" in capsys.readouterr().err
    assert snapshot(netns) == before


def test_interrupt_during_apply_rolls_back(inventory_dir, netns, lock_dir, monkeypatch):
    inv, config = web1(inventory_dir)
    real_execute = apply_mod.execute

    def execute_then_ctrl_c(*args, **kwargs):
        real_execute(*args, **kwargs)  # every change is in the kernel ...
        raise KeyboardInterrupt  # ... when the operator presses Ctrl-C

    monkeypatch.setattr(apply_mod, "execute", execute_then_ctrl_c)
    before = snapshot(netns)
    with pytest.raises(ApplyError, match="interrupted"):
        apply_host(config, ownership(inv, config), netns, lock_dir=lock_dir)
    assert snapshot(netns) == before


# A real `netcfg apply` process whose steps all reach the kernel and which then waits (for
# a signal, or for the test's go-ahead); with NETCFG_TEST_SLOW_ROLLBACK its roll-back
# waits for the go-ahead too, so that signals arrive while it runs.
DRIVER = """
import os, sys, time
from netcfg.kernel import apply as apply_mod

real_execute, real_restore = apply_mod.execute, apply_mod.restore
go = os.environ["NETCFG_TEST_GO"]


def wait_for_go():
    while not os.path.exists(go):
        time.sleep(0.02)


def slow_execute(*args, **kwargs):
    rejected = real_execute(*args, **kwargs)
    print("APPLIED", flush=True)
    wait_for_go()
    return rejected


def slow_restore(*args, **kwargs):
    print("ROLLING BACK", flush=True)
    wait_for_go()
    return real_restore(*args, **kwargs)


apply_mod.execute = slow_execute
if os.environ.get("NETCFG_TEST_SLOW_ROLLBACK"):
    apply_mod.restore = slow_restore
from netcfg.cli import main

sys.exit(main(sys.argv[1:]))
"""


def start_apply(tmp_path: Path, inventory_dir: Path, netns: str, lock_dir: str, slow_rollback: bool = False):
    go = tmp_path / "go"
    env = {**os.environ, "NETCFG_TEST_GO": str(go), "NETCFG_RUN_DIR": lock_dir}
    if slow_rollback:
        env["NETCFG_TEST_SLOW_ROLLBACK"] = "1"
    command = [sys.executable, "-c", DRIVER, "apply", "web1", "--inventory", str(inventory_dir), "--netns", netns]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).parents[2]
    )
    return process, go


def wait_for_line(process: subprocess.Popen, expected: str) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == expected:
            return
    raise AssertionError(f"{expected!r} never printed: {process.communicate()}")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_roll_back_like_ctrl_c(tmp_path, inventory_dir, netns, lock_dir, stop):
    # Regression: SIGTERM or SIGHUP mid-apply left the namespace half applied.
    add_foreign_state(netns)
    before = snapshot(netns)
    process, _ = start_apply(tmp_path, inventory_dir, netns, lock_dir)
    try:
        wait_for_line(process, "APPLIED")
        _, config = web1(inventory_dir)
        assert owned_by_ip(netns)[:2] == model_view(config)[:2]  # every change is in the kernel
        process.send_signal(stop)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 5, err
    assert f"rolled back (the namespace is as before): interrupted by {stop.name}" in err
    assert snapshot(netns) == before


def test_signals_during_the_roll_back_are_ignored(tmp_path, inventory_dir, netns, lock_dir):
    before = snapshot(netns)
    process, go = start_apply(tmp_path, inventory_dir, netns, lock_dir, slow_rollback=True)
    try:
        wait_for_line(process, "APPLIED")
        process.send_signal(signal.SIGTERM)
        wait_for_line(process, "ROLLING BACK")
        for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            process.send_signal(stop)
        go.touch()
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 5, err
    assert "interrupted by SIGTERM" in err and "ROLLBACK INCOMPLETE" not in err
    assert snapshot(netns) == before


def test_the_previous_signal_handlers_are_back_after_apply(inventory_dir, netns, lock_dir):
    handlers = {stop: signal.getsignal(stop) for stop in apply_mod.STOP_SIGNALS}
    assert main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns]) == 0
    assert {stop: signal.getsignal(stop) for stop in apply_mod.STOP_SIGNALS} == handlers


def test_status_detects_each_kind_of_drift(inventory_dir, netns, lock_dir, capsys):
    args = ["status", "web1", "--inventory", str(inventory_dir), "--netns", netns, "--format", "json"]
    assert main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns]) == 0
    assert main(args) == 0
    capsys.readouterr()
    # missing: an owned rule, route and address deleted by hand
    ip(netns, "rule", "del", "from", "203.0.113.0/26", "lookup", "300", "priority", "20")
    ip(netns, "route", "del", "198.51.100.64/27", "table", "300", "proto", "77")
    # (not an interface's last IPv4 address: the kernel would flush the routes over it)
    ip(netns, "addr", "del", "2001:db8:10::10/64", "dev", "ethfe")
    # extra: a marked rule, route and address (netcfg's, not in the render) ...
    ip(netns, "-6", "rule", "add", "to", "2001:db8:77::/64", "lookup", "300", "priority", "20", "protocol", "77")
    ip(netns, "route", "add", "192.0.2.0/24", "dev", "ethfe", "table", "77", "proto", "77")
    add_marked_address(netns, "ethfe", "203.0.113.11/26")
    # ... while unmarked ones are not netcfg's: no drift
    ip(netns, "-6", "rule", "add", "to", "2001:db8:78::/64", "lookup", "300", "priority", "20")
    ip(netns, "addr", "add", "203.0.113.12/26", "dev", "ethfe")
    # different: same identity, other attributes
    ip(netns, "route", "replace", "default", "via", "203.0.113.2", "table", "300", "proto", "77")
    ip(netns, "rule", "add", "from", "10.20.0.0/16", "lookup", "4", "priority", "30", "protocol", "77")
    ip(netns, "rule", "del", "from", "10.20.0.0/16", "lookup", "3", "priority", "30")
    ip(netns, "addr", "del", "2001:db8:20::10/64", "dev", "ethsrv")
    add_marked_address(netns, "ethsrv", "2001:db8:20::10/80")
    # different: a route's metric changed (the kernel holds it as another route)
    ip(netns, "-6", "route", "del", "default", "via", "2001:db8:10::1", "metric", "20", "proto", "77")
    ip(netns, "-6", "route", "add", "default", "via", "2001:db8:10::1", "metric", "25", "proto", "77")
    assert main(args) == 4
    report = json.loads(capsys.readouterr().out)
    assert report["drift"] is True
    texts = {
        kind: {
            how: [e["text"] if "text" in e else e["live"]["text"] for e in report[kind][how]]
            for how in ("missing", "extra", "different")
        }
        for kind in ("addresses", "rules", "routes")
    }
    assert texts["rules"]["missing"] == ["rule from 203.0.113.0/26 lookup 300 priority 20"]
    assert texts["rules"]["extra"] == ["rule -6 to 2001:db8:77::/64 lookup 300 priority 20"]
    assert texts["rules"]["different"] == ["rule from 10.20.0.0/16 lookup 4 priority 30"]
    assert texts["routes"]["missing"] == ["route 198.51.100.64/27 dev ethfe scope link table 300 proto 77"]
    assert texts["routes"]["extra"] == ["route 192.0.2.0/24 dev ethfe scope link table 77 proto 77"]
    assert texts["routes"]["different"] == [
        "route default via 203.0.113.2 table 300 proto 77",
        "route -6 default via 2001:db8:10::1 metric 25 table main proto 77",
    ]
    assert texts["addresses"]["missing"] == ["address 2001:db8:10::10/64 dev ethfe"]
    assert texts["addresses"]["extra"] == ["address 203.0.113.11/26 dev ethfe"]
    assert texts["addresses"]["different"] == ["address 2001:db8:20::10/80 dev ethsrv"]
    # the text format says the same, and apply repairs all of it
    assert main(args[:-2]) == 4
    assert "missing   rule from 203.0.113.0/26" in capsys.readouterr().out
    assert main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns]) == 0
    assert main(args) == 0


@pytest.mark.parametrize("command", ["apply", "status"])
def test_missing_namespace_is_an_input_error_and_is_not_created(inventory_dir, lock_dir, capsys, command):
    name = f"netcfg-missing-{uuid.uuid4().hex[:8]}"
    assert main([command, "web1", "--inventory", str(inventory_dir), "--netns", name]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not os.path.exists(f"/run/netns/{name}")
    assert name not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def test_missing_interface_is_an_input_error_before_touching_anything(inventory_dir, netns, lock_dir, capsys):
    ip(netns, "link", "del", "ethsrv")
    before = snapshot(netns)
    assert main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns]) == 2
    assert "ethsrv" in capsys.readouterr().err
    assert snapshot(netns) == before


def test_an_interface_that_is_down_is_an_input_error_before_touching_anything(inventory_dir, netns, lock_dir, capsys):
    # The kernel would refuse the first route through it ("Network is down"): exit 5
    # after a roll-back, with no hint. Said first instead, with what to do.
    ip(netns, "link", "set", "ethfe", "down")
    before = snapshot(netns)
    assert main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns]) == 2
    assert "web1's interface ethfe is down; bring it up first" in capsys.readouterr().err
    assert snapshot(netns) == before
    ip(netns, "link", "set", "ethfe", "up")
    assert main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns]) == 0


def test_a_second_apply_on_the_namespace_fails_fast(inventory_dir, netns, lock_dir, capsys):
    before = snapshot(netns)
    with namespace_lock(netns, lock_dir):
        assert main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns]) == 5
    assert "another netcfg apply" in capsys.readouterr().err
    assert snapshot(netns) == before
    assert main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", netns]) == 0


@pytest.fixture
def second_name(netns):
    """Another name for the same namespace, as `ip netns attach` or a bind mount makes."""
    name = f"{netns}-b"
    path = f"/run/netns/{name}"
    open(path, "w").close()
    try:
        subprocess.run(["mount", "--bind", f"/run/netns/{netns}", path], check=True)
        yield name
    finally:
        subprocess.run(["umount", path], check=False)
        os.unlink(path)


def test_the_lock_holds_the_namespace_under_any_of_its_names(inventory_dir, netns, second_name, lock_dir, capsys):
    # Regression: the lock was keyed on the name, so a second name sidestepped it.
    assert os.stat(f"/run/netns/{netns}").st_ino == os.stat(f"/run/netns/{second_name}").st_ino
    before = snapshot(netns)
    for held, used in ((netns, second_name), (second_name, netns)):
        with namespace_lock(held, lock_dir):
            assert main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", used]) == 5
        assert "another netcfg apply" in capsys.readouterr().err
        assert snapshot(netns) == before
    assert main(["apply", "web1", "--inventory", str(inventory_dir), "--netns", second_name]) == 0
    assert lock_path(netns, lock_dir) == lock_path(second_name, lock_dir)


def test_unknown_host_is_an_input_error(inventory_dir, netns, lock_dir, capsys):
    assert main(["apply", "nope", "--inventory", str(inventory_dir), "--netns", netns]) == 2
    assert "unknown machine 'nope'" in capsys.readouterr().err


def test_an_interrupt_in_the_middle_of_the_read_back_still_rolls_back(inventory_dir, netns, lock_dir, monkeypatch):
    # Ctrl-C or SIGTERM while the verification is half way through a dump leaves the
    # kernel's answer unread on the socket, which then refuses the next dump (EBUSY):
    # the roll-back must not depend on that socket.
    from netcfg.kernel import codec

    inv, config = web1(inventory_dir)
    # Enough routes that the kernel answers the dump in many parts: after the first
    # part it is still in the middle of it.
    batch = "".join(f"route add 10.{i // 250}.{i % 250}.0/24 dev ethfe table 99 proto static\n" for i in range(3000))
    subprocess.run(["ip", "-n", netns, "-batch", "-"], input=batch, text=True, check=True)
    real_read = apply_mod.read_snapshot
    calls = []

    def dump_cut_short(nl, *args, **kwargs):
        calls.append(nl)
        if len(calls) != 2:
            return real_read(nl, *args, **kwargs)  # the read before the changes
        nl.sock.sendall(codec.header(codec.dump_request(codec.RTM_GETROUTE), nl._next()))
        nl.sock.recv(64)  # part of the answer, then the signal arrives
        raise KeyboardInterrupt

    monkeypatch.setattr(apply_mod, "read_snapshot", dump_cut_short)
    before = snapshot(netns)
    with pytest.raises(ApplyError, match="rolled back"):
        apply_host(config, ownership(inv, config), netns, lock_dir=lock_dir)
    assert snapshot(netns) == before
