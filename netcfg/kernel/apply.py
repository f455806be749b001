"""Apply one machine's config to a namespace: lock, read, diff, apply, verify, roll back.

The sequence is visible in `apply_host`; the roll-back lives in one context manager,
`restore_on_failure`, which catches everything (a kernel refusal, a failed
verification, Ctrl-C, SIGTERM, SIGHUP) and brings the owned state back to what was read
at the start. Restoring works from a fresh read, not from a list of what was believed
applied: the kernel may have processed more of a batch than acknowledged to us, and
removing an address can take routes with it.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from netcfg.errors import ApplyError, InputError
from netcfg.kernel import codec
from netcfg.kernel.codec import KernelRule
from netcfg.kernel.foreign import Collisions, Conflict, collisions
from netcfg.kernel.lock import namespace_lock
from netcfg.kernel.netlink import Netlink, Rejected, netns_exists, no_such_netns
from netcfg.kernel.read import (
    Live,
    flushable_routes,
    live_of,
    read_foreign_routes,
    read_live,
)
from netcfg.kernel.reconcile import Drift, Entry, Plan, Step, describe, describe_provided, drift, plan
from netcfg.kernel.rules import MOVED, order_rule_removals
from netcfg.kernel.settled import Settled, record_settled
from netcfg.kernel.snapshot import Snapshot, read_snapshot
from netcfg.kernel.state import OwnedState, Ownership, address_order, desired_state
from netcfg.model.host import Address, HostConfig, Rule
from netcfg.terminations import STOP_SIGNALS, deferred
from netcfg.words import plural

# ---------------------------------------------------------------- signals


class Interrupted(BaseException):
    """SIGTERM or SIGHUP during an apply: unwinds like Ctrl-C's KeyboardInterrupt (not an
    Exception, so nothing on the way swallows it) into the roll-back."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


class _SignalGuard:
    __slots__ = ("holding",)

    def __init__(self) -> None:
        self.holding = False  # a roll-back runs: stop signals are ignored

    def hold(self) -> None:
        self.holding = True


@contextmanager
def _stop_signals_interrupt() -> Iterator[_SignalGuard]:
    """While the changes go in, the first SIGINT, SIGTERM or SIGHUP unwinds into the
    roll-back (KeyboardInterrupt, Interrupted); from then on, and once `hold` is called,
    all three are ignored: the roll-back must complete. The previous handlers are put
    back on exit. Python runs handlers in the main thread only: elsewhere nothing is
    installed."""
    guard = _SignalGuard()
    if threading.current_thread() is not threading.main_thread():
        yield guard
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if guard.holding:
            return
        guard.holding = True
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Interrupted(signum)

    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)
    try:
        yield guard
    finally:
        for sig, old in previous.items():
            # None: a handler not installed from Python; the default is the honest guess.
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


def _reason(error: BaseException) -> str:
    if isinstance(error, Interrupted):
        return f"interrupted by {signal.Signals(error.signum).name}"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted by SIGINT (Ctrl-C)"
    return str(error)


# ---------------------------------------------------------------- sending steps


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an apply planned, and whether it changed the namespace."""

    plan: Plan
    applied: bool  # False for a dry run or when nothing had to change


def missing_interfaces(host: HostConfig, names: dict[int, str]) -> list[str]:
    present = set(names.values())
    return [i.name for i in host.interfaces if i.name not in present]


def requests(steps: tuple[Step, ...] | list[Step], index_of: dict[str, int]) -> list[codec.Request]:
    """The messages for `steps`: addresses and model rules added with netcfg's marker,
    entries beyond the model exactly as dumped, every deletion naming its entry
    completely (see codec)."""
    out = []
    for step in steps:
        entry = step.entry
        if isinstance(entry, Address):
            out.append(codec.address_request(entry, index_of, step.op))
        elif isinstance(entry, Rule | KernelRule):
            out.append(codec.rule_request(entry, step.op))
        else:
            out.append(codec.route_request(entry, index_of, step.op))
    return out


@contextmanager
def promoting_secondaries(nl: Netlink, steps: tuple[Step, ...]) -> Iterator[None]:
    """While `steps` run, a removed primary IPv4 address promotes a secondary.

    With the kernel's default (promote_secondaries 0) removing a link's primary address
    removes every secondary of its network as well, and with the last address every
    IPv4 route of the link: an inventory dropping a machine's first address of a
    network would blackhole the addresses it keeps. The links' own setting is switched
    on for the duration and put back afterwards."""
    links = {
        s.entry.interface for s in steps if s.op == "remove" and isinstance(s.entry, Address) and s.entry.family == 4
    }
    switched: list[int] = []
    if links:
        for payload in nl.dump(codec.dump_request(codec.RTM_GETLINK)):
            index, name = codec.parse_link(payload)
            if name in links and codec.parse_promote_secondaries(payload) == 0:
                switched.append(index)
    if switched:
        refused = nl.send([codec.promote_secondaries_request(i, 1) for i in switched], stop_on_error=False)
        switched = [i for k, i in enumerate(switched) if k not in {r.position for r in refused}]
    try:
        yield
    finally:
        if switched:
            with deferred():  # a signal must not leave the links' setting changed
                nl.send([codec.promote_secondaries_request(i, 0) for i in switched], stop_on_error=False)


def _final_removals(steps: tuple[Step, ...]) -> int:
    """Where the removals that end the plan start (a rule re-created behind to make a
    removal exact belongs to them)."""
    cut = len(steps)
    while cut and (steps[cut - 1].op == "remove" or steps[cut - 1].note == MOVED):
        cut -= 1
    return cut


def execute(nl: Netlink, steps: tuple[Step, ...], names: dict[int, str]) -> list[Rejected]:
    """Send the steps: first everything that adds or replaces, then, only if the kernel
    took all of it, the removals that end the plan.

    The kernel processes every message of a batch, also after one it refuses; a removal
    sent along with a refused addition would have to be undone by re-adding, and a
    re-added rule goes to the end of its priority (`ip rule` would list the rules in
    another order than before)."""
    index_of = {name: index for index, name in names.items()}
    cut = _final_removals(steps)
    with promoting_secondaries(nl, steps):
        rejected = nl.send(requests(steps[:cut], index_of), stop_on_error=True)
        if rejected or cut == len(steps):
            return rejected
        later = nl.send(requests(steps[cut:], index_of), stop_on_error=True)
        return [Rejected(r.position + cut, r.failure) for r in later]


def execute_all(nl: Netlink, steps: tuple[Step, ...], names: dict[int, str]) -> list[Rejected]:
    index_of = {name: index for index, name in names.items()}
    with promoting_secondaries(nl, steps):
        return nl.send(requests(steps, index_of), stop_on_error=False)


def failure_text(steps: tuple[Step, ...], rejected: list[Rejected]) -> str:
    lines = []
    for r in rejected[:5]:
        reason = os.strerror(r.failure.errno)
        if r.failure.message:
            reason += f" ({r.failure.message})"
        lines.append(f"  {steps[r.position]}: {reason}")
    if len(rejected) > 5:
        lines.append(f"  ... and {len(rejected) - 5} more")
    return "\n".join(lines)


def plan_changes(
    live: Live, desired: OwnedState, present: tuple[Entry, ...] = (), order: Mapping[object, int] | None = None
) -> Plan:
    """The steps from `live` to `desired` (addresses added in `order`), rule removals in
    an order the kernel carries out exactly (see rules)."""
    steps, behind_foreign = order_rule_removals(plan(live.owned, desired, order).steps, live.rules)
    return Plan(steps, present, behind_foreign)


# ---------------------------------------------------------------- roll-back


def restore(
    nl: Netlink,
    owned: Ownership,
    names: dict[int, str],
    before: OwnedState,
    rules_before: tuple[bytes, ...],
    foreign: dict[tuple[object, ...], bytes] | None = None,
) -> str:
    """Bring the owned state back to `before` (entries beyond the model re-created as
    they were dumped, addresses and rules with netcfg's marker), and the foreign routes
    (as read at the start) the kernel dropped on the way; '' on success, else what still
    differs, the order of the rules as dumped at the start (`rules_before`) included."""
    problems = ""
    for _ in range(3):  # a removal can take dependants with it: re-read and repeat
        steps = plan_changes(read_live(nl, owned), before).steps
        if not steps:
            problems = ""
            break
        rejected = execute_all(nl, steps, names)
        problems = failure_text(steps, rejected)
    after = read_snapshot(nl)
    left = drift(before, live_of(after, owned).owned).count
    if left:
        return problems or f"{left} entries still differ"
    if foreign:
        # Removing the last IPv4 address of a link flushes its routes, foreign ones too.
        present = read_foreign_routes(nl)
        gone = [p for k, p in foreign.items() if k not in present]
        if gone:
            nl.send([codec.route_restore_request(p) for p in gone], stop_on_error=False)
            present = read_foreign_routes(nl)
            still = [k for k in foreign if k not in present]
            if still:
                return f"  {plural(len(still), 'foreign route')} the kernel removed could not be re-created"
    # A rule re-created goes to the end of its priority: behind a foreign rule it stood
    # in front of, which netcfg never moves. (Re-creating routes leaves the rules alone.)
    return reordered_text(rules_before, after.rules)


def reordered_text(before: tuple[bytes, ...], after: tuple[bytes, ...]) -> str:
    """Where the kernel's rules stand in another order than before, priority by priority;
    '' where none does."""
    groups: dict[tuple[int, int], tuple[list[KernelRule], list[KernelRule]]] = {}
    for side, dump in enumerate((before, after)):
        for rule in map(codec.decode_rule, dump):
            if rule is not None:
                groups.setdefault((rule.family, rule.priority), ([], []))[side].append(rule)
    lines = []
    for (family, priority), (old, new) in groups.items():
        if old != new:
            lines.append(
                f"  the rules at priority {priority}{' (IPv6)' if family == 6 else ''} stand in another order: now "
                + "; ".join(map(describe, new[:4]))
                + ("; ..." if len(new) > 4 else "")
            )
    return "\n".join(lines[:5])


@contextmanager
def restore_on_failure(
    owned: Ownership,
    names: dict[int, str],
    before: OwnedState,
    netns: str,
    rules_before: tuple[bytes, ...],
    foreign: dict[tuple[object, ...], bytes] | None = None,
) -> Iterator[None]:
    """Any failure inside, or SIGINT, SIGTERM or SIGHUP, restores `before`: ApplyError."""
    with _stop_signals_interrupt() as guard:
        try:
            yield
        except BaseException as error:
            guard.hold()  # first thing: nothing may cut the roll-back short
            # A fresh socket: an interrupt may have cut a dump short on the old one, which
            # then answers the next dump with EBUSY.
            with Netlink(netns) as fresh:
                left = restore(fresh, owned, names, before, rules_before, foreign)
            reason = _reason(error)
            if left:
                raise ApplyError(
                    f"netns {netns}: apply failed: {reason}\n"
                    f"ROLLBACK INCOMPLETE, the namespace differs from before:\n{left}"
                ) from error
            raise ApplyError(
                f"netns {netns}: apply failed and was rolled back (the namespace is as before): {reason}"
            ) from error


# ---------------------------------------------------------------- apply and status


def conflict_text(netns: str, host: HostConfig, conflicts: tuple[Conflict, ...]) -> str:
    lines = [
        f"netns {netns}: {host.name}'s config cannot be applied: entries that are not netcfg's hold "
        "the place of desired ones, the kernel refuses a second one, and netcfg never removes "
        "foreign state; change or remove them by hand (nothing was changed):"
    ]
    lines += [f"  {conflict}" for conflict in conflicts]
    return "\n".join(lines)


def reorder_text(netns: str, host: HostConfig, moves: tuple[tuple[KernelRule, KernelRule], ...]) -> str:
    lines = [
        f"netns {netns}: {host.name}'s config cannot be applied without reordering rules: the kernel "
        "removes the first rule a deletion matches, so a removal here means re-creating the rule in "
        "front of it behind it, and that copy would go behind a rule that is not netcfg's, which traffic "
        "both select would then meet first; move that rule to another priority by hand (nothing was changed):"
    ]
    lines += [f"  {describe(rule.model() or rule)} would go behind {describe(foreign)}" for rule, foreign in moves]
    return "\n".join(lines)


def apply_host(
    host: HostConfig,
    owned: Ownership,
    netns: str,
    *,
    dry_run: bool = False,
    show: Callable[[Plan], None] | None = None,
    lock_dir: str,
    source: str | None = None,
) -> Outcome:
    """Make the namespace's owned state equal `host`'s; raises InputError (nothing
    touched) or ApplyError (rolled back). `source`, the config_digest of the bytes
    `host` was read from, is recorded when nothing is left to change (see settled)."""
    if not netns_exists(netns):  # checked first: no lock file for a mistyped name
        raise no_such_netns(netns)
    with namespace_lock(netns, lock_dir), Netlink(netns) as nl:
        snapshot = read_snapshot(nl)
        names = snapshot.names
        missing = missing_interfaces(host, names)
        if missing:
            raise InputError(
                f"netns {netns}: {host.name}'s {'interface' if len(missing) == 1 else 'interfaces'}"
                f" {', '.join(missing)} {'does' if len(missing) == 1 else 'do'} not exist; netcfg does not create"
                " links (nothing was changed)"
            )
        down = sorted(set(i.name for i in host.interfaces) & snapshot.down)
        if down and not dry_run:
            # The kernel refuses a route through a link that is down ("Network is down"):
            # say so before touching anything; link state is not netcfg's to change.
            raise InputError(
                f"netns {netns}: {host.name}'s {'interface' if len(down) == 1 else 'interfaces'} {', '.join(down)}"
                f" {'is' if len(down) == 1 else 'are'} down; bring {'it' if len(down) == 1 else 'them'} up first"
                f" (ip link set NAME up) (nothing was changed)"
            )
        wanted = desired_state(host)
        live = live_of(snapshot, owned, wanted)
        desired, found = beside_foreign(wanted, live, names)
        if found.conflicts:
            raise InputError(conflict_text(netns, host, found.conflicts))
        changes = plan_changes(live, desired, found.present, address_order(host))
        if changes.behind_foreign:
            raise InputError(reorder_text(netns, host, changes.behind_foreign))
        if show is not None:
            show(changes)
        if not changes and not down and source is not None:
            record_settled(netns, lock_dir, _settled(source, snapshot, host, changes.present))
        if dry_run or not changes:
            return Outcome(changes, applied=False)
        before = live.owned
        # Only a change that removes addresses can make the kernel drop foreign routes.
        removes_addresses = any(s.op == "remove" and isinstance(s.entry, Address) for s in changes.steps) or bool(
            desired.addresses - before.addresses
        )
        foreign = flushable_routes(live) if removes_addresses else None
        with restore_on_failure(owned, names, before, netns, live.rules, foreign):
            rejected = execute(nl, changes.steps, names)
            if rejected:
                raise RuntimeError("the kernel refused:\n" + failure_text(changes.steps, rejected))
            after = read_snapshot(nl)
            live = live_of(after, owned, wanted)
            left = drift(desired, live.owned)
            if left:
                raise RuntimeError(verify_text(left))
        # Verified: the owned state is the desired one. Planning again from the read-back
        # finds nothing to do unless the foreign entries holding desired ones changed
        # meanwhile (another hand removed one): only then is there nothing to record.
        again = collisions(wanted, live, after.names)
        unchanged = set(again.present) == set(found.present) and not again.conflicts
        links = not after.down & {i.name for i in host.interfaces} and not missing_interfaces(host, after.names)
        # Addresses just added may be tentative until a kernel work queue finishes them,
        # moments later: a record of this read-back would then never match. The next
        # no-op records what it finds (also an address that stays tentative).
        if source is not None and unchanged and links and not after.settling:
            record_settled(netns, lock_dir, _settled(source, after, host, again.present))
        return Outcome(changes, applied=True)


def _settled(source: str, snapshot: Snapshot, host: HostConfig, present: tuple[Entry, ...]) -> Settled:
    return Settled(source, snapshot.digest(), host.name, str(host.design), tuple(map(describe_provided, present)))


def beside_foreign(wanted: OwnedState, live: Live, names: dict[int, str]) -> tuple[OwnedState, Collisions]:
    """What netcfg must hold itself: the state `wanted` less what identical foreign
    entries already provide."""
    found = collisions(wanted, live, names)
    return wanted.without(found.present), found


def verify_text(left: Drift) -> str:
    lines = ["verification failed, desired vs live:"]
    for kind in ("addresses", "rules", "routes"):
        k = getattr(left, kind)
        lines += [f"  missing {describe(e)}" for e in k.missing[:10]]
        lines += [f"  extra   {describe(e)}" for e in k.extra[:10]]
        lines += [f"  desired {describe(a)}\n  live    {describe(b)}" for a, b in k.different[:10]]
    return "\n".join(lines)
