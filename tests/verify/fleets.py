"""Small fleets built by hand for the forwarding model's tests: HostConfigs, as a
design would render them (or as no design would, to reach every drop reason)."""

from __future__ import annotations

from netcfg.model.host import Address, DesignName, HostConfig, InterfaceConfig, Kind, Route, Rule

PR = DesignName.POLICY_ROUTING
FLAT = DesignName.FLAT


def iface(name: str, segment: str, *addresses: str) -> InterfaceConfig:
    return InterfaceConfig(name, segment, addresses=tuple(Address(name, 6 if ":" in a else 4, a) for a in addresses))


def host(
    name: str,
    *interfaces: InterfaceConfig,
    rules: tuple[Rule, ...] = (),
    routes: tuple[Route, ...] = (),
    design: DesignName = FLAT,
) -> HostConfig:
    return HostConfig(name, Kind.PHYSICAL, design, interfaces, rules, routes)


def router(name: str, *interfaces: InterfaceConfig, routes: tuple[Route, ...] = ()) -> HostConfig:
    return HostConfig(name, Kind.ROUTER, FLAT, interfaces, (), routes, forwarding=True)


def default(gateway: str, metric: int | None = None, table: int = 254) -> Route:
    return Route(6 if ":" in gateway else 4, table, "::/0" if ":" in gateway else "0.0.0.0/0", gateway, metric=metric)
