"""The hand-written rtnetlink codec, checked against pyroute2's own message parser."""

from __future__ import annotations

import struct
from dataclasses import fields, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyroute2.netlink.rtnl.fibmsg import fibmsg
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from netcfg.kernel import codec, wire
from netcfg.model.host import Address, Route, Rule

INDEX = {"eth0": 7, "ethfe": 300}
NAMES = {v: k for k, v in INDEX.items()}


def decoded(cls, request: codec.Request):
    msg = cls(codec.header(request, 1))
    msg.decode()
    return msg


def test_route_request_decodes_with_pyroute2():
    route = Route(4, 1000, "203.0.113.0/26", device="eth0", scope="link")
    msg = decoded(rtmsg, codec.route_request(route, INDEX, "add"))
    assert msg["family"] == 2 and msg["dst_len"] == 26 and msg["proto"] == 77
    assert msg["scope"] == 253 and msg["type"] == 1
    assert msg.get_attr("RTA_TABLE") == 1000
    assert msg.get_attr("RTA_DST") == "203.0.113.0"
    assert msg.get_attr("RTA_OIF") == 7
    assert msg["header"]["flags"] == codec.CREATE


def test_ipv6_default_route_gets_kernel_default_metric_and_no_dst():
    route = Route(6, 254, "::/0", gateway="2001:db8:20::1")
    msg = decoded(rtmsg, codec.route_request(route, INDEX, "add"))
    assert msg["dst_len"] == 0 and msg.get_attr("RTA_DST") is None
    assert msg.get_attr("RTA_GATEWAY") == "2001:db8:20::1"
    assert msg.get_attr("RTA_PRIORITY") == 1024
    assert msg["table"] == 254


def test_a_route_deletion_names_the_route_completely():
    # Table, destination, metric, protocol, scope, type and gateway: the kernel's
    # fib_table_delete treats whatever a deletion leaves out as "any".
    route = Route(4, 2, "0.0.0.0/0", gateway="203.0.113.1", metric=20)
    msg = decoded(rtmsg, codec.route_request(route, INDEX, "remove"))
    assert msg["header"]["type"] == codec.RTM_DELROUTE
    assert msg["proto"] == 77 and msg["scope"] == codec.RT_SCOPE_UNIVERSE and msg["type"] == codec.RTN_UNICAST
    assert msg.get_attr("RTA_PRIORITY") == 20 and msg.get_attr("RTA_GATEWAY") == "203.0.113.1"
    assert msg.get_attr("RTA_TABLE") == 2
    onlink = Route(4, 2, "203.0.113.0/26", device="eth0", scope="link")
    msg = decoded(rtmsg, codec.route_request(onlink, INDEX, "remove"))
    assert msg["scope"] == codec.RT_SCOPE_LINK and msg.get_attr("RTA_OIF") == 7


def test_rule_request_decodes_with_pyroute2():
    rule = Rule(6, 20, 70000, dst="2001:db8:10::/64")
    msg = decoded(fibmsg, codec.rule_request(rule, "add"))
    assert msg["family"] == 10 and msg["dst_len"] == 64 and msg["action"] == 1
    assert msg.get_attr("FRA_TABLE") == 70000 and msg["table"] == 0
    assert msg.get_attr("FRA_PRIORITY") == 20
    assert msg.get_attr("FRA_DST") == "2001:db8:10::"
    assert msg.get_attr("FRA_PROTOCOL") == 77  # netcfg's marker
    assert codec.rule_protocol(codec.rule_request(rule, "add").body) == 77
    assert codec.rule_protocol(codec.rule_request(rule, "add", protocol=0).body) == 0
    assert codec.parse_marked_rule(codec.rule_request(rule, "add").body, 77) == rule
    assert codec.parse_marked_rule(codec.rule_request(rule, "add", protocol=0).body, 77) is None
    # Added without NLM_F_EXCL: the kernel's duplicate check for rules would take an
    # absent from/to for "any" (see codec.CREATE_RULE).
    assert msg["header"]["flags"] == codec.CREATE_RULE
    # A deletion carries the marker: the kernel's rule_find matches only what is given,
    # and without it could remove a colleague's rule with the same prefix and priority.
    removal = decoded(fibmsg, codec.rule_request(rule, "remove"))
    assert removal["header"]["type"] == codec.RTM_DELRULE
    assert removal.get_attr("FRA_PROTOCOL") == 77 and removal.get_attr("FRA_PRIORITY") == 20
    assert removal.get_attr("FRA_TABLE") == 70000 and removal.get_attr("FRA_DST") == "2001:db8:10::"


def test_address_request_decodes_with_pyroute2():
    address = Address("ethfe", 4, "198.51.100.70/27")
    msg = decoded(ifaddrmsg, codec.address_request(address, INDEX, "add"))
    assert msg["index"] == 300 and msg["prefixlen"] == 27
    assert msg.get_attr("IFA_LOCAL") == "198.51.100.70"
    assert msg.get_attr("IFA_PROTO") == 77  # netcfg's marker
    assert codec.address_protocol(codec.address_request(address, INDEX, "add").body) == 77
    unmarked = codec.address_request(address, INDEX, "add", protocol=0).body
    assert codec.address_protocol(unmarked) == 0
    assert decoded(ifaddrmsg, codec.address_request(address, INDEX, "remove")).get_attr("IFA_PROTO") is None


def _as_dump(request: codec.Request) -> bytes:
    """The payload the kernel would report for what we asked (our encoding, read back)."""
    return request.body


prefix4 = st.builds(lambda a, n: codec.canonical_prefix(f"{a}/{n}"), st.ip_addresses(v=4).map(str), st.integers(1, 32))
prefix6 = st.builds(lambda a, n: codec.canonical_prefix(f"{a}/{n}"), st.ip_addresses(v=6).map(str), st.integers(1, 128))


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.builds(
            lambda p, t, m: Route(4, t, p, device="eth0", scope="link", metric=m),
            prefix4,
            st.integers(1, 2**31),
            st.one_of(st.none(), st.integers(1, 5000)),
        ),
        st.builds(
            lambda p, t, gw: Route(6, t, p, gateway=codec.canonical_ip(gw)),
            prefix6,
            st.integers(1, 2**31),
            st.ip_addresses(v=6).map(str),
        ),
    )
)
def test_route_round_trip(route):
    # What we send is what we would parse back: desired and live compare exactly.
    parsed = codec.parse_route(_as_dump(codec.route_request(route, INDEX, "add")), NAMES)
    assert parsed == route


model_rules = st.builds(
    lambda fam, prio, table, p4, p6, src: Rule(
        fam,
        prio,
        table,
        src=(p4 if fam == 4 else p6) if src else None,
        dst=None if src else (p4 if fam == 4 else p6),
    ),
    st.sampled_from([4, 6]),
    st.integers(1, 32765),
    st.integers(1, 2**31),
    prefix4,
    prefix6,
    st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(model_rules)
def test_rule_round_trip(rule):
    body = codec.rule_request(rule, "add").body
    assert codec.parse_rule(body) == rule
    assert codec.rule_priority(body) == rule.priority


def test_address_round_trip():
    address = Address("eth0", 6, "2001:db8:20::10/64")
    body = codec.address_request(address, INDEX, "add").body
    assert codec.parse_address(body, NAMES) == (address, 77)
    assert codec.parse_address(codec.address_request(address, INDEX, "add", protocol=0).body, NAMES) == (address, 0)


def test_a_rule_with_fwmark_is_beyond_the_model_and_keeps_it():
    body = codec.rule_request(Rule(4, 20, 2, src="10.0.0.0/8"), "add").body
    body += struct.pack("=HHI", 8, codec.FRA_FWMARK, 5) + struct.pack("=HHI", 8, codec.FRA_FWMASK, 0xFFFFFFFF)
    parsed = codec.parse_rule(body)
    assert isinstance(parsed, codec.KernelRule)
    assert (parsed.fwmark, parsed.fwmask, parsed.src, parsed.protocol) == (5, 0xFFFFFFFF, "10.0.0.0/8", 77)
    assert parsed.model() is None
    assert str(parsed) == "from 10.0.0.0/8 fwmark 0x5 lookup 2 priority 20 proto 77"


# `ip rule add from 10.1.0.0/16 fwmark 0/0xff lookup 300 priority 20`, as Linux 6.18 dumps
# it: FRA_FWMASK without FRA_FWMARK (the kernel puts the mark only when it is not 0).
FWMASK_ONLY_DUMP = bytes.fromhex(
    "02001000fc0000010000000008000f002c01000008000e00ffffffff0500150000000000"
    "080006001400000008001000ff000000080002000a010000"
)


def test_a_fwmask_without_fwmark_is_a_selector_not_a_plain_rule():
    dump = FWMASK_ONLY_DUMP
    rule = codec.parse_rule(dump)
    assert isinstance(rule, codec.KernelRule)
    assert (rule.fwmark, rule.fwmask) == (0, 0xFF)
    assert rule.model() is None  # not `from 10.1.0.0/16 lookup 300 priority 20`
    assert str(rule) == "from 10.1.0.0/16 fwmark 0x0/0xff lookup 300 priority 20 proto 0"
    # Re-encoded (a roll-back's re-creation, a deletion) it keeps the mask, and no mark.
    again = decoded(fibmsg, codec.rule_request(rule, "add"))
    assert again.get_attr("FRA_FWMASK") == 0xFF and again.get_attr("FRA_FWMARK") is None
    assert codec.decode_rule(codec.rule_request(rule, "remove").body) == rule


def test_every_rule_selector_decodes_like_pyroute2_and_re_encodes():
    msg = fibmsg()
    msg["family"], msg["src_len"], msg["dst_len"], msg["tos"] = 2, 16, 24, 0x10
    msg["action"], msg["table"], msg["flags"] = 1, 252, codec.FIB_RULE_INVERT | 0x8  # 0x8: iif detached (state)
    msg["attrs"] = [
        ("FRA_SRC", "10.1.0.0"),
        ("FRA_DST", "10.2.3.0"),
        ("FRA_PRIORITY", 20),
        ("FRA_TABLE", 300),
        ("FRA_IIFNAME", "eth0"),
        ("FRA_OIFNAME", "eth1"),
        ("FRA_FWMARK", 7),
        ("FRA_FWMASK", 0xFF),
        ("FRA_FLOW", 9),
        ("FRA_TUN_ID", 5),
        ("FRA_SUPPRESS_PREFIXLEN", 8),
        ("FRA_SUPPRESS_IFGROUP", 3),
        ("FRA_UID_RANGE", "1:2"),
        ("FRA_PROTOCOL", 77),
        ("FRA_IP_PROTO", 6),
        ("FRA_SPORT_RANGE", "80:90"),
        ("FRA_DPORT_RANGE", "443:443"),
    ]
    msg["header"]["type"] = codec.RTM_NEWRULE
    msg.encode()
    rule = codec.decode_rule(bytes(msg.data)[16:])
    assert rule == codec.KernelRule(
        family=4,
        priority=20,
        table=300,
        protocol=77,
        src="10.1.0.0/16",
        dst="10.2.3.0/24",
        tos=0x10,
        flags=codec.FIB_RULE_INVERT,
        iifname="eth0",
        oifname="eth1",
        fwmark=7,
        fwmask=0xFF,
        flow=9,
        tun_id=5,
        suppress_prefixlen=8,
        suppress_ifgroup=3,
        uid_range=(1, 2),
        ip_proto=6,
        sport=(80, 90),
        dport=(443, 443),
    )
    assert rule.model() is None
    # A deletion names every one of them; pyroute2 reads the same values back.
    back = decoded(fibmsg, codec.rule_request(rule, "remove"))
    assert back["header"]["type"] == codec.RTM_DELRULE
    expected = {name: value for name, value in msg["attrs"]}
    assert {name: back.get_attr(name) for name in expected} == expected
    assert (back["src_len"], back["dst_len"], back["tos"], back["flags"]) == (16, 24, 0x10, codec.FIB_RULE_INVERT)
    assert codec.decode_rule(codec.rule_request(rule, "remove").body) == rule


@pytest.mark.parametrize(
    "changes",
    [
        {"action": 6, "table": 0},  # blackhole
        {"action": 2, "goto": 40, "table": 0},
        {"l3mdev": 1, "table": 0},
        {"other": ((25, b"\x04"),)},  # an attribute of a newer kernel (FRA_DSCP), kept verbatim
    ],
)
def test_other_actions_and_unknown_attributes_round_trip(changes):
    rule = codec.KernelRule(
        **{"family": 4, "priority": 20, "table": 300, "protocol": 77, "src": "10.1.0.0/16", **changes}
    )
    assert codec.decode_rule(codec.encode_rule(rule)) == rule
    assert rule.model() is None


def test_a_plain_rule_is_the_models_rule_whatever_its_marker():
    rule = codec.KernelRule(6, 20, 300, protocol=4, dst="2001:db8::/64")
    assert rule.model() == Rule(6, 20, 300, dst="2001:db8::/64")
    assert codec.parse_rule(codec.encode_rule(rule)) == Rule(6, 20, 300, dst="2001:db8::/64")


def test_a_multipath_route_is_beyond_the_model_and_keeps_every_attribute():
    msg = rtmsg()
    msg["family"], msg["dst_len"], msg["table"], msg["proto"], msg["type"] = 2, 16, 252, 77, 1
    msg["flags"] = 0x10  # linkdown: the kernel's state, not part of the route
    msg["attrs"] = [
        ("RTA_DST", "10.96.0.0"),
        ("RTA_TABLE", 301),
        ("RTA_PREFSRC", "10.20.9.9"),
        ("RTA_METRICS", {"attrs": [("RTAX_MTU", 1400)]}),
        (
            "RTA_MULTIPATH",
            [
                {"oif": 7, "hops": 1, "flags": 0x10, "attrs": [("RTA_GATEWAY", "10.20.0.1")]},
                {"oif": 7, "attrs": [("RTA_GATEWAY", "10.20.0.2")]},
            ],
        ),
        ("RTA_CACHEINFO", {"rta_clntref": 1, "rta_lastuse": 2, "rta_expires": 0, "rta_error": 0, "rta_used": 3}),
    ]
    msg["header"]["type"] = codec.RTM_NEWROUTE
    msg.encode()
    route = codec.parse_route(bytes(msg.data)[16:], NAMES)
    assert isinstance(route, codec.KernelRoute)
    assert (route.dst, route.table, route.prefsrc, route.protocol, route.flags) == (
        "10.96.0.0/16",
        301,
        "10.20.9.9",
        77,
        0,
    )
    assert codec.RTA_CACHEINFO not in dict(route.attrs)  # counters: not what the route is
    assert str(route) == (
        "10.96.0.0/16 src 10.20.9.9 mtu 1400 nexthop via 10.20.0.1 dev eth0 weight 2 "
        "nexthop via 10.20.0.2 dev eth0 weight 1 table 301 proto 77"
    )
    back = decoded(rtmsg, codec.route_request(route, INDEX, "remove"))
    assert back["header"]["type"] == codec.RTM_DELROUTE and back["proto"] == 77
    assert back.get_attr("RTA_PREFSRC") == "10.20.9.9" and back.get_attr("RTA_TABLE") == 301
    assert back.get_attr("RTA_METRICS").get_attr("RTAX_MTU") == 1400
    hops = back.get_attr("RTA_MULTIPATH")
    assert [(h["oif"], h["hops"], h["flags"], h.get_attr("RTA_GATEWAY")) for h in hops] == [
        (7, 1, 0, "10.20.0.1"),  # the next hop's linkdown state is not sent back
        (7, 0, 0, "10.20.0.2"),
    ]
    assert codec.decode_route(codec.route_request(route, INDEX, "add").body) == route


@pytest.mark.parametrize(
    "extra",
    [
        {"prefsrc": "10.0.0.1"},
        {"flags": codec.RTNH_F_ONLINK},
        {"type": 6},  # blackhole
        {"tos": 0x10},
        {"pref": 1},
        {"attrs": ((codec.RTA_NH_ID, struct.pack("=I", 5)),)},
        {"scope": codec.RT_SCOPE_HOST},
    ],
)
def test_marked_routes_beyond_the_model_are_kernel_routes(extra):
    route = codec.KernelRoute(4, 2, "10.0.0.0/8", 77, gateway="10.1.0.1", **extra)
    body = codec.encode_route(route)
    assert codec.parse_route(body, NAMES) == route
    assert codec.decode_route(body).model(NAMES) is None


def test_gateway_route_drops_resolved_device():
    body = codec.route_request(Route(4, 254, "0.0.0.0/0", gateway="192.0.2.1"), INDEX, "add").body
    body += struct.pack("=HHI", 8, codec.RTA_OIF, 7)
    assert codec.parse_route(body, NAMES) == Route(4, 254, "0.0.0.0/0", gateway="192.0.2.1")


def test_messages_and_error_with_extended_ack():
    text = b"Nexthop has invalid gateway\0"
    tlv = struct.pack("=HH", 4 + len(text), wire.NLMSGERR_ATTR_MSG) + text
    tlv += b"\0" * (-len(tlv) % 4)
    payload = struct.pack("=i", -101) + struct.pack("=IHHII", 40, 24, 5, 9, 0) + tlv
    flags = wire.NLM_F_ACK_TLVS | wire.NLM_F_CAPPED
    buffer = struct.pack("=IHHII", 16 + len(payload), codec.NLMSG_ERROR, flags, 9, 0) + payload
    buffer += struct.pack("=IHHII", 20, codec.NLMSG_ERROR, 0, 10, 0) + struct.pack("=i", 0)
    found = list(codec.messages(buffer))
    assert [m.seq for m in found] == [9, 10]
    failure = codec.parse_error(found[0].payload, found[0].flags)
    assert failure == codec.Failure(101, "Nexthop has invalid gateway")
    assert codec.parse_error(found[1].payload, found[1].flags) is None


def _message(kind: int, payload: bytes) -> bytes:
    return struct.pack("=IHHII", 16 + len(payload), kind, 0, 1, 0) + payload


@pytest.mark.parametrize(
    "buffer,words",
    [
        (struct.pack("=IHHII", 4, 3, 0, 0, 0), "length 4"),  # shorter than its own header
        (struct.pack("=IHHI", 16, 3, 0, 0), "too short for a message header"),  # header cut
        (_message(24, b"\0" * 12)[:-4], "runs past the end"),  # message cut (MSG_TRUNC)
        (_message(24, b"\0" * 12) + b"\0\0", "too short for a message header"),
    ],
)
def test_a_truncated_buffer_is_an_error(buffer, words):
    with pytest.raises(codec.MalformedMessage, match=words):
        list(codec.messages(buffer))


def test_truncated_or_malformed_attributes_are_errors():
    body = codec.route_request(Route(4, 300, "10.0.0.0/8", device="eth0", scope="link"), INDEX, "add").body
    with pytest.raises(codec.MalformedMessage, match="does not fit"):
        codec.parse_route(body[:-2], NAMES)  # the last attribute runs past the end
    with pytest.raises(codec.MalformedMessage, match="does not fit"):
        codec.attributes(body[:12] + struct.pack("=HH", 2, codec.RTA_DST), 12)  # shorter than its header
    with pytest.raises(codec.MalformedMessage, match="stray"):
        codec.attributes(body + b"\0\0", 12)
    with pytest.raises(codec.MalformedMessage, match="shorter than its 12-byte header"):
        codec.parse_rule(body[:8])
    with pytest.raises(codec.MalformedMessage, match="expected 4"):  # a u32 of 2 bytes
        codec.parse_route(body[:12] + struct.pack("=HHH", 6, codec.RTA_TABLE, 300) + b"\0\0", NAMES)
    with pytest.raises(codec.MalformedMessage, match="address attribute"):  # 3 bytes of IPv4
        codec.parse_route(body[:12] + codec._attr(codec.RTA_DST, b"\n\0\0"), NAMES)
    with pytest.raises(codec.MalformedMessage, match="without its address"):  # /8 and no FRA_SRC
        codec.decode_rule(struct.pack("=BBBBBBBBI", 2, 0, 8, 0, 2, 0, 0, 1, 0))


@settings(max_examples=80, deadline=None)
@given(
    st.binary(min_size=12, max_size=80),
)
def test_any_bytes_decode_or_raise_malformed_never_anything_else(payload):
    for decode in (codec.decode_rule, codec.parse_rule, lambda p: codec.parse_route(p, NAMES)):
        try:
            decode(payload)
        except codec.MalformedMessage:
            pass


@pytest.mark.parametrize(
    "text,canonical",
    [
        ("10.20.1.10/16", "10.20.0.0/16"),
        ("2001:0db8:0020:0000:0000:0000:0000:0000/64", "2001:db8:20::/64"),
        ("0.0.0.0/0", "0.0.0.0/0"),
    ],
)
def test_canonical_prefix(text, canonical):
    assert codec.canonical_prefix(text) == canonical


def test_promote_secondaries_request_decodes_with_pyroute2():
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

    msg = decoded(ifinfmsg, codec.promote_secondaries_request(7, 1))
    assert msg["index"] == 7
    inet = msg.get_attr("IFLA_AF_SPEC").get_attr("AF_INET")
    assert inet is not None
    # And read back from a dump's array of u32 settings (setting N at index N - 1).
    conf = struct.pack("=31I", *[1 if i == 19 else 0 for i in range(31)])
    spec = codec._attr(codec.AF_INET, codec._attr(codec.IFLA_INET_CONF, conf))
    payload = struct.pack("=BxHiII", 0, 1, 7, 0, 0) + codec._attr(codec.IFLA_AF_SPEC, spec)
    assert codec.parse_promote_secondaries(payload) == 1
    assert codec.parse_promote_secondaries(struct.pack("=BxHiII", 0, 1, 7, 0, 0)) is None


def test_route_restore_request_keeps_the_route_but_not_its_state_flags():
    route = Route(4, 1000, "10.97.0.0/16", device="eth0", scope="link", protocol=4)
    body = bytearray(codec.route_request(route, INDEX, "add").body)
    struct.pack_into("=I", body, 8, 0x10 | 0x4)  # linkdown (kernel state) and onlink
    request = codec.route_restore_request(bytes(body))
    assert request.type == codec.RTM_NEWROUTE and request.flags == codec.CREATE
    assert struct.unpack_from("=I", request.body, 8)[0] == 0x4
    assert request.body[12:] == bytes(body[12:])
    assert codec.route_identity(request.body) == codec.route_identity(bytes(body))


kernel_routes = st.builds(
    lambda fam, table, plen, gw, oif, metric, scope, kind, pref, onlink, prefsrc: codec.KernelRoute(
        fam,
        table,
        codec.canonical_prefix(f"{'10.0.0.0' if fam == 4 else '2001:db8::'}/{plen}"),
        77,
        scope=scope,
        type=kind,
        metric=metric,
        flags=codec.RTNH_F_ONLINK if onlink else 0,
        gateway=(("10.1.0.1" if fam == 4 else "2001:db8:1::1") if gw else None),
        oif=oif,
        pref=pref if fam == 6 else None,
        prefsrc=("10.2.0.1" if fam == 4 else "2001:db8:2::1") if prefsrc else None,
    ),
    st.sampled_from([4, 6]),
    st.integers(1, 70000),
    st.integers(0, 32),
    st.booleans(),
    st.sampled_from([0, 7, 300]),
    st.sampled_from([0, 20, 1024]),
    st.sampled_from([codec.RT_SCOPE_UNIVERSE, codec.RT_SCOPE_LINK]),
    st.sampled_from([codec.RTN_UNICAST, 6]),
    st.sampled_from([0, 1]),
    st.booleans(),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(kernel_routes)
def test_the_fast_route_path_agrees_with_the_full_decoding(route):
    # parse_route decodes the common case directly: it must say what decode + model say.
    body = codec.encode_route(route)
    full = codec.decode_route(body)
    assert full == route
    assert codec.parse_route(body, NAMES) == (full.model(NAMES) or full)


kernel_rules = st.builds(
    lambda fam, table, src, tos, fwmask, proto, spl: codec.KernelRule(
        fam,
        20,
        table,
        protocol=proto,
        src=codec.canonical_prefix(f"{'10.0.0.0' if fam == 4 else '2001:db8::'}/{src}") if src else None,
        tos=tos,
        fwmask=fwmask,
        suppress_prefixlen=spl,
    ),
    st.sampled_from([4, 6]),
    st.sampled_from([0, 3, 300]),
    st.integers(0, 32),
    st.sampled_from([0, 0x10]),
    st.sampled_from([0, 0xFF]),
    st.sampled_from([0, 77]),
    st.sampled_from([codec.UNSET32, 0]),
)


@settings(max_examples=150, deadline=None)
@given(kernel_rules)
def test_the_fast_rule_path_agrees_with_the_full_decoding(rule):
    body = codec.encode_rule(rule)
    full = codec.decode_rule(body)
    assert full == rule
    assert codec.parse_rule(body) == (full.model() or full)


def _near_misses(entry: Rule | Route) -> list[Rule | Route]:
    """`entry` with one field changed, in every field, to None and to another value."""

    def others(value: object) -> list[object]:
        changed = 0 if value is None else value + 1 if isinstance(value, int) else f"{value}x"
        return [other for other in (None, changed) if other != value]

    return [replace(entry, **{f.name: other}) for f in fields(entry) for other in others(getattr(entry, f.name))]


def _decoded_knowing(entry: object, decode) -> None:
    """What decode (given the known entries) makes of the dump of `entry`: that very
    known entry when one is equal to what it decodes to, never one that differs."""
    plain = decode(codec.NOTHING_KNOWN)
    if not isinstance(plain, Rule | Route):
        assert decode(_known([entry])) == plain
        return
    misses = _near_misses(plain)
    found = decode(_known(misses))
    assert found == plain and all(found is not miss for miss in misses)
    twin = replace(plain)  # equal, another object
    assert decode(_known([*misses, twin])) is twin


def _known(entries: list) -> codec.Known:
    """codec.known_entries of entries of any kind, each offered as a rule and as a route."""
    return codec.known_entries(entries, entries)


@settings(max_examples=150, deadline=None)
@given(kernel_routes)
def test_a_route_decodes_as_the_known_one_equal_to_it_and_only_then(route):
    body = codec.encode_route(route)
    _decoded_knowing(route, lambda known: codec.parse_route(body, NAMES, known))


@settings(max_examples=150, deadline=None)
@given(st.one_of(kernel_rules, model_rules.map(codec.KernelRule.from_model)))
def test_a_rule_decodes_as_the_known_one_equal_to_it_and_only_then(rule):
    body = codec.encode_rule(rule)
    _decoded_knowing(rule, lambda known: codec.parse_marked_rule(body, rule.protocol, known))
