"""Properties of rendering over generated small inventories (built with Inventory.build).

- rendering is deterministic, and a machine renders the same alone as in its fleet (the
  entry caches never leak one machine's text into another's);
- under policy-routing, the rendered files of every machine on a segment carry a `to`
  rule for every network of that segment, per family it has addresses in;
- under flat, adding a public network changes only the machines with addresses in it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from netaddr import IPAddress, IPNetwork

from netcfg.designs import render as render_design
from netcfg.formats import FORMAT_NAMES, canonical_json, render_files, render_host, sandbox, templates
from netcfg.model.host import Kind, Rule
from netcfg.model.inventory import (
    Interface,
    Inventory,
    Machine,
    Network,
    Segment,
    default_interface_name,
)
from netcfg.testing.readback import parse_files

SEGMENTS = (Segment("fe", 2, 20), Segment("srv", 3, 30), Segment("mgm", 4, 40))
# Disjoint pools per segment: /28s of IPv4 and /64s of IPv6, in documentation ranges.
V4_BASE = {"fe": "198.51.100.0", "srv": "203.0.113.0", "mgm": "192.0.2.0"}
V6_BASE = {"fe": "2001:db8:1", "srv": "2001:db8:2", "mgm": "2001:db8:3"}
KINDS = (Kind.VM, Kind.PHYSICAL, Kind.KVM_HOST)
PROPERTY_SETTINGS = settings(max_examples=30, deadline=None)


def v4_network(segment: str, k: int) -> Network:
    prefix = IPNetwork(f"{IPAddress(V4_BASE[segment]) + 16 * k}/28")
    return Network(prefix, segment, IPAddress(prefix.first + 1))


def v6_network(segment: str, k: int) -> Network:
    prefix = IPNetwork(f"{V6_BASE[segment]}:{k:x}::/64")
    return Network(prefix, segment, IPAddress(prefix.first + 1))


@dataclass(frozen=True)
class Shape:
    """What the strategy draws; `inventory()` builds it, `extra` adds one network."""

    segments: tuple[Segment, ...]
    networks: tuple[Network, ...]
    machines: tuple[tuple[str, Kind, tuple[tuple[str, tuple[int, ...]], ...]], ...]

    def build(self, networks: tuple[Network, ...] | None = None, extra_users: dict | None = None):
        nets = self.networks if networks is None else networks
        machines = []
        for index, (name, kind, ifaces) in enumerate(self.machines):
            interfaces = []
            for segment, picks in ifaces:
                # Picks index the drawn networks only: an added one changes nobody's.
                on_segment = [n for n in self.networks if n.segment == segment]
                chosen = [on_segment[p % len(on_segment)] for p in picks]
                if extra_users and name in extra_users and extra_users[name].segment == segment:
                    chosen.append(extra_users[name])
                addresses = tuple(dict.fromkeys(IPAddress(n.prefix.first + 2 + index) for n in chosen))
                interfaces.append(Interface(segment, default_interface_name(kind, segment), addresses))
            machines.append(Machine(name, kind, tuple(interfaces)))
        return Inventory.build(list(self.segments), list(nets), machines)


def host_of(path: str) -> str:
    """The machine a rendered file belongs to: networkd/<host>/..., <fmt>/<host>.<ext>."""
    parts = path.split("/")
    return parts[1] if len(parts) > 2 else parts[1].split(".")[0]


@st.composite
def shapes(draw) -> Shape:
    segments = tuple(draw(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=3, unique=True)))
    networks = []
    for s in segments:
        networks += [v4_network(s.name, k) for k in range(draw(st.integers(1, 4)))]
        networks += [v6_network(s.name, k) for k in range(draw(st.integers(0, 2)))]
    machines = []
    for i in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(KINDS))
        on = draw(st.lists(st.sampled_from(segments), min_size=1, max_size=len(segments), unique=True))
        ifaces = tuple((s.name, tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)))) for s in on)
        machines.append((f"m{i}", kind, ifaces))
    return Shape(segments, tuple(networks), tuple(machines))


@PROPERTY_SETTINGS
@given(shapes(), st.sampled_from(["policy-routing", "flat"]))
def test_rendering_is_deterministic_and_per_machine(shape, design):
    inventory = shape.build()
    configs = render_design(inventory, design)
    first = render_files(configs)
    assert render_files(render_design(shape.build(), design)) == first
    compiled = templates()
    for name in reversed(sorted(configs)):  # another order, a fresh cache
        alone = render_host(configs[name], FORMAT_NAMES, compiled)
        assert alone == {p: t for p, t in first.items() if host_of(p) == name}


@PROPERTY_SETTINGS
@given(shapes())
def test_policy_routing_every_machine_has_a_to_rule_for_every_segment_network(shape):
    inventory = shape.build()
    compiled = templates()
    for name, config in render_design(inventory, "policy-routing").items():
        # Read the rules back from what was written, not from the model.
        files = render_host(config, ["iproute2", "networkd"], compiled)
        for fmt in ("iproute2", "networkd"):
            parsed = parse_files(fmt, {p: t for p, t in files.items() if p.startswith(fmt)})
            machine = inventory.machines[name]
            for iface in machine.interfaces:
                segment = inventory.segments[iface.segment]
                for family in {a.version for a in iface.addresses}:
                    for network in inventory.networks_on(segment.name, family):
                        rule = Rule(family, segment.priority, segment.table, dst=network.cidr)
                        assert rule in parsed.rules, (fmt, name, rule)


@PROPERTY_SETTINGS
@given(shapes(), st.data())
def test_flat_new_public_network_changes_only_its_machines(shape, data):
    segment = data.draw(st.sampled_from(shape.segments)).name
    family = data.draw(st.sampled_from([4, 6]))
    taken = sum(1 for n in shape.networks if n.segment == segment and n.family == family)
    extra = v4_network(segment, taken) if family == 4 else v6_network(segment, taken)
    on_segment = [name for name, _, ifaces in shape.machines if any(s == segment for s, _ in ifaces)]
    users = set()
    if on_segment:
        users = set(data.draw(st.lists(st.sampled_from(on_segment), unique=True)))

    before = render_files(render_design(shape.build(), "flat"))
    after = render_files(render_design(shape.build(shape.networks + (extra,), {u: extra for u in users}), "flat"))
    assert before.keys() == after.keys()
    changed = {host_of(path) for path in before if before[path] != after[path]}
    assert changed == users

    # The contrast that makes the property mean something: under policy-routing every
    # machine with an address of that family on the segment changes.
    old, new = shape.build(), shape.build(shape.networks + (extra,), {u: extra for u in users})
    before = render_files(render_design(old, "policy-routing"))
    after = render_files(render_design(new, "policy-routing"))
    changed = {host_of(path) for path in before if before[path] != after[path]}
    dependent = {
        m.name
        for m in old.machines.values()
        if any(i.segment == segment and i.addresses_of(family) for i in m.interfaces)
    }
    assert changed == dependent | users


@PROPERTY_SETTINGS
@given(shapes(), st.sampled_from(["policy-routing", "flat"]), st.sampled_from([1, 2, 16]))
def test_shared_parts_render_as_their_entries_do(shape, design, whole_part):
    """The formats attach and write a shared part whole (formats/attach.py, Templates.blocks):
    the files are the same as from the flat sequence of the same entries, where every
    entry is placed on its own (one part mixing links, tables and families)."""
    configs = render_design(shape.build(), design)
    flattened = {n: replace(c, rules=tuple(c.rules), routes=tuple(c.routes)) for n, c in configs.items()}
    with pytest.MonkeyPatch.context() as patch:
        for module in (sandbox, canonical_json):
            patch.setattr(module, "WHOLE_PART", whole_part)
        shared, flat = templates(), templates()
        for name in sorted(configs):
            assert render_host(configs[name], FORMAT_NAMES, shared) == render_host(
                flattened[name], FORMAT_NAMES, flat
            ), name
