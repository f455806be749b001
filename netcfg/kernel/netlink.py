"""The rtnetlink socket of one network namespace: dumps and batched requests.

Opening never creates a namespace. pyroute2 (and `ip netns exec`) create a missing
one by default; here a name must already exist under /run/netns, and the socket is
created by a short-lived thread that enters the namespace with setns(2), so the
process itself never changes namespace.

Requests are sent in batches of prepared messages, the last asking for an ack, and the
answers are collected per batch: a few system calls per thousand changes instead of a
round trip per change (what `ip -batch` and pyroute2's per-call API do).
"""

from __future__ import annotations

# The C module under socket.py: socket.py turns its constants into enums when imported,
# 11 million instructions, 2 % of a fresh apply (docs/kernel.md, "Speed"). The
# modules apply imports take inet_pton and the families from it too.
import _socket as socket
import ctypes
import errno as errno_mod
import os
import threading
from collections.abc import Sequence
from typing import NamedTuple

from netcfg.errors import InputError, quote
from netcfg.kernel import wire
from netcfg.kernel.wire import Failure, Request

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
NETLINK_ROUTE = 0
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33
BUFFER = 32 << 20
# A batch must fit the send buffer, and its acks (about 1 KiB of socket memory each)
# the receive buffer.
BATCH_BYTES = 96 << 10
BATCH_MESSAGES = 1024
RECV = 1 << 20


def netns_path(netns: str) -> str:
    # A name netcfg prints in its messages holds no control character.
    if not netns or "/" in netns or netns in (".", "..") or not netns.isprintable():
        raise InputError(f"invalid network namespace name {quote(netns)}")
    return os.path.join(NETNS_DIR, netns)


def no_such_netns(netns: str) -> InputError:
    """The error for a name that names no namespace, spelt escaped (a name is the user's
    text, and may carry what a terminal would obey)."""
    return InputError(
        f"network namespace {quote(netns)} does not exist ({quote(netns_path(netns))}); "
        f"create it first (ip netns add {quote(netns)})"
    )


def netns_exists(netns: str) -> bool:
    return os.path.exists(netns_path(netns))


def _open_in_netns(netns: str | None) -> socket.socket:
    def make() -> socket.socket:
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)

    if netns is None:
        return make()
    path = netns_path(netns)
    try:
        # O_RDONLY without O_CREAT: a missing namespace is an error, never created.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise no_such_netns(netns) from None
    result: list[socket.socket | BaseException] = []

    def enter() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)  # the process's own libc: no ldconfig run
            if libc.setns(fd, CLONE_NEWNET) != 0:
                code = ctypes.get_errno()
                if code == errno_mod.EPERM:
                    raise PermissionError(code, f"setns({path}): {os.strerror(code)}")
                raise OSError(code, f"setns({path}): {os.strerror(code)}")
            result.append(make())
        except BaseException as error:
            result.append(error)

    try:
        # setns(2) switches only the calling thread; the thread ends right after, and
        # the socket stays bound to the namespace it was created in.
        thread = threading.Thread(target=enter, name=f"netns-{netns}")
        thread.start()
        thread.join()
    finally:
        os.close(fd)
    if isinstance(result[0], PermissionError):
        raise InputError(f"entering network namespace {netns!r} needs root (CAP_SYS_ADMIN)")
    if isinstance(result[0], OSError) and result[0].errno == errno_mod.EINVAL:
        # A file or directory under /run/netns that is no namespace (left by a crash).
        raise InputError(f"{path} is not a network namespace (a stale entry? `ip netns del {netns}`)")
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


class Rejected(NamedTuple):
    """A request of a batch the kernel refused."""

    position: int  # in the batch sent
    failure: Failure


class Netlink:
    """An rtnetlink socket bound to one namespace (None: the current one)."""

    def __init__(self, netns: str | None = None):
        self.netns = netns
        self.sock = _open_in_netns(netns)
        for option, size in ((SO_SNDBUFFORCE, BUFFER), (SO_RCVBUFFORCE, BUFFER)):
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, option, size)
            except PermissionError:  # not root: the default sizes, smaller batches
                pass
        for option in (NETLINK_CAP_ACK, NETLINK_EXT_ACK):
            try:
                self.sock.setsockopt(SOL_NETLINK, option, 1)
            except OSError:
                pass
        self.sock.bind((0, 0))
        self.seq = 0

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def dump(self, request: Request) -> list[bytes]:
        """The payload of every message of one dump; read again when the kernel says it
        changed while it was read."""
        for _ in range(10):
            reading = wire.DumpReading(self._next())
            self.sock.sendall(wire.header(request, reading.seq))
            while not reading.done:
                reading.add(self.sock.recv(RECV))
            if not reading.interrupted:
                return reading.payloads
        raise OSError(errno_mod.EINTR, "netlink dump kept being interrupted")

    def send(self, requests: Sequence[Request], stop_on_error: bool = True) -> list[Rejected]:
        """Send requests in batches; the refused ones, in request order.

        Only the last request of a batch asks for an ack: the kernel handles a batch's
        messages in order and answers every one that fails, so when that ack arrives
        every refusal of the batch has arrived before it (one receive per batch rather
        than one per change). With stop_on_error, no further batch is sent after a batch
        with a refusal (the rest of that batch was already processed by the kernel; the
        caller rolls back from a fresh read, not from a list of what it believes
        succeeded)."""
        rejected: list[Rejected] = []
        start = 0
        while start < len(requests):
            first_seq = self.seq + 1
            parts: list[bytes] = []
            size = 0
            end = start
            while end < len(requests) and end - start < BATCH_MESSAGES and size < BATCH_BYTES:
                part = wire.header(requests[end], self._next(), ack=False)
                parts.append(part)
                size += len(part)
                end += 1
            parts[-1] = wire.header(requests[end - 1], self.seq, ack=True)
            self.sock.sendall(b"".join(parts))
            acked = False
            while not acked:
                for message in wire.messages(self.sock.recv(RECV)):
                    if message.type != wire.NLMSG_ERROR or not (first_seq <= message.seq <= self.seq):
                        continue
                    acked = acked or message.seq == self.seq
                    failure = wire.parse_error(message.payload, message.flags)
                    if failure is not None:
                        rejected.append(Rejected(start + message.seq - first_seq, failure))
            start = end
            if rejected and stop_on_error:
                break
        return sorted(rejected, key=lambda r: r.position)
