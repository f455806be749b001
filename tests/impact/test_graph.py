"""The dependency graph is sound: rendering only the machines it names gives exactly the
diff of rendering everything, for random inventory changes; and who-uses answers."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netaddr import IPAddress, IPNetwork

from netcfg.cli import main
from netcfg.impact.analysis import analyse_inventories
from netcfg.impact.uses import who_uses
from netcfg.inventory.load import load_inventory
from netcfg.model.host import DesignName, Kind
from netcfg.model.inventory import Inventory, Network
from tests.impact.helpers import EXAMPLES

BASE = load_inventory(EXAMPLES / "add-public-network" / "before")


def rebuild(inv: Inventory, networks=None, machines=None, segments=None, policy=None) -> Inventory:
    return Inventory.build(
        dict(segments if segments is not None else inv.segments),
        list(networks if networks is not None else inv.networks),
        dict(machines if machines is not None else inv.machines),
        policy or inv.policy,
    )


def _pick(data, items):
    return data.draw(st.sampled_from(sorted(items, key=str)))


def mutate(inv: Inventory, data) -> Inventory:
    op = data.draw(
        st.sampled_from(
            ["add_net", "del_net", "gateway", "address", "segment", "move_vm", "del_machine", "rename_if", "design"]
        )
    )
    nets, machines = list(inv.networks), dict(inv.machines)
    if op == "add_net":
        size = data.draw(st.integers(26, 30))
        start = data.draw(st.integers(0, 3)) * 64
        prefix = IPNetwork(f"198.51.100.{start}/{size}")
        segment = _pick(data, inv.segments)
        if any(n.prefix.first <= prefix.last and prefix.first <= n.prefix.last for n in nets):
            return inv
        nets.append(Network(prefix, segment, IPAddress(prefix.first + 1)))
    elif op == "del_net":
        nets.remove(_pick(data, nets))
    elif op == "gateway":
        n = _pick(data, [n for n in nets if n.prefix.size > 4])
        nets[nets.index(n)] = replace(n, gateway=IPAddress(n.prefix.first + 2))
    elif op == "address":
        m = machines[_pick(data, machines)]
        iface = _pick(data, m.interfaces) if m.interfaces else None
        if iface is None or not iface.addresses:
            return inv
        old = iface.addresses[0]
        new = IPAddress(int(old) + data.draw(st.integers(1, 3)), old.version)
        ifaces = tuple(replace(i, addresses=(new, *i.addresses[1:])) if i is iface else i for i in m.interfaces)
        machines[m.name] = replace(m, interfaces=ifaces)
    elif op == "segment":
        s = inv.segments[_pick(data, inv.segments)]
        segments = dict(inv.segments)
        segments[s.name] = replace(s, priority=s.priority + 5, table=s.table + 10)
        return rebuild(inv, segments=segments)
    elif op == "move_vm":
        vm = machines[_pick(data, [n for n, m in machines.items() if m.kind is Kind.VM])]
        machines[vm.name] = replace(vm, host=_pick(data, [n for n, m in machines.items() if m.kind is Kind.KVM_HOST]))
    elif op == "del_machine":
        del machines[_pick(data, machines)]
    elif op == "rename_if":
        m = machines[_pick(data, machines)]
        machines[m.name] = replace(m, interfaces=tuple(replace(i, name=i.name + "x") for i in m.interfaces))
    elif op == "design":
        other = DesignName.FLAT if inv.policy.design is DesignName.POLICY_ROUTING else DesignName.POLICY_ROUTING
        return rebuild(inv, policy=replace(inv.policy, design=other))
    return rebuild(inv, networks=nets, machines=machines)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), steps=st.integers(1, 3), design=st.sampled_from([None, "flat", "policy-routing"]))
def test_rendering_only_dependents_equals_rendering_everything(data, steps, design):
    head = BASE
    for _ in range(steps):
        head = mutate(head, data)
    fast = analyse_inventories(BASE, head, design=design)
    full = analyse_inventories(BASE, head, design=design, full_render=True)
    assert fast.impact == full.impact
    # Every touched machine is explained by a real inventory change.
    assert all(h.causes != ("rendered configuration changed",) for h in fast.impact.hosts)


def test_who_uses_prefix_under_each_design():
    inv = BASE
    policy = {r.machine for r in who_uses(inv, "192.0.2.64/27")}
    flat = {r.machine for r in who_uses(inv, "192.0.2.64/27", DesignName.FLAT)}
    assert flat == {"kvm03", "kvm04", "rt01", "web05", "web06", "web07", "web08"}
    # policy-routing: every machine with IPv4 on fe lists it.
    assert policy == flat | {"kvm01", "kvm02", "lb01", "web01", "web02", "web03", "web04"}


def test_who_uses_gateway_address_and_segment():
    rows = who_uses(BASE, "192.0.2.65")
    names = {r.machine for r in rows}
    assert names == {"rt01", "kvm03", "kvm04", "web05", "web06", "web07", "web08"}
    assert next(r for r in rows if r.machine == "rt01").why == "has address 192.0.2.65"
    assert {r.machine for r in who_uses(BASE, "fe")} == {
        "rt01",
        "kvm01",
        "kvm02",
        "kvm03",
        "kvm04",
        "lb01",
        *(f"web0{i}" for i in range(1, 9)),
    }


def test_who_uses_cli(capsys):
    inv = str(EXAMPLES / "add-public-network" / "before")
    assert main(["who-uses", "10.20.12.3", "--inventory", inv, "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert '"machine": "db03"' in out and '"machines": 1' in out
    assert main(["who-uses", "not-a-thing", "--inventory", inv]) == 2
    assert "neither a segment, a prefix nor an address" in capsys.readouterr().err
    assert main(["who-uses", "1" * 100_000, "--inventory", inv]) == 2
    assert (
        capsys.readouterr().err.strip() == f"netcfg: error: '{'1' * 40}…' is neither a segment, a prefix nor an address"
    )


@pytest.mark.parametrize("scenario", ["add-public-network", "remove-network", "change-gateway"])
def test_scenarios_agree_with_full_render(scenario):
    base = load_inventory(EXAMPLES / scenario / "before")
    head = load_inventory(EXAMPLES / scenario / "after")
    assert analyse_inventories(base, head).impact == analyse_inventories(base, head, full_render=True).impact
