"""Which rule an RTM_DELRULE removes, and an order of removals in which each one removes
exactly the rule it names.

The kernel's rule_find (net/core/fib_rules.c) walks the rule list in order and takes the
first rule equal to the request on every attribute the request *sets*; what a request
leaves out (from, to, tos, fwmark, iif, ipproto, ...) means "any", and nothing in a
request can say "no fwmark". Observed on Linux 6.x: deleting `from X lookup T priority P
proto 77` removes an earlier `from X fwmark 0x1 lookup T priority P proto 77`.

netcfg's deletions always carry its marker (FRA_PROTOCOL 77), so they never match a
foreign rule. Among netcfg's own rules at one priority, a less specific rule behind a
more specific one needs care:
  - removals are ordered so that each one's first match is its own rule;
  - when a rule that stays sits in front, it is first re-created behind (a new rule goes
    to the end of its priority), then the original removed, then the target: its traffic
    is never without one of the two identical rules.
"""

from __future__ import annotations

from collections.abc import Sequence

from netcfg.kernel.codec import UNSET32, KernelRule, decode_rule
from netcfg.kernel.reconcile import Step
from netcfg.model.host import PROTOCOL, Rule

MOVED = "re-created behind it first, so that the next removal is exact"


def deletes(request: KernelRule, rule: KernelRule) -> bool:
    """Whether an RTM_DELRULE encoding every field of `request` matches `rule`: the
    kernel's rule_find, field by field (a field left at "not set" matches anything)."""
    if request.family != rule.family or request.priority != rule.priority:
        return False  # netcfg always sends the priority: it must be equal
    if request.action and rule.action != request.action:
        return False
    if request.table and rule.table != request.table:
        return False
    if request.iifname and rule.iifname != request.iifname:
        return False
    if request.oifname and rule.oifname != request.oifname:
        return False
    if request.fwmark and rule.fwmark != request.fwmark:
        return False
    # encode_rule sends FRA_FWMASK with any mark: it is the request's mask.
    if request.fwmask and rule.fwmask != request.fwmask:
        return False
    if request.suppress_ifgroup != UNSET32 and rule.suppress_ifgroup != request.suppress_ifgroup:
        return False
    if request.suppress_prefixlen != UNSET32 and rule.suppress_prefixlen != request.suppress_prefixlen:
        return False
    if request.tun_id and rule.tun_id != request.tun_id:
        return False
    if request.l3mdev and rule.l3mdev != request.l3mdev:
        return False
    if request.uid_range is not None and rule.uid_range != request.uid_range:
        return False
    if request.ip_proto and rule.ip_proto != request.ip_proto:
        return False
    if request.protocol and rule.protocol != request.protocol:
        return False
    if request.sport is not None and rule.sport != request.sport:
        return False
    if request.dport is not None and rule.dport != request.dport:
        return False
    # Attributes this codec does not know: assumed compared when sent (the safe guess:
    # it can only make a request match fewer rules).
    if not set(request.other) <= set(rule.other):
        return False
    # The family's compare(): from, to, tos and realms only when set.
    if request.src is not None and rule.src != request.src:
        return False
    if request.dst is not None and rule.dst != request.dst:
        return False
    if request.tos and rule.tos != request.tos:
        return False
    return not request.flow or rule.flow == request.flow


class _Group:
    """The rules of one family and priority, in the kernel's order, indexed by what a
    deletion names first (table and from/to), so that thousands of removals stay linear.
    Working state, filled as the dump is read: a plain class (a dataclass costs every
    apply 4 million instructions to define)."""

    __slots__ = ("by_dst", "by_src", "by_table", "held", "rules")

    def __init__(self) -> None:
        self.rules: list[KernelRule | None] = []  # None once removed
        self.by_src: dict[tuple[int, str | None], list[int]] = {}
        self.by_dst: dict[tuple[int, str | None], list[int]] = {}
        self.by_table: dict[int, list[int]] = {}
        self.held: dict[KernelRule, int] = {}  # how many of each are there

    def append(self, rule: KernelRule) -> None:
        position = len(self.rules)
        self.rules.append(rule)
        self.held[rule] = self.held.get(rule, 0) + 1
        self.by_src.setdefault((rule.table, rule.src), []).append(position)
        self.by_dst.setdefault((rule.table, rule.dst), []).append(position)
        self.by_table.setdefault(rule.table, []).append(position)

    def first(self, request: KernelRule) -> int | None:
        """The position of the rule the kernel would remove for `request`."""
        if not request.table:
            candidates: Sequence[int] = range(len(self.rules))
        elif request.src is not None:
            candidates = self.by_src.get((request.table, request.src), ())
        elif request.dst is not None:
            candidates = self.by_dst.get((request.table, request.dst), ())
        else:
            candidates = self.by_table.get(request.table, ())
        for position in candidates:
            rule = self.rules[position]
            if rule is not None and deletes(request, rule):
                return position
        return None

    def remove(self, position: int) -> None:
        rule = self.rules[position]
        if rule is not None:
            self.rules[position] = None
            self.held[rule] -= 1


def removal_order(removals: Sequence[KernelRule], rules: Sequence[KernelRule]) -> list[tuple[str, KernelRule]]:
    """("remove" | "add", rule) operations removing `removals` from the kernel's rule
    list `rules` (in order, the rules added before the removals appended to it) so that
    each removal takes its own rule; an "add" re-creates a staying rule behind.

    Where no such order exists (a staying rule would have to move twice, or is not
    netcfg's), the rest goes in the given order: verification will tell."""
    groups: dict[tuple[int, int], _Group] = {}
    for rule in rules:
        groups.setdefault((rule.family, rule.priority), _Group()).append(rule)
    pending = list(removals)
    ops: list[tuple[str, KernelRule]] = []
    moved: set[KernelRule] = set()
    while pending:
        blocked = []
        for request in pending:
            group = groups.get((request.family, request.priority))
            if group is None or not group.held.get(request):
                continue  # the kernel holds no such rule: its deletion could only take another
            position = group.first(request)
            if position is not None and group.rules[position] == request:
                ops.append(("remove", request))
                group.remove(position)
            else:
                blocked.append(request)
        if len(blocked) < len(pending):
            pending = blocked
            continue
        keeper = _blocking_keeper(pending, groups)
        if keeper is None or keeper in moved or keeper.protocol != PROTOCOL:
            ops += [("remove", request) for request in pending]
            break
        moved.add(keeper)
        ops.append(("add", keeper))
        groups[(keeper.family, keeper.priority)].append(keeper)
        pending.insert(0, keeper)  # the original goes next; the copy stays behind
    return ops


def _blocking_keeper(pending: list[KernelRule], groups: dict[tuple[int, int], _Group]) -> KernelRule | None:
    """The staying rule at the head of the chain blocking the first pending removal: each
    blocker sits before the rule it blocks, so the chain ends."""
    request = pending[0]
    for _ in range(len(pending) + 1):
        group = groups[(request.family, request.priority)]
        position = group.first(request)
        if position is None:
            return None
        blocker = group.rules[position]
        if blocker is None or blocker not in pending:
            return blocker
        request = blocker
    return None


def as_kernel(entry: object) -> KernelRule | None:
    if isinstance(entry, KernelRule):
        return entry
    if isinstance(entry, Rule):
        return KernelRule.from_model(entry, PROTOCOL)
    return None


def order_rule_removals(
    steps: Sequence[Step], rule_dump: Sequence[bytes]
) -> tuple[tuple[Step, ...], tuple[tuple[KernelRule, KernelRule], ...]]:
    """`steps` with its rule removals reordered (and staying rules re-created behind
    where the kernel could not otherwise remove a rule exactly); `rule_dump` is the
    kernel's rule list as dumped before the steps (decoded only if a rule goes). Beside
    them, each re-created rule whose copy goes behind a foreign rule it stood in front of,
    with that rule: traffic both select would meet the foreign one first."""
    removals = [i for i, s in enumerate(steps) if s.op == "remove" and as_kernel(s.entry) is not None]
    if not removals or removals[-1] - removals[0] + 1 != len(removals):
        return tuple(steps), ()  # plan() keeps the rule removals together; anything else stays as it is
    live_rules = [r for r in map(decode_rule, rule_dump) if r is not None]
    # The additions before the removals go to the end of their priority, in order.
    added = [k for s in steps[: removals[0]] if s.op == "add" and (k := as_kernel(s.entry)) is not None]
    entry_of = {as_kernel(steps[i].entry): steps[i].entry for i in removals}
    rules = [*live_rules, *added]
    ops = removal_order([k for i in removals if (k := as_kernel(steps[i].entry)) is not None], rules)
    ordered, jumps = [], []
    for op, rule in ops:
        if op == "remove":
            ordered.append(Step("remove", entry_of.get(rule) or rule.model() or rule))
        else:
            ordered.append(Step("add", rule.model() or rule, note=MOVED))
            foreign = _foreign_behind(rule, rules)
            if foreign is not None:
                jumps.append((rule, foreign))
    return (*steps[: removals[0]], *ordered, *steps[removals[-1] + 1 :]), tuple(jumps)


def _foreign_behind(rule: KernelRule, rules: Sequence[KernelRule]) -> KernelRule | None:
    """The first rule not netcfg's behind `rule` at its priority: a copy of `rule` goes to
    the end of the priority, behind it (netcfg never moves a foreign rule)."""
    found = False
    for other in rules:
        if other.family != rule.family or other.priority != rule.priority:
            continue
        if found and other.protocol != PROTOCOL:
            return other
        found = found or other == rule
    return None
