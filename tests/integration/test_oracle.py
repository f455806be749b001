"""The kernel is the forwarding model's oracle. In the namespace lab of the bundled
inventory, under both designs, every machine is asked `ip route get TO from FROM` for
every one of its addresses and every address of the fleet (the bundled inventory is
small enough for all of them), routers `... iif DEV` for traffic they forward, and
every machine `... iif DEV` for its own addresses from one address of every network
(local delivery after strict rp_filter), and every machine `ip route get TO` with the
source left to the kernel. The model must answer the same: the same interface and
gateway (and source chosen), a local delivery, or a refusal (no route; rp_filter).

Then random small fleets (hypothesis, 25 examples): the same questions, the same
answers."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from netcfg.designs import render
from netcfg.inventory.load import load_inventory
from netcfg.lab import netns as lab
from netcfg.model.host import DesignName, HostConfig
from netcfg.testing.oracle import Query, agree, kernel_answers, model_answer
from netcfg.verify.fib import Entries, Fib
from tests.requirements import needs
from tests.verify.strategies import fleets

pytestmark = needs("ip", root=True)

BUNDLED = Path(__file__).resolve().parents[2] / "inventory"


def questions(configs: Mapping[str, HostConfig]) -> Iterator[Query]:
    """Every machine: to every other address of the fleet, from the source the kernel
    chooses and from each of its addresses; what it
    receives for its own addresses from one address of every network; routers, what
    they forward from one address of every network to every address, on each
    interface."""
    everyone = [(a.family, a.ip) for c in configs.values() for a in c.addresses]
    one_per_network: dict[str, tuple[int, str]] = {}
    for c in configs.values():
        for a in c.addresses:
            one_per_network.setdefault(a.network, (a.family, a.ip))
    sources = list(one_per_network.values())
    for name, config in configs.items():
        families = {a.family for a in config.addresses}
        for family, dst in everyone:
            if family in families and dst not in {a.ip for a in config.addresses}:
                yield Query(name, dst, None)  # the source the kernel chooses
        for own in config.addresses:
            for family, dst in everyone:
                if family == own.family and dst != own.ip:
                    yield Query(name, dst, own.ip)
        for iface in config.interfaces:
            for own in iface.addresses:
                for family, src in sources:
                    if family == own.family and src != own.ip:
                        yield Query(name, own.ip, src, iface.name)
            if config.forwarding:
                for family, src in sources:
                    for f, dst in everyone:
                        if f == family and dst != src:
                            yield Query(name, dst, src, iface.name)


def disagreements(state: lab.LabState, configs: Mapping[str, HostConfig]) -> tuple[int, list[str]]:
    entries = Entries()
    by_machine: dict[str, list[Query]] = {}
    for q in questions(configs):
        by_machine.setdefault(q.machine, []).append(q)
    asked = 0
    wrong = []
    for machine, queries in by_machine.items():
        fib = Fib.of(configs[machine], entries)
        for q, kernel in zip(queries, kernel_answers(state.machines[machine], queries), strict=True):
            asked += 1
            model = model_answer(fib, q)
            if not agree(model, kernel):
                wrong.append(f"{machine}: {q.line()}: model {model}, kernel {kernel}")
    return asked, wrong


@pytest.fixture
def run_dir(tmp_path, monkeypatch) -> str:
    path = tmp_path / "run"
    path.mkdir()
    return str(path)


def _name() -> str:
    return f"o{uuid.uuid4().hex[:6]}"


def _down(name: str, run_dir: str) -> None:
    lab.down(name, state_dir=run_dir)
    left = [ns for ns in os.listdir("/run/netns") if ns.startswith(f"{name}-")] if os.path.isdir("/run/netns") else []
    for ns in left:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    assert not left, f"namespaces left behind: {left}"


def asked_in_a_lab(inventory, design: DesignName | None, run_dir: str) -> int:
    """How many questions the kernel of `inventory`'s lab answered; fails on any answer
    the model gives otherwise."""
    name = _name()
    try:
        state = lab.up(inventory, name, design, state_dir=run_dir)
        asked, wrong = disagreements(state, render(inventory, design))
    finally:
        _down(name, run_dir)
    assert not wrong, f"{len(wrong)} of {asked} answers differ:\n" + "\n".join(wrong[:30])
    return asked


@pytest.mark.parametrize("design", [DesignName.POLICY_ROUTING, DesignName.FLAT])
def test_the_kernel_agrees_with_the_model_on_the_bundled_inventory(design, run_dir):
    asked = asked_in_a_lab(load_inventory(BUNDLED), design, run_dir)
    assert asked > 150_000  # every machine, every address, both ways


# --- random small fleets -------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(inventory=fleets())
def test_the_kernel_agrees_with_the_model_on_random_fleets(inventory, tmp_path_factory):
    assert asked_in_a_lab(inventory, None, str(tmp_path_factory.mktemp("run")))


SOURCES = """\
segments:
  fe:  {table: 2, priority: 20}
  srv: {table: 3, priority: 30}
networks:
  - {prefix: 192.0.2.0/26, segment: fe, gateway: 192.0.2.1}
  - {prefix: 198.51.100.0/26, segment: fe, gateway: 198.51.100.1}
  - {prefix: "2001:db8:10::/64", segment: fe, gateway: "2001:db8:10::1"}
  - {prefix: "2001:db8:20::/64", segment: srv, gateway: "2001:db8:20::1"}
machines:
  rt0:
    kind: router
    interfaces:
      fe: {addresses: [192.0.2.1, 198.51.100.1, "2001:db8:10::1"]}
      srv: {addresses: ["2001:db8:20::1"]}
  a: {kind: physical, interfaces: {fe: {addresses: [198.51.100.14, 192.0.2.14]}}}
  b:
    kind: physical
    interfaces: {fe: {addresses: [192.0.2.15]}, srv: {addresses: ["2001:db8:20::d", "2001:db8:20::21"]}}
  c: {kind: physical, interfaces: {fe: {addresses: [198.51.100.16, "2001:db8:10::16"]}}}
"""


def test_the_kernel_and_the_model_choose_the_same_source(run_dir):
    """Found by the random fleets: an interface whose first address is not the lowest
    (apply added addresses sorted, so the kernel's first was another one), and two IPv6
    addresses of one /64 (Linux caps rule 8 at the prefix length; of those that tie it
    keeps the newest)."""
    from netcfg.inventory.load import load_inventory_texts

    assert asked_in_a_lab(load_inventory_texts({"inv.yaml": SOURCES}), None, run_dir)
