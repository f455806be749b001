"""The digest of an inventory's content: sha256 over what it says (segments, networks,
machines, policy), not how it is written. Reformatting, comments, file names and where
it was read from (a directory or a git revision) do not change it; any value does.

`netcfg check --report-json` records the head's digest (`inventory_digest`), and
`netcfg plan --from-report` refuses to plan a report against an inventory whose digest
differs: a plan made from a report of another inventory would move VMs that are not
where it thinks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import fields

from netcfg.model.inventory import Inventory, Machine

VERSION = "netcfg-inventory-1"  # changes if what is hashed changes


def inventory_digest(inventory: Inventory) -> str:
    digest = hashlib.sha256()
    for line in _lines(inventory):
        digest.update(line.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _lines(inventory: Inventory) -> Iterator[str]:
    # One tab-separated line per entity; names cannot hold tabs or newlines.
    yield VERSION + "\n"
    for segment in inventory.segments.values():
        yield f"segment\t{segment.name}\t{segment.table}\t{segment.priority}\t{segment.description!r}\n"
    for network in inventory.networks:
        yield f"network\t{network.prefix}\t{network.segment}\t{network.gateway}\t{network.private}\n"
    for machine in inventory.machines.values():
        yield _machine(machine)
    policy = inventory.policy
    yield f"policy\t{policy.design}\t{policy.reconfigure}\n"
    for section in (policy.seatbelt, policy.rollout):
        values = "\t".join(f"{f.name}={getattr(section, f.name)!r}" for f in fields(section))
        yield f"{type(section).__name__}\t{values}\n"


def _machine(m: Machine) -> str:
    # Addresses as family and integer: the same content, without netaddr's slow str().
    interfaces = "\t".join(
        f"{i.segment}={i.name}:{','.join(f'{a.version}/{a.value}' for a in i.addresses)}" for i in m.interfaces
    )
    return (
        f"machine\t{m.name}\t{m.kind}\t{m.memory_gib!r}\t{m.nic_gbit!r}\t{m.host}\t{m.dirty_mib_s!r}"
        f"\t{m.service!r}\t{interfaces}\n"
    )
