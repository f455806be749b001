"""`netcfg verify` for a person: the summary, every problem found (flow classes with one
verdict, and examples), and one flow hop by hop."""

from __future__ import annotations

from collections.abc import Iterator

from netcfg.verify.engine import DESTINATION, SOURCE, Verdict
from netcfg.verify.fib import Outcome
from netcfg.verify.path import FlowPath, Hop, Leg
from netcfg.verify.prefix import format_address
from netcfg.verify.report import Example, Finding, Verification


def _n(count: int) -> str:
    return f"{count:,}"


def summary_lines(v: Verification, label: str) -> Iterator[str]:
    designs = ", ".join(f"{design} {_n(n)}" for design, n in v.designs) or "none"
    yield (
        f"{label}: {_n(v.machines)} machines ({designs}; {_n(v.routers)} routers), "
        f"{_n(v.classes)} classes, {_n(v.endpoints)} endpoints"
    )
    yield (
        f"{_n(v.flow_classes)} flow classes: {_n(v.delivered)} delivered ({_n(v.direct)} direct, "
        f"{_n(v.asymmetric)} asymmetric), {_n(v.dropped)} dropped; "
        + ("every promise kept" if v.ok else f"{_n(v.broken)} break the design's promise")
    )


def verdict_text(v: Verdict) -> str:
    """`fe -> srv IPv4 (flat -> flat): request dropped at rt01: no route`."""
    designs = v.src_design.value if v.src_design == v.dst_design else f"{v.src_design} -> {v.dst_design}"
    scope = f"{v.src_segment} -> {v.dst_segment} IPv{v.family}" + (", one network" if v.same_network else "")
    if v.delivered:
        path = "through " + ", ".join(dict.fromkeys(v.request_via + v.reply_via)) if not v.direct else "direct"
        what = f"delivered {path}"
    else:
        where = {SOURCE: "the source", DESTINATION: "the destination"}.get(v.at, v.at)
        what = f"{v.direction} dropped at {where}: {v.reason}"
        if v.reason is not None and v.reason.value == "rp_filter":
            what = f"{v.direction} dropped by strict rp_filter at {where}"
    promised = f"; promised {v.promise}, broken" if v.broken else ""
    return f"{scope} ({designs}): {what}{promised}"


def finding_lines(f: Finding) -> Iterator[str]:
    tag = "BROKEN " if f.verdict.broken else "DROPPED"
    yield f"{tag} {_n(f.count)} flow {'class' if f.count == 1 else 'classes'}: {verdict_text(f.verdict)}"
    for example in f.examples:
        yield from (f"    {line}" for line in example_lines(example))


def example_lines(e: Example) -> Iterator[str]:
    path = e.path
    yield f"e.g. {e.source} {e.source_address} -> {e.destination} {e.destination_address}: {outcome(path)}"
    leg = path.dropped
    if leg is not None:
        yield f"     decided by {deciding(leg)}"


def outcome(path: FlowPath) -> str:
    leg = path.dropped
    if leg is None:
        request = " -> ".join(path.request.machines)
        reply = " -> ".join(path.reply.machines) if path.reply else ""
        return f"delivered ({request}; reply {reply})"
    which = "request" if leg is path.request else "reply"
    return f"{which} {leg.reason} at {leg.at}" + (f" ({leg.detail})" if leg.detail else "")


def deciding(leg: Leg) -> str:
    """The machine, rule and route that decided where the leg ended."""
    hop = leg.hops[-1]
    if leg.deciding is not None:
        lookup = leg.deciding
        return f"{hop.machine}: " + _rule_route(lookup.rule, lookup.route, "no route back")
    return f"{hop.machine}: " + _rule_route(hop.lookup.rule, hop.lookup.route, "no rule leads to a route")


def _rule_route(rule: object, route: object, missing: str) -> str:
    if rule is None and route is None:
        return missing
    parts = []
    if rule is not None:
        parts.append(f"rule `{rule}`")
    if route is not None:
        parts.append(f"route `{route}`")
    return ", ".join(parts)


def hop_line(hop: Hop, family: int) -> str:
    lookup = hop.lookup
    came = f" (in {hop.iif})" if hop.iif else ""
    decided = _rule_route(lookup.rule, lookup.route, "no rule leads to a route")
    if lookup.outcome is Outcome.LOCAL:
        result = "local: delivered"
    elif lookup.outcome is Outcome.UNICAST:
        via = f" via {format_address(family, lookup.gateway)}" if lookup.gateway is not None else " on-link"
        result = f"out {lookup.device}{via}" + (f" on segment {hop.segment}" if hop.segment else "")
    else:
        result = lookup.outcome.value
    return f"{hop.machine}{came}: {decided}: {result}"


def flow_lines(path: FlowPath, source: str, family: int, src: int, dst: int) -> Iterator[str]:
    verdict = "delivered" if path.delivered else "dropped"
    yield f"{source} {format_address(family, src)} -> {format_address(family, dst)}: {verdict}"
    for name, leg in (("request", path.request), ("reply", path.reply)):
        if leg is None:
            continue
        yield f"{name}:"
        for hop in leg.hops:
            yield f"  {hop_line(hop, family)}"
        if not leg.delivered:
            yield f"  dropped at {leg.at}: {leg.reason}" + (f" ({leg.detail})" if leg.detail else "")
