"""Random small fleets for property tests: rendered by the designs, so every fleet is
one the model meets in practice, small enough to follow every flow one by one."""

from __future__ import annotations

from hypothesis import strategies as st
from netaddr import IPAddress, IPNetwork

from netcfg.model.host import DesignName, Kind
from netcfg.model.inventory import Interface, Inventory, Machine, Network, Policy, Segment

NETWORKS = [
    ("203.0.113.0/26", "fe"),
    ("198.51.100.0/26", "fe"),
    ("192.0.2.0/26", "fe"),
    ("2001:db8:10::/64", "fe"),
    ("10.20.0.0/24", "srv"),
    ("10.20.1.0/24", "srv"),
    ("2001:db8:20::/64", "srv"),
    ("10.40.0.0/24", "mgm"),
]


@st.composite
def fleets(draw) -> Inventory:
    """Three segments (mgm sometimes preferred), some of eight networks, one or two
    routers holding the gateways (and sometimes an address in another network), and up
    to five hosts on random segments and networks, each under either design."""
    chosen = [n for n in NETWORKS if draw(st.booleans())] or [NETWORKS[0]]
    networks = [Network(IPNetwork(p), s, IPNetwork(p)[1]) for p, s in chosen]
    segments = [Segment("fe", 2, 20), Segment("srv", 3, 30), Segment("mgm", 4, draw(st.sampled_from([10, 40])))]
    routers = draw(st.integers(1, 2))
    holdings: dict[int, dict[str, list[IPAddress]]] = {r: {} for r in range(routers)}
    for n in networks:
        r = draw(st.integers(0, routers - 1))
        holdings[r].setdefault(n.segment, []).append(n.gateway)  # type: ignore[arg-type]
        for other in range(routers):
            if other != r and draw(st.booleans()):
                holdings[other].setdefault(n.segment, []).append(n.prefix[2 + other])
    machines = [
        Machine(f"rt{r}", Kind.ROUTER, tuple(Interface(s, f"eth{s}", tuple(a)) for s, a in held.items()))
        for r, held in holdings.items()
        if held
    ]
    for h in range(draw(st.integers(2, 5))):
        interfaces = []
        for segment in ("fe", "srv", "mgm"):
            on = [n for n in networks if n.segment == segment]
            if on and draw(st.booleans()):
                picked = draw(st.lists(st.sampled_from(on), min_size=1, max_size=2, unique=True))
                addresses = [n.prefix[10 + h] for n in picked]
                if draw(st.booleans()):  # sometimes a second address in its first network
                    addresses.append(picked[0].prefix[30 + h])
                interfaces.append(Interface(segment, f"eth{segment}", tuple(addresses)))
        if not interfaces:
            n = networks[0]
            interfaces.append(Interface(n.segment, f"eth{n.segment}", (n.prefix[10 + h],)))
        design = draw(st.sampled_from([None, DesignName.FLAT]))
        machines.append(Machine(f"h{h}", Kind.PHYSICAL, tuple(interfaces), design=design))
    return Inventory.build(segments, networks, machines, Policy())
