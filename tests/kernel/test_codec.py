"""The hand-written rtnetlink codec, checked against pyroute2's own message parser."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyroute2.netlink.rtnl.fibmsg import fibmsg
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from netcfg.kernel import codec
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


def test_delete_matches_any_scope_but_only_our_protocol():
    route = Route(4, 2, "0.0.0.0/0", gateway="203.0.113.1", metric=20)
    msg = decoded(rtmsg, codec.route_request(route, INDEX, "remove"))
    assert msg["header"]["type"] == codec.RTM_DELROUTE
    assert msg["scope"] == codec.RT_SCOPE_NOWHERE and msg["proto"] == 77
    assert msg.get_attr("RTA_PRIORITY") == 20


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
    assert decoded(fibmsg, codec.rule_request(rule, "remove")).get_attr("FRA_PROTOCOL") is None


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


@settings(max_examples=60, deadline=None)
@given(
    st.builds(
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
)
def test_rule_round_trip(rule):
    body = codec.rule_request(rule, "add").body
    assert codec.parse_rule(body) == rule
    assert codec.rule_priority(body) == rule.priority


def test_address_round_trip():
    address = Address("eth0", 6, "2001:db8:20::10/64")
    body = codec.address_request(address, INDEX, "add").body
    assert codec.parse_address(body, NAMES) == address


def test_rule_with_fwmark_is_not_ours():
    body = codec.rule_request(Rule(4, 20, 2, src="10.0.0.0/8"), "add").body
    body += struct.pack("=HHI", 8, codec.FRA_FWMARK, 5)
    assert codec.parse_rule(body) is None


def test_multipath_route_is_not_ours():
    body = codec.route_request(Route(4, 2, "10.0.0.0/8", device="eth0"), INDEX, "add").body
    body += struct.pack("=HH", 4, codec.RTA_MULTIPATH)
    assert codec.parse_route(body, NAMES) is None


def test_gateway_route_drops_resolved_device():
    body = codec.route_request(Route(4, 254, "0.0.0.0/0", gateway="192.0.2.1"), INDEX, "add").body
    body += struct.pack("=HHI", 8, codec.RTA_OIF, 7)
    assert codec.parse_route(body, NAMES) == Route(4, 254, "0.0.0.0/0", gateway="192.0.2.1")


def test_messages_and_error_with_extended_ack():
    text = b"Nexthop has invalid gateway\0"
    tlv = struct.pack("=HH", 4 + len(text), codec.NLMSGERR_ATTR_MSG) + text
    tlv += b"\0" * (-len(tlv) % 4)
    payload = struct.pack("=i", -101) + struct.pack("=IHHII", 40, 24, 5, 9, 0) + tlv
    flags = codec.NLM_F_ACK_TLVS | codec.NLM_F_CAPPED
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
