"""A small client of QEMU's monitor protocol (QMP): JSON lines over a unix socket.

QEMU greets, the client answers `qmp_capabilities`, then each command gets one
`{"return": ...}` or `{"error": ...}` line; asynchronous `{"event": ...}` lines may come
in between and are kept in `events`.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any


class QmpError(Exception):
    """QEMU refused a command, or its monitor went away."""


class Qmp:
    def __init__(self, path: str, timeout_s: float = 10.0):
        """Connect to the monitor at `path`, waiting up to `timeout_s` for QEMU to open it."""
        self.path = path
        self.events: list[dict[str, Any]] = []
        self._buffer = b""
        deadline = time.monotonic() + timeout_s
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError) as error:
                sock.close()
                if time.monotonic() >= deadline:
                    raise QmpError(f"no QEMU monitor at {path}: {error.strerror}") from None
                time.sleep(0.05)
        self._sock = sock
        self._sock.settimeout(timeout_s)
        greeting = self._read()
        if "QMP" not in greeting:
            raise QmpError(f"not a QEMU monitor: {path}")
        self.execute("qmp_capabilities")

    def execute(self, command: str, arguments: dict[str, Any] | None = None, timeout_s: float = 10.0) -> Any:
        """Run `command`; its `return` value. QmpError when QEMU refuses it or is gone."""
        message: dict[str, Any] = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        try:
            self._sock.sendall(json.dumps(message).encode() + b"\n")
        except OSError as error:
            raise QmpError(f"{command}: the monitor went away ({error.strerror or error})") from None
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self._read(max(deadline - time.monotonic(), 0.01))
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                refused = reply["error"]
                reason = refused.get("desc", refused) if isinstance(refused, dict) else refused
                raise QmpError(f"{command}: {reason}")
            return reply.get("return")

    def _read(self, timeout_s: float | None = None) -> dict[str, Any]:
        if timeout_s is not None:
            self._sock.settimeout(timeout_s)
        while b"\n" not in self._buffer:
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                raise QmpError(f"the monitor at {self.path} did not answer in time") from None
            except OSError as error:
                raise QmpError(f"the monitor at {self.path} went away ({error.strerror or error})") from None
            if not chunk:
                raise QmpError(f"the monitor at {self.path} closed (QEMU exited)")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except ValueError:
            raise QmpError(f"the monitor at {self.path} sent something that is not JSON") from None
        if not isinstance(reply, dict):
            raise QmpError(f"the monitor at {self.path} sent something that is not a JSON object")
        return reply

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> Qmp:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
