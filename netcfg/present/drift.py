"""Drift between desired and live kernel state, as text lines and as JSON."""

from __future__ import annotations

from typing import Any

from netcfg.kernel.codec import KernelRoute, KernelRule
from netcfg.kernel.reconcile import KINDS, Drift, Entry, KindDrift, describe
from netcfg.model.host import Address, Rule


def drift_lines(found: Drift) -> list[str]:
    lines = []
    for kind in KINDS:
        k: KindDrift = getattr(found, kind)
        lines += [f"missing   {describe(e)}" for e in k.missing]
        lines += [f"extra     {describe(e)}" for e in k.extra]
        lines += [f"different {describe(a)} (live: {describe(b)})" for a, b in k.different]
    return lines


def entry_json(entry: Entry) -> dict[str, Any]:
    if isinstance(entry, KernelRule):
        # Beyond the model (a fwmark, an iif, ...): its text says all of it.
        return {"family": entry.family, "priority": entry.priority, "table": entry.table, "as_dumped": True}
    if isinstance(entry, KernelRoute):
        return {"family": entry.family, "table": entry.table, "dst": entry.dst, "as_dumped": True}
    if isinstance(entry, Address):
        return {"interface": entry.interface, "family": entry.family, "address": entry.address}
    if isinstance(entry, Rule):
        return {
            "family": entry.family,
            "priority": entry.priority,
            "table": entry.table,
            "src": entry.src,
            "dst": entry.dst,
        }
    return {
        "family": entry.family,
        "table": entry.table,
        "dst": entry.dst,
        "gateway": entry.gateway,
        "device": entry.device,
        "scope": entry.scope,
        "metric": entry.metric,
        "protocol": entry.protocol,
    }


def drift_json(d: Drift) -> dict[str, Any]:
    """The JSON form `netcfg status --format json` prints."""
    out: dict[str, Any] = {}
    for kind in KINDS:
        k: KindDrift = getattr(d, kind)
        out[kind] = {
            "missing": [entry_json(e) | {"text": describe(e)} for e in k.missing],
            "extra": [entry_json(e) | {"text": describe(e)} for e in k.extra],
            "different": [
                {
                    "desired": entry_json(want) | {"text": describe(want)},
                    "live": entry_json(have) | {"text": describe(have)},
                }
                for want, have in k.different
            ],
        }
    return out
