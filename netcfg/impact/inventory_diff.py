"""What changed in the inventory itself, entity by entity, in words.

Each change names the graph node it concerns, so the graph maps it to the machines it
can touch, and a sentence an operator understands ("network 198.51.100.64/27 added to
segment fe"). Some changes touch no configuration at all (a VM moving to another host,
a seatbelt setting): they are still listed, so the report explains the whole diff.
"""

from __future__ import annotations

from dataclasses import fields

from netcfg.impact.graph import DESIGN_NODE, Node, machine_node, network_node, segment_node
from netcfg.impact.model import EntityChange
from netcfg.model.inventory import Inventory, Machine

POLICY_NODE: Node = ("policy",)


def _where(entity: object) -> str:
    location = getattr(entity, "location", None)
    return str(location) if location is not None and location.file != "<none>" else ""


def diff_inventories(base: Inventory, head: Inventory, design_overridden: bool = False) -> list[EntityChange]:
    changes: list[EntityChange] = []
    changes += _segments(base, head)
    changes += _networks(base, head)
    changes += _machines(base, head)
    changes += _policy(base, head, design_overridden)
    return changes


def _segments(base: Inventory, head: Inventory) -> list[EntityChange]:
    out = []
    for name in sorted(set(base.segments) | set(head.segments)):
        old, new = base.segments.get(name), head.segments.get(name)
        node = segment_node(name)
        if old is None:
            out.append(EntityChange(node, f"segment {name} added", _where(new)))
        elif new is None:
            out.append(EntityChange(node, f"segment {name} removed", _where(old)))
        elif old != new:
            out += [
                EntityChange(node, f"{attr} of segment {name} changed from {a} to {b}", _where(new))
                for attr, a, b in _field_changes(old, new, skip={"name"})
            ]
    return out


def _networks(base: Inventory, head: Inventory) -> list[EntityChange]:
    old_nets = {(n.segment, n.cidr): n for n in base.networks}
    new_nets = {(n.segment, n.cidr): n for n in head.networks}
    out = []
    for key in sorted(set(old_nets) | set(new_nets)):
        old, new = old_nets.get(key), new_nets.get(key)
        segment, cidr = key
        if old is None:
            assert new is not None
            out.append(EntityChange(network_node(new), f"network {cidr} added to segment {segment}", _where(new)))
        elif new is None:
            out.append(EntityChange(network_node(old), f"network {cidr} removed from segment {segment}", _where(old)))
        elif old != new:
            for attr, a, b in _field_changes(old, new, skip={"prefix", "segment"}):
                if attr == "private":
                    text = f"network {cidr} on segment {segment} is now {'private' if b else 'public'}"
                else:
                    text = f"{attr} of network {cidr} on segment {segment} changed from {a} to {b}"
                out.append(EntityChange(network_node(new), text, _where(new)))
    return out


def _machines(base: Inventory, head: Inventory) -> list[EntityChange]:
    out = []
    for name in sorted(set(base.machines) | set(head.machines)):
        old, new = base.machines.get(name), head.machines.get(name)
        node = machine_node(name)
        if old is None:
            assert new is not None
            on = f" on {new.host}" if new.host else ""
            out.append(EntityChange(node, f"machine {name} added ({new.kind}{on})", _where(new)))
        elif new is None:
            out.append(EntityChange(node, f"machine {name} removed", _where(old)))
        elif old != new:
            out += [EntityChange(node, text, _where(new)) for text in _machine_texts(old, new)]
    return out


def _machine_texts(old: Machine, new: Machine) -> list[str]:
    name = new.name
    texts = []
    for attr, a, b in _field_changes(old, new, skip={"name", "interfaces"}):
        if attr == "host":
            texts.append(f"{name} moved from {a or 'no host'} to {b or 'no host'}")
        elif attr == "design":
            texts.append(f"design of {name} changed from {a or 'the policy'} to {b or 'the policy'}")
        else:
            texts.append(f"{attr} of {name} changed from {a} to {b}")
    old_if = {i.segment: i for i in old.interfaces}
    new_if = {i.segment: i for i in new.interfaces}
    for segment in sorted(set(old_if) | set(new_if)):
        a, b = old_if.get(segment), new_if.get(segment)
        if a is None:
            texts.append(f"interface {b.name} of {name} on segment {segment} added")  # type: ignore[union-attr]
            continue
        if b is None:
            texts.append(f"interface {a.name} of {name} on segment {segment} removed")
            continue
        if a.name != b.name:
            texts.append(f"interface of {name} on segment {segment} renamed from {a.name} to {b.name}")
        old_ips, new_ips = list(a.addresses), list(b.addresses)
        removed = [str(ip) for ip in old_ips if ip not in new_ips]
        added = [str(ip) for ip in new_ips if ip not in old_ips]
        if len(removed) == 1 and len(added) == 1:
            texts.append(f"address of {name} on segment {segment} changed from {removed[0]} to {added[0]}")
        else:
            texts += [f"address {ip} of {name} on segment {segment} removed" for ip in removed]
            texts += [f"address {ip} of {name} on segment {segment} added" for ip in added]
        if not added and not removed and old_ips != new_ips:
            texts.append(f"addresses of {name} on segment {segment} reordered")
    return texts


def _policy(base: Inventory, head: Inventory, design_overridden: bool) -> list[EntityChange]:
    out = []
    old, new = base.policy, head.policy
    where = _where(new)
    if old.design != new.design:
        # Under --design both sides render with the same design: nothing is touched.
        node = POLICY_NODE if design_overridden else DESIGN_NODE
        out.append(EntityChange(node, f"design changed from {old.design} to {new.design}", where))
    if old.reconfigure != new.reconfigure:
        out.append(EntityChange(POLICY_NODE, f"reconfigure changed from {old.reconfigure} to {new.reconfigure}", where))
    for group in ("seatbelt", "rollout"):
        for attr, a, b in _field_changes(getattr(old, group), getattr(new, group), skip=set()):
            out.append(EntityChange(POLICY_NODE, f"policy {group}.{attr} changed from {a} to {b}", where))
    return out


def _field_changes(old: object, new: object, skip: set[str]) -> list[tuple[str, object, object]]:
    out = []
    for f in fields(old):  # type: ignore[arg-type]
        if f.name in skip or f.name == "location" or not f.compare:
            continue
        a, b = getattr(old, f.name), getattr(new, f.name)
        if a != b:
            out.append((f.name, a, b))
    return out


__all__ = ["EntityChange", "POLICY_NODE", "diff_inventories"]
