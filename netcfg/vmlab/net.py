"""The lab's network: a switch namespace with one bridge, and per hypervisor a namespace
whose `eth0` is a veth to that bridge, shaped with tc's token bucket in both
directions to the hypervisor's link speed (scaled). A migration between two
hypervisors thus crosses two shaped links, and gets the slower; migrations sharing a
hypervisor share its link, as the planner assumes.

Names are generated from the lab's name and a host's index, never from inventory
strings: `vml-LAB-sw`, `vml-LAB-hN`; addresses are 10.231.0.0/16 inside the lab's
namespaces only. Everything runs `ip` and `tc` with argv lists.
"""

from __future__ import annotations

import subprocess

from netcfg.errors import InputError

LINK = "eth0"  # a hypervisor's link, inside its namespace
BRIDGE = "br0"  # in the switch namespace
MAX_HOSTS = 250
TBF_LATENCY = "100ms"  # how long a packet may wait in the bucket's queue


def switch_netns(lab: str) -> str:
    return f"vml-{lab}-sw"


def host_netns(lab: str, index: int) -> str:
    return f"vml-{lab}-h{index}"


def port(index: int) -> str:
    """The switch's end of host `index`'s link."""
    return f"h{index}"


def address(index: int) -> str:
    if not 0 <= index < MAX_HOSTS:
        raise InputError(f"the VM lab holds at most {MAX_HOSTS} hypervisors")
    return f"10.231.0.{index + 1}"


def create_switch(netns: str) -> None:
    _run("ip", "netns", "add", netns)
    _run("ip", "-n", netns, "link", "set", "lo", "up")
    _run("ip", "-n", netns, "link", "add", BRIDGE, "type", "bridge")
    _run("ip", "-n", netns, "link", "set", BRIDGE, "up")


def create_host(netns: str, switch: str, index: int, rate_mib_s: float) -> None:
    """The hypervisor's namespace, its link to the switch, shaped both ways."""
    _run("ip", "netns", "add", netns)
    _run("ip", "-n", netns, "link", "set", "lo", "up")
    _run("ip", "-n", netns, "link", "add", LINK, "type", "veth", "peer", "name", port(index), "netns", switch)
    _run("ip", "-n", netns, "addr", "add", f"{address(index)}/16", "dev", LINK)
    _run("ip", "-n", switch, "link", "set", port(index), "master", BRIDGE)
    shape(netns, LINK, rate_mib_s)
    shape(switch, port(index), rate_mib_s)
    set_link(netns, switch, index, up=True)


def shape(netns: str, device: str, rate_mib_s: float) -> None:
    """A token bucket on `device`'s egress at `rate_mib_s`."""
    rate = max(int(rate_mib_s * 2**20), 1024)  # bytes/s
    # Enough burst for the kernel's timer granularity (10 ms of traffic) and a few
    # full-size segments, never less than 64 KiB.
    burst = max(rate // 100, 64 * 1024)
    _run(
        "tc",
        "-n",
        netns,
        "qdisc",
        "replace",
        "dev",
        device,
        "root",
        "tbf",
        "rate",
        f"{rate}bps",
        "burst",
        str(burst),
        "latency",
        TBF_LATENCY,
    )


def set_link(netns: str, switch: str, index: int, *, up: bool) -> None:
    """Both ends of host `index`'s link up or down (maintenance takes them down)."""
    state = "up" if up else "down"
    _run("ip", "-n", netns, "link", "set", LINK, state)
    _run("ip", "-n", switch, "link", "set", port(index), state)


def link_up(netns: str) -> bool:
    """Whether the hypervisor's link is administratively up."""
    done = subprocess.run(["ip", "-n", netns, "-o", "link", "show", LINK], capture_output=True, text=True)
    if done.returncode != 0 or "<" not in done.stdout:
        return False
    return "UP" in done.stdout.split("<", 1)[1].split(">", 1)[0].split(",")


def delete_netns(netns: str) -> bool:
    done = subprocess.run(["ip", "netns", "del", netns], capture_output=True, text=True)
    return done.returncode == 0


def _run(*argv: str) -> None:
    done = subprocess.run(list(argv), capture_output=True, text=True)
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"{' '.join(argv[:6])}...: {message}")
