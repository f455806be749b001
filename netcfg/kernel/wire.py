"""Netlink messages on the wire: framing, requests and their acks, dumps, and the link
header a snapshot of a namespace keys on.

Apart from codec, which encodes and decodes rtnetlink's rules, routes and addresses, so
that reading a namespace for a no-op apply loads nothing more than this. Its records are
NamedTuples, as are those of the rest of that path (netlink, snapshot, settled): a no-op
apply imports no dataclasses, which cost it more than its own work (docs/kernel.md).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import NamedTuple

# linux/netlink.h, linux/rtnetlink.h, linux/if_link.h
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_MIN_TYPE = 0x10  # below: control messages; from here: data
RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_GETRULE = 18, 22, 26, 34
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
NLM_F_ACK_TLVS = 0x200  # on NLMSG_ERROR: extended-ack attributes follow
NLM_F_CAPPED = 0x100  # on NLMSG_ERROR: the request's payload is not echoed
NLMSGERR_ATTR_MSG = 1
IFLA_IFNAME = 3
IFF_UP = 0x1

HEADER = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
ATTRIBUTE = struct.Struct("=HH")  # rtattr: len, type
RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg and fib_rule_hdr share this layout
IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg
IFINFO = struct.Struct("=BxHiII")  # ifinfomsg
U32 = struct.Struct("=I")
I32 = struct.Struct("=i")


class MalformedMessage(ValueError):
    """A netlink message whose lengths do not add up (truncated, or not what its type
    says): refused, never guessed at."""


class Request(NamedTuple):
    """One netlink request without its header: the socket adds length and sequence."""

    type: int
    flags: int
    body: bytes


def header(request: Request, seq: int, ack: bool = True) -> bytes:
    """The message of `request`; with `ack` False, the kernel answers only if it fails."""
    flags = request.flags if ack else request.flags & ~NLM_F_ACK
    return HEADER.pack(16 + len(request.body), request.type, flags, seq, 0) + request.body


def dump_request(kind: int, family: int = 0) -> Request:
    """A dump of links, addresses, routes or rules (all tables, all families)."""
    if kind == RTM_GETLINK:
        body = IFINFO.pack(0, 0, 0, 0, 0)
    elif kind == RTM_GETADDR:
        body = IFADDR.pack(family, 0, 0, 0, 0)
    else:
        body = RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
    return Request(kind, NLM_F_REQUEST | NLM_F_DUMP, body)


# ---------------------------------------------------------------- framing


class Message(NamedTuple):
    type: int
    flags: int
    seq: int
    payload: bytes


def messages(buffer: bytes) -> Iterator[Message]:
    """Split a buffer read from a netlink socket into its messages; a header cut short or
    a message longer than what is left of the buffer (truncated) is an error."""
    offset, end = 0, len(buffer)
    while offset < end:
        length, kind, flags, seq, _ = _frame(buffer, offset)
        yield Message(kind, flags, seq, buffer[offset + HEADER.size : offset + length])
        offset += (length + 3) & ~3


def _frame(buffer: bytes, offset: int) -> tuple[int, int, int, int, int]:
    """The header of the message at `offset`, checked to fit the buffer."""
    end = len(buffer)
    if end - offset < HEADER.size:
        raise MalformedMessage(
            f"{end - offset} bytes at offset {offset} of a {end}-byte netlink buffer: "
            f"too short for a message header ({HEADER.size} bytes)"
        )
    fields: tuple[int, int, int, int, int] = HEADER.unpack_from(buffer, offset)
    length = fields[0]
    if length < HEADER.size:
        raise MalformedMessage(f"netlink message of length {length} at offset {offset} (the header alone is 16)")
    if length > end - offset:
        raise MalformedMessage(
            f"netlink message of {length} bytes at offset {offset} runs past the end of the "
            f"{end}-byte buffer (truncated)"
        )
    return fields


class DumpReading:
    """The payloads of one dump's messages as its buffers arrive (a dump of 20,000 routes
    is read without a Message object per route)."""

    __slots__ = ("done", "interrupted", "payloads", "seq")

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.payloads: list[bytes] = []
        self.done = False
        self.interrupted = False  # the dump changed while it was read: to be read again

    def add(self, buffer: bytes) -> None:
        """Take a buffer's messages; an error answering the dump raises OSError."""
        offset, end = 0, len(buffer)
        unpack, keep = HEADER.unpack_from, self.payloads.append  # 20,000 messages: no lookups
        while offset < end and not self.done:
            if end - offset < 16:
                _frame(buffer, offset)  # raises, saying why
            length, kind, flags, seq, _ = unpack(buffer, offset)
            if not 16 <= length <= end - offset:
                _frame(buffer, offset)
            if seq == self.seq:  # else a late answer to an earlier request
                if kind >= NLMSG_MIN_TYPE and not flags & NLM_F_DUMP_INTR:
                    keep(buffer[offset + 16 : offset + length])
                else:
                    self._control(kind, flags, buffer[offset + 16 : offset + length])
            offset += (length + 3) & ~3

    def _control(self, kind: int, flags: int, payload: bytes) -> None:
        if flags & NLM_F_DUMP_INTR:
            self.interrupted = True
        if kind == NLMSG_DONE:
            self.done = True
        elif kind == NLMSG_ERROR:
            self.done = True
            failure = parse_error(payload, flags)
            if failure is not None:
                raise OSError(failure.errno, os.strerror(failure.errno))
        elif kind >= NLMSG_MIN_TYPE:
            self.payloads.append(payload)


def attributes(payload: bytes, offset: int) -> dict[int, bytes]:
    """The attributes after a fixed header of `offset` bytes (the last of a kind wins, as
    in the kernel); an attribute shorter than its own header or running past the end of
    the message is an error."""
    end = len(payload)
    if offset > end:
        raise MalformedMessage(f"message of {end} bytes is shorter than its {offset}-byte header")
    found = {}
    header, unpack = ATTRIBUTE.size, ATTRIBUTE.unpack_from  # a dozen times per message
    while offset < end:
        if end - offset < header:
            raise MalformedMessage(f"{end - offset} stray bytes at offset {offset} of a {end}-byte message")
        length, kind = unpack(payload, offset)
        if length < header or length > end - offset:
            raise MalformedMessage(
                f"attribute {kind & 0x3FFF} of length {length} at offset {offset} does not fit "
                f"the {end}-byte message (truncated or malformed)"
            )
        found[kind & 0x3FFF] = payload[offset + header : offset + length]
        offset += (length + 3) & ~3
    return found


def fixed(shape: struct.Struct, payload: bytes, what: str) -> tuple:
    if len(payload) < shape.size:
        raise MalformedMessage(f"{what} message of {len(payload)} bytes is shorter than its {shape.size}-byte header")
    return shape.unpack_from(payload, 0)


def ifname(value: bytes | None) -> str:
    return value.split(b"\0", 1)[0].decode(errors="replace") if value else ""


# ---------------------------------------------------------------- errors and links


class Failure(NamedTuple):
    """The kernel's answer to a request that failed: errno and its extended-ack text."""

    errno: int
    message: str = ""


def parse_error(payload: bytes, flags: int) -> Failure | None:
    """None for an ack (error 0), else the failure with the kernel's own explanation."""
    if len(payload) < 4:
        raise MalformedMessage(f"netlink error message of {len(payload)} bytes (at least 4)")
    code = I32.unpack_from(payload, 0)[0]
    if code == 0:
        return None
    text = ""
    if flags & NLM_F_ACK_TLVS:
        # The echoed request header (and its payload unless capped) precedes the TLVs.
        if len(payload) < 4 + HEADER.size:
            raise MalformedMessage(f"netlink error message of {len(payload)} bytes without the echoed header")
        echoed = HEADER.size if flags & NLM_F_CAPPED else U32.unpack_from(payload, 4)[0]
        tlvs = attributes(payload, 4 + ((echoed + 3) & ~3))
        if NLMSGERR_ATTR_MSG in tlvs:
            text = tlvs[NLMSGERR_ATTR_MSG].rstrip(b"\0").decode(errors="replace")
    return Failure(-code, text)


def parse_link(payload: bytes) -> tuple[int, str]:
    """(ifindex, name) of an RTM_NEWLINK message."""
    _, _, index, _, _ = fixed(IFINFO, payload, "link")
    return index, ifname(attributes(payload, IFINFO.size).get(IFLA_IFNAME))


def parse_link_up(payload: bytes) -> tuple[str, bool]:
    """(name, administratively up) of an RTM_NEWLINK message."""
    _, _, _, flags, _ = fixed(IFINFO, payload, "link")
    return ifname(attributes(payload, IFINFO.size).get(IFLA_IFNAME)), bool(flags & IFF_UP)
