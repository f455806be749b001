"""`networkd`: systemd-networkd files, one `.network` per interface (plus a `.netdev`
creating each bridge of a KVM host), under `networkd/<host>/`.

Routes and rules are attached to the link of their segment (see attach.py). Routes
carry `Protocol=77` and an explicit numeric `Table=`.
"""

from __future__ import annotations

from netcfg.formats.attach import PartFacts, attach
from netcfg.formats.registry import Format, register
from netcfg.formats.sandbox import Templates
from netcfg.model.host import HostConfig


def render(config: HostConfig, templates: Templates) -> dict[str, str]:
    files = {}
    for entry in templates.memo(config, lambda: attach(config, templates.kept(PartFacts))):
        iface = entry.interface
        base = f"networkd/{config.name}/10-{iface.name}"
        if iface.bridge:
            files[base + ".netdev"] = templates.render("networkd/bridge.netdev.j2", host=config, iface=iface)
        files[base + ".network"] = templates.render(
            "networkd/interface.network.j2",
            host=config,
            iface=iface,
            routes=templates.blocks("networkd/route.j2", "route", entry.routes),
            rules=templates.blocks("networkd/rule.j2", "rule", entry.rules),
        )
    return files


FORMAT = register(
    Format(
        name="networkd",
        description="systemd-networkd .network (and bridge .netdev) files per interface",
        render=render,
    )
)
