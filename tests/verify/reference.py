"""The flow classes of a fleet the slow way: one concrete flow per pair of endpoints,
followed hop by hop by `Fleet` (no classes, no kinds, no counting tricks). What the
engine counts must be exactly this."""

from __future__ import annotations

from collections import Counter

from netcfg.verify.classes import Classes
from netcfg.verify.engine import DESTINATION, SOURCE, Verdict, promise
from netcfg.verify.path import Fleet, FlowPath, Leg


def reference(classes: Classes, fleet: Fleet) -> Counter[tuple[Verdict | None, ...]]:
    counts: Counter[tuple[Verdict | None, ...]] = Counter()
    for e1 in classes.endpoints:
        c1 = classes.classes[e1.klass]
        n1 = classes.networks[e1.network]
        m1 = c1.members[0]
        for e2 in classes.endpoints:
            n2 = classes.networks[e2.network]
            if n2.family != n1.family:
                continue
            c2 = classes.classes[e2.klass]
            found = [(m, a) for m, a in c2.addresses[e2.network] if m != m1]
            if not found:
                continue
            m2, a2 = found[0]
            path = fleet.flow(m1, n1.family, e1.address, a2)
            counts[
                (
                    to_verdict(
                        classes,
                        path,
                        m1,
                        m2,
                        c1.design,
                        c2.design,
                        n1.segment,
                        n2.segment,
                        n1.family,
                        e1.network == e2.network,
                    ),
                )
            ] += 1
    return counts


def _via(classes: Classes, leg: Leg, delivered: bool) -> tuple[str, ...]:
    machines = leg.machines[1:-1] if delivered else leg.machines[1:]
    return tuple(m for m in machines if m in classes.routers)


def to_verdict(classes, path: FlowPath, m1, m2, d1, d2, s1, s2, family, same) -> Verdict:
    def where(machine: str) -> str:
        return SOURCE if machine == m1 else DESTINATION if machine == m2 else machine

    request = path.request
    reply = path.reply
    reason = None
    direction = at = ""
    reply_via: tuple[str, ...] = ()
    if not request.delivered:
        reason, direction, at = request.reason, "request", where(request.at)
    else:
        assert reply is not None
        reply_via = _via(classes, reply, reply.delivered)
        if not reply.delivered:
            reason, direction, at = reply.reason, "reply", where(reply.at)
    kept = promise(d1, d2, s1, s2, family, same)
    delivered = reason is None
    from netcfg.designs import PathKind

    if kept is PathKind.DIRECT:
        broken = not delivered or bool(_via(classes, request, request.delivered)) or bool(reply_via)
    elif kept is PathKind.VIA_ROUTER:
        broken = not delivered
    else:
        broken = False
    return Verdict(
        delivered,
        reason,
        direction,
        at,
        _via(classes, request, request.delivered),
        reply_via,
        family,
        s1,
        s2,
        d1,
        d2,
        same,
        kept,
        broken,
    )
