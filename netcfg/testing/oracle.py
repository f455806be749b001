"""The kernel as the forwarding model's oracle: `ip route get` in a namespace, asked the
same questions the model answers, answer for answer.

A question is a machine, a destination, a source (none: the kernel chooses it, and the
answer says which), and for a received packet the interface it came in on (`iif`:
forwarded by a router, or delivered locally after the reverse-path check). The
kernel's answers come from one `ip -force -json -batch` per namespace: successes print
one JSON line each, in order; failures print `Command failed FILE:LINE` on stderr,
after the kernel's message.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from netcfg.verify.fib import Fib, Outcome
from netcfg.verify.prefix import format_address, parse_address


@dataclass(frozen=True, slots=True)
class Query:
    machine: str
    dst: str
    src: str | None  # None: the kernel chooses
    iif: str | None = None

    def line(self) -> str:
        source = f" from {self.src}" if self.src is not None else ""
        return f"route get {self.dst}{source}" + (f" iif {self.iif}" if self.iif else "")


@dataclass(frozen=True, slots=True)
class Answer:
    kind: str  # "unicast", "local" or "error"
    dev: str | None = None
    gateway: str | None = None
    error: str = ""  # the kernel's message, or the model's reason
    src: str | None = None  # the source chosen, when the question left it to the kernel

    def __str__(self) -> str:
        if self.kind == "error":
            return f"error ({self.error})"
        if self.kind == "local":
            return "local"
        chosen = f" src {self.src}" if self.src else ""
        return f"dev {self.dev}" + (f" via {self.gateway}" if self.gateway else "") + chosen


# What the kernel answers when reverse-path filtering refuses a packet: EXDEV from
# fib_validate_source, which local delivery (and, on recent kernels, forwarding too)
# reports as EINVAL (ip_route_input_slow's martian_source).
RP_ERRORS = ("Invalid cross-device link", "Invalid argument")
RP_REFUSED = "rp_filter"


def model_answer(fib: Fib, q: Query) -> Answer:
    """What the model says the kernel answers."""
    family, dst = parse_address(q.dst)
    if q.src is None:
        result = fib.lookup(family, dst)
        if result.outcome is Outcome.UNICAST:
            gateway = format_address(family, result.gateway) if result.gateway is not None else None
            chosen = fib.source_address(family, result, dst)
            return Answer(
                "unicast", result.device, gateway, src=None if chosen is None else format_address(family, chosen)
            )
    _, src = parse_address(q.src) if q.src is not None else (family, 0)
    if q.iif is None:
        result = fib.lookup(family, dst, src)
    else:
        result = fib.lookup(family, dst, src, iif=q.iif)
        if result.outcome is Outcome.UNICAST and not fib.forwarding:
            return Answer("error", error="not forwarding")
        if result.outcome in (Outcome.LOCAL, Outcome.UNICAST):
            ok, _ = fib.reverse_path_ok(family, src, dst, q.iif)
            if not ok:
                return Answer("error", error=RP_REFUSED)
    if result.outcome is Outcome.LOCAL:
        return Answer("local", "lo")
    if result.outcome is Outcome.UNICAST:
        gateway = format_address(family, result.gateway) if result.gateway is not None else None
        return Answer("unicast", result.device, gateway)
    return Answer("error", error=result.outcome.value)


def kernel_answers(netns: str, queries: Sequence[Query]) -> list[Answer]:
    """`ip route get` for each query, in one process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "queries")
        with open(path, "w") as handle:
            handle.write("".join(q.line() + "\n" for q in queries))
        done = subprocess.run(
            ["ip", "-n", netns, "-force", "-json", "-batch", path], capture_output=True, text=True, check=False
        )
    failed: dict[int, str] = {}
    message = ""
    for line in done.stderr.splitlines():
        found = re.match(r"Command failed .*:(\d+)$", line)
        if found:
            failed[int(found.group(1))] = message
        else:
            message = line.removeprefix("RTNETLINK answers: ").removeprefix("Error: ")
    successes = iter(done.stdout.splitlines())
    answers = []
    for number in range(1, len(queries) + 1):
        if number in failed:
            answers.append(Answer("error", error=failed[number]))
            continue
        data = json.loads(next(successes))[0]
        if data.get("type") == "local":
            answers.append(Answer("local", "lo"))
        elif data.get("type", "unicast") == "unicast":
            chosen = data.get("prefsrc") if queries[number - 1].src is None else None
            answers.append(Answer("unicast", data.get("dev"), data.get("gateway"), src=chosen))
        else:
            answers.append(Answer("error", error=str(data.get("type"))))
    return answers


def agree(model: Answer, kernel: Answer) -> bool:
    """The model and the kernel agree: the same interface and gateway, or both refuse
    (a reverse-path refusal exactly where the model expects one, with the kernel's own
    error for it); where the kernel chose the source, the same source."""
    if model.kind == "error" or kernel.kind == "error":
        if model.kind != kernel.kind:
            return False
        return (model.error == RP_REFUSED) == (kernel.error in RP_ERRORS)
    return (model.kind, model.dev, model.gateway, model.src) == (kernel.kind, kernel.dev, kernel.gateway, kernel.src)
