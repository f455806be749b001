"""Run the real systemd-networkd on given .network/.netdev files in a throw-away network
namespace and return the kernel state it produced. A test helper, no mocks.

How (Debian 12, systemd 252; PID 1 need not be systemd, no D-Bus, no udev):

    ip netns add netcfg-nd-XXXXXXXX; create veth pairs there
    nsenter --net=/run/netns/NS unshare --mount --propagation private sh -ec '
        mount --bind WORK/run /run                  # private /run: no D-Bus socket, no udev
        mount -t sysfs -o ro sysfs /sys             # this namespace's sysfs, read-only
        mount --bind WORK/etc-systemd /etc/systemd  # only the files under test
        mount -t tmpfs -o ro tmpfs /usr/lib/systemd/network   # hide Debian's 80-*.network
        exec env -i SYSTEMD_LOG_LEVEL=debug ... /lib/systemd/systemd-networkd'

- networkd 252 decides whether udev runs by one test, "is /sys read-only". On a writable
  sysfs with no udev database every link waits forever in "pending"; on a read-only one
  links are configured at once (before networkd has read the routes and rules already
  there, so it would keep those: each run's namespace is new, there are none).
- Every `exec` keeps the PID, so the Popen's PID is networkd's own. The private mount
  namespace dies with that process: there is nothing to unmount.
- networkd's state files (/run/systemd/netif/links/IFINDEX) land in WORK/run, where this
  module reads ADMIN_STATE to know when the daemon is done.
- networkd keeps what it configured when it gets SIGTERM; deleting the namespace removes
  the links and everything on them.

Every run gets its own namespace, `netcfg-nd-<8 hex>`, and work directory; both are
removed, and the daemon stopped, whatever happens. Only namespaces this module created are
ever deleted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

NETWORKD = "/lib/systemd/systemd-networkd"
NETPLAN = "/usr/sbin/netplan"
NAMESPACE_PREFIX = "netcfg-nd-"
# Vendor directories networkd reads .network files from besides /etc and /run. Debian
# ships 80-container-*.network and others there: an empty read-only tmpfs hides them.
VENDOR_DIRS = ("/usr/lib/systemd/network", "/usr/local/lib/systemd/network")
# Set in the namespace before any link exists ("default" covers the bridges networkd
# creates later). IPv6 DAD keeps a static address "tentative", forever on a link without
# carrier (a bridge with no port), and networkd reports "configured" only once no address
# is tentative. Forwarding starts off so that only networkd's IPForward= can turn it on.
SYSCTLS = {
    "net/ipv6/conf/all/accept_dad": "0",
    "net/ipv6/conf/default/accept_dad": "0",
    "net/ipv4/ip_forward": "0",
    "net/ipv6/conf/all/forwarding": "0",
}
FORWARDING_SYSCTLS = ("net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding")
LIFETIMES = re.compile(r"valid_lft \S+ preferred_lft \S+")
# ADMIN_STATEs after which networkd does nothing more to a link.
FINAL_STATES = frozenset({"configured", "unmanaged", "failed", "linger"})

# Log lines that tell why a config did not come out as written. networkd drops a whole
# [Route] or [RoutingPolicyRule] section on a bad value while saying "ignoring
# assignment", so a line naming a file of ours is never harmless.
FILE_COMPLAINT = re.compile(r"/systemd/network/[^/\s:]+\.(?:network|netdev)(?::\d+)?: ")
RUNTIME_TROUBLE = re.compile(r"Could not |Failed|failed|[Ii]nvalid|[Ee]rror")
# Debug lines that look like trouble but are not: veth and bridge answer no ethtool
# driver query; there is no wireless hardware; netlink messages of families networkd does
# not handle (rules of RTNL_FAMILY_IPMR 128/129, bridge fdb neighbours of AF_BRIDGE 7); a
# machine without /etc/machine-id (a CI container) gets a random bridge MAC instead.
HARMLESS = re.compile(
    r"Failed to get driver, continuing without|Could not enumerate wireless LAN"
    r"|received (?:rule|neighbor) message with invalid family"
    r"|Failed to generate persistent MAC address, ignoring"
)


# Where networkd finds the files: /etc/systemd/network (an admin's), or
# /run/systemd/network (where `netplan generate` writes them at boot).
Directory = Literal["etc", "run"]


class NetworkdFailed(AssertionError):
    """networkd did not finish configuring: the message has its notable log lines."""


@dataclass(frozen=True)
class KernelState:
    """What the namespace holds once networkd is done: `ip -j` output, by family."""

    links: list[dict[str, Any]]  # ip -j -d link show
    addresses: list[dict[str, Any]]  # ip -j addr show
    routes: dict[int, list[dict[str, Any]]]  # family -> ip -j -4|-6 route show table all
    rules: dict[int, list[dict[str, Any]]]  # family -> ip -j -4|-6 rule show
    forwarding: dict[str, str]  # sysctl (FORWARDING_SYSCTLS) -> value
    admin_states: dict[str, str]  # ifname -> networkd's ADMIN_STATE
    log: str  # networkd's debug log

    def complaints(self) -> list[str]:
        """networkd's complaints about the files it was given."""
        return [line for line in self.log.splitlines() if FILE_COMPLAINT.search(line)]


def missing_requirements(netplan: bool = False) -> str | None:
    """Why the daemon cannot run here (a skip reason), or None."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces and mounts"
    tools = {"ip": "iproute2", "nsenter": "util-linux", "unshare": "util-linux", "mount": "mount"}
    for tool, package in tools.items():
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install {package})"
    if not os.access(NETWORKD, os.X_OK):
        return f"{NETWORKD} is missing (apt-get install systemd)"
    if netplan and not os.access(NETPLAN, os.X_OK):
        return f"{NETPLAN} is missing (apt-get install netplan.io)"
    return None


# --- commands -----------------------------------------------------------------------------


def _run(*argv: str, check: bool = True) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def _ip(ns: str, *args: str) -> str:
    return _run("ip", "-n", ns, *args)


def _ip_json(ns: str, *args: str) -> list[dict[str, Any]]:
    out = _ip(ns, "-j", *args)
    return json.loads(out) if out.strip() else []


def _sysctl(ns: str, key: str, value: str | None = None) -> str:
    """Read or write /proc/sys/KEY in the namespace. /proc/sys/net shows the network
    namespace of whoever opens it, so entering only that namespace is enough (`ip netns
    exec` would also remount /sys)."""
    path = f"/proc/sys/{key}"
    if value is None:
        return _run("nsenter", f"--net=/run/netns/{ns}", "cat", path).strip()
    _run("nsenter", f"--net=/run/netns/{ns}", "sh", "-c", 'echo "$1" > "$2"', "sh", value, path)
    return value


def netdev_names(files: Mapping[str, str]) -> list[str]:
    """The `[NetDev] Name=` of every .netdev: links networkd must create."""
    names = []
    for name, text in files.items():
        if not name.endswith(".netdev"):
            continue
        section = ""
        for raw in text.splitlines():
            line = raw.strip()
            if line.startswith("["):
                section = line
            elif section == "[NetDev]" and line.startswith("Name="):
                names.append(line.split("=", 1)[1].strip())
    return names


# --- the daemon ---------------------------------------------------------------------------


class _Daemon:
    """One networkd in one namespace; `stop()` undoes everything `start()` did."""

    def __init__(self, files: Mapping[str, str], directory: Directory, veths: Iterable[str]) -> None:
        self.ns = f"{NAMESPACE_PREFIX}{uuid.uuid4().hex[:8]}"
        self.files = dict(files)
        self.directory = directory  # "etc" or "run": where the files are installed
        self.veths = list(veths)
        self.work: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.namespace_added = False

    # setup

    def start(self) -> None:
        self.work = Path(tempfile.mkdtemp(prefix=f"{self.ns}-"))
        self._write_files(self.work)
        _run("ip", "netns", "add", self.ns)
        self.namespace_added = True
        _ip(self.ns, "link", "set", "lo", "up")
        for key, value in SYSCTLS.items():
            _sysctl(self.ns, key, value)
        for number, name in enumerate(self.veths):
            self._add_veth(name, f"ndpeer{number}")
        self._spawn(self.work)

    def _write_files(self, work: Path) -> None:
        etc = work / "etc-systemd"
        (etc / "network").mkdir(parents=True)
        (work / "run/systemd/network").mkdir(parents=True)
        # An empty networkd.conf: the host's settings (and drop-ins) must not leak in.
        (etc / "networkd.conf").write_text("[Network]\n")
        target = etc / "network" if self.directory == "etc" else work / "run/systemd/network"
        for name, text in self.files.items():
            (target / name).write_text(text)

    def _add_veth(self, name: str, peer: str) -> None:
        """The machine's NIC: one end of a veth pair. The peer is brought up so the NIC
        has a carrier, as a cabled port would; no .network matches the peer."""
        _ip(self.ns, "link", "add", name, "type", "veth", "peer", "name", peer)
        _ip(self.ns, "link", "set", peer, "up")

    def _spawn(self, work: Path) -> None:
        """networkd in the namespace, in a private mount namespace that sees only the
        files under test; its log (debug level: the only place a dropped section shows)
        goes to WORK/networkd.log."""
        hide = "".join(f"mount -t tmpfs -o ro,mode=0755 tmpfs {d}\n" for d in VENDOR_DIRS if os.path.isdir(d))
        script = f"""
mount --bind "$1/run" /run
mount -t sysfs -o ro sysfs /sys
mount --bind "$1/etc-systemd" /etc/systemd
{hide}exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SYSTEMD_LOG_LEVEL=debug \
    SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_COLOR=0 {NETWORKD}
"""
        argv = ["nsenter", f"--net=/run/netns/{self.ns}", "unshare", "--mount", "--propagation", "private"]
        with open(work / "networkd.log", "wb") as log:
            self.proc = subprocess.Popen(
                [*argv, "sh", "-ec", script, "sh", str(work)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    # state

    def log(self) -> str:
        try:
            return (self.work / "networkd.log").read_text(errors="replace") if self.work else ""
        except FileNotFoundError:
            return ""

    def link_states(self) -> dict[str, dict[str, str]]:
        """ifname -> networkd's state file of every link but lo ({} before it wrote one)."""
        assert self.work is not None
        links = self.work / "run/systemd/netif/links"
        return {
            link["ifname"]: _state_file(links / str(link["ifindex"]))
            for link in _ip_json(self.ns, "link", "show")
            if link["ifname"] != "lo"
        }

    def admin_states(self) -> dict[str, str]:
        return {name: state.get("ADMIN_STATE", "") for name, state in self.link_states().items()}

    def _fingerprint(self) -> tuple[str, ...]:
        """The kernel state minus what changes by itself, to tell when networkd has
        stopped: address lifetimes count down (dropped) and bridge timers tick (in `ip -d
        link` only, so plain `ip link`)."""
        return (
            _ip(self.ns, "link", "show"),
            LIFETIMES.sub("", _ip(self.ns, "addr", "show")),
            _ip(self.ns, "-4", "route", "show", "table", "all"),
            _ip(self.ns, "-6", "route", "show", "table", "all"),
            _ip(self.ns, "-4", "rule", "show"),
            _ip(self.ns, "-6", "rule", "show"),
        )

    def wait(self, timeout: float, settle: float, stuck_after: float) -> None:
        """Until every link's ADMIN_STATE is final, every .netdev exists and the kernel
        state has not changed for `settle` seconds. A link networkd never finishes (a
        gateway it cannot reach, an address stuck tentative) changes nothing and logs no
        error: after `stuck_after` seconds without change that counts as a failure."""
        assert self.proc is not None
        wanted = set(netdev_names(self.files))
        start = time.monotonic()
        last, changed = self._fingerprint(), time.monotonic()
        while True:
            now = time.monotonic()
            if self.proc.poll() is not None:
                self.fail(f"networkd exited with status {self.proc.returncode}")
            states = self.link_states()
            fingerprint = self._fingerprint()
            if fingerprint != last:
                last, changed = fingerprint, now
            admin = {n: s.get("ADMIN_STATE", "") for n, s in states.items()}
            busy = {n: s for n, s in admin.items() if s not in FINAL_STATES}
            absent = wanted - set(states)
            failed = sorted(n for n, s in admin.items() if s == "failed")
            if failed:
                self.fail(f"networkd gave up on {', '.join(failed)}", failed)
            if not busy and not absent and now - changed >= settle:
                return
            if now - changed >= stuck_after or now - start >= timeout:
                # OPER_STATE tells a link waiting for a carrier ("no-carrier") apart.
                waiting = [
                    f"{n}={s or 'no state file'} ({states[n].get('OPER_STATE', '?')})" for n, s in sorted(busy.items())
                ]
                waiting += [f"{n} was never created" for n in sorted(absent)]
                self.fail(f"still waiting after {now - start:.1f} s: {', '.join(waiting)}", busy)
            time.sleep(0.05)

    def fail(self, reason: str, links: Iterable[str] = ()) -> None:
        lines = notable_lines(self.log(), links)
        raise NetworkdFailed(f"{reason}\nnetworkd said:\n  " + "\n  ".join(lines or ["(nothing notable)"]))

    def snapshot(self) -> KernelState:
        ns = self.ns
        return KernelState(
            links=_ip_json(ns, "-d", "link", "show"),
            addresses=_ip_json(ns, "addr", "show"),
            routes={f: _ip_json(ns, f"-{f}", "route", "show", "table", "all") for f in (4, 6)},
            rules={f: _ip_json(ns, f"-{f}", "rule", "show") for f in (4, 6)},
            forwarding={key: _sysctl(ns, key) for key in FORWARDING_SYSCTLS},
            admin_states=self.admin_states(),
            log=self.log(),
        )

    # teardown

    def stop(self) -> None:
        """Each step runs even if one before it failed."""
        try:
            self._stop_process()
        finally:
            try:
                if self.namespace_added:
                    _run("ip", "netns", "del", self.ns, check=False)
            finally:
                if self.work is not None:
                    shutil.rmtree(self.work, ignore_errors=True)

    def _stop_process(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # networkd exits within ~0.1 s
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _state_file(path: Path) -> dict[str, str]:
    """KEY=value lines of a networkd state file; {} while it does not exist."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def notable_lines(log: str, waiting: Iterable[str] = ()) -> list[str]:
    """The log lines that explain a failure: complaints about the files, kernel
    rejections ("Could not set route: ..."), links that failed, and for each link in
    `waiting` the last reason it gave for not being ready (networkd logs one at every
    step, so only a link that never got ready has a telling last one)."""
    found: list[str] = []
    waiting = set(waiting)
    last_ready: dict[str, str] = {}
    for line in log.splitlines():
        if HARMLESS.search(line):
            continue
        if "link_check_ready()" in line:
            link = line.split(":", 1)[0]
            if link in waiting:
                last_ready[link] = line
        elif FILE_COMPLAINT.search(line) or RUNTIME_TROUBLE.search(line):
            found.append(line)
    return found + [last_ready[link] for link in sorted(last_ready)]


@contextmanager
def networkd(
    files: Mapping[str, str],
    veths: Iterable[str],
    *,
    directory: Directory = "etc",
    timeout: float = 20.0,
    settle: float = 0.3,
    stuck_after: float = 5.0,
) -> Iterator[KernelState]:
    """networkd on `files` (name -> text, in /etc/systemd/network, or /run/systemd/network
    with directory="run" as netplan's output is) with veth NICs named `veths`: the kernel
    state once it is done. Raises NetworkdFailed if it does not finish."""
    if directory not in ("etc", "run"):
        raise ValueError(f"directory must be etc or run, not {directory!r}")
    daemon = _Daemon(files, directory, veths)
    try:
        daemon.start()
        daemon.wait(timeout, settle, stuck_after)
        yield daemon.snapshot()
    finally:
        daemon.stop()


def run_networkd(files: Mapping[str, str], veths: Iterable[str], **options: Any) -> KernelState:
    """`networkd(...)` for callers that need only the final state."""
    with networkd(files, veths, **options) as state:
        return state


# --- netplan ------------------------------------------------------------------------------


def netplan_generate(name: str, text: str) -> dict[str, str]:
    """`netplan generate --root-dir` on one YAML file: the networkd files it writes to
    ROOT/run/systemd/network (name -> text), which is where networkd reads them."""
    with tempfile.TemporaryDirectory(prefix="netcfg-nd-netplan-") as root:
        conf = Path(root, "etc/netplan")
        conf.mkdir(parents=True)
        path = conf / name
        path.write_text(text)
        path.chmod(0o600)  # netplan warns about a YAML file others can read
        done = subprocess.run([NETPLAN, "generate", "--root-dir", root], capture_output=True, text=True, timeout=60)
        if done.returncode != 0 or done.stderr.strip():
            raise AssertionError(f"netplan generate {name}: {done.stderr.strip() or done.returncode}")
        out = Path(root, "run/systemd/network")
        return {p.name: p.read_text() for p in sorted(out.iterdir())} if out.is_dir() else {}
