"""Reading inventory YAML into the typed model, keeping file:line:column of every value.

ruamel.yaml composes each file into a node tree (safe: no tags are constructed, so no
object can be instantiated from YAML). Every scalar is composed as a plain string and
this module decides its type from the schema, so `table: "2"` (a quoted string) is a
type error rather than silently an integer, and composing skips ruamel's slow implicit
resolver. Problems are collected, never raised one at a time, so the user sees all of
them at once; `checks` then adds the semantic problems.
"""

from __future__ import annotations

import difflib
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

from netaddr import AddrFormatError, IPAddress, IPNetwork
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver

from netcfg import limits
from netcfg.errors import InputError, quote
from netcfg.gc_tuning import rare_full_collections
from netcfg.inventory.approvals import APPROVALS_DIR  # read by the seatbelt, not as inventory
from netcfg.inventory.checks import check_inventory
from netcfg.inventory.disk import readable_texts, yaml_files_and_problems
from netcfg.inventory.yaml_size import too_deep, too_many_values
from netcfg.model.host import RULE_PRIORITIES, DesignName, Kind
from netcfg.model.inventory import (
    Interface,
    Inventory,
    Machine,
    Network,
    Policy,
    Reconfigure,
    RolloutPolicy,
    Seatbelt,
    Segment,
    default_interface_name,
)
from netcfg.model.waves import UNREADABLE, check_waves, normalise_wave
from netcfg.names import INTERFACE_NAME, MACHINE_NAME
from netcfg.problems import Location, Problem

TOP_LEVEL_KEYS = ("segments", "networks", "machines", "policy")
NULLS = frozenset({"", "~", "null", "Null", "NULL"})
R = TypeVar("R")


class _StringResolver(VersionedResolver):
    """Tags every scalar as a string; the schema below gives values their types."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode:
            return self.DEFAULT_SCALAR_TAG
        return super().resolve(kind, value, (False, False))


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=False)
    yaml.Resolver = _StringResolver
    return yaml


def inventory_files(path: Path, problems: list[Problem]) -> list[Path]:
    """The YAML files of an inventory directory (recursively, approvals/ and hidden
    entries excepted) that can be walked to, the others' problems added to `problems`;
    or the one file given."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        what = "is not a regular file or a directory" if path.exists() else "no such inventory file or directory"
        raise InputError([Problem(Location(str(path)), what)])
    files = yaml_files_and_problems(path, problems, skip=(APPROVALS_DIR,))
    if not files and not problems:
        raise InputError([Problem(Location(str(path)), "no inventory files (*.yaml, *.yml) found")])
    return files


def load_inventory(path: str | Path) -> Inventory:
    """Load and validate the inventory at `path`; raises InputError with every problem."""
    inventory, checks = read_inventory(Path(path))
    problems = checks()
    if problems:
        raise InputError(problems)
    return inventory


def load_inventory_beside(path: str | Path, work: Callable[[Inventory], R], jobs: int) -> R:
    """`work(inventory)` of the inventory at `path`, the inventory's cross-checks running
    beside it in a forked worker (with `jobs` > 1): `work` runs on an inventory whose
    checks have not passed yet, and its result counts only once they have. Problems of
    the inventory are raised (InputError) whatever `work` did, as load_inventory would
    have raised them before it; then `work`'s own error, if any."""
    from netcfg import forked  # not for the commands that only read (its ctypes)

    inventory, checks = read_inventory(Path(path))
    parallel = jobs > 1 and forked.can_fork() and not checks.read_problems
    return work_beside_checks(partial(work, inventory), checks, parallel)


def work_beside_checks(work: Callable[[], R], checks: Callable[[], list[Problem]], parallel: bool) -> R:
    """`work()` with an inventory's `checks()` in a forked worker beside it (`parallel`),
    else after them. Their problems are raised first (InputError), whatever `work` did
    on the inventory they had not passed yet; then `work`'s own error."""
    if not parallel:
        problems = checks()
        if problems:
            raise InputError(problems)
        return work()
    from netcfg import forked  # its ctypes only when forking

    (result, error), problems = forked.beside(partial(_attempted, work), checks, "inventory check")
    if problems:
        raise InputError(problems)
    if error is not None:
        raise error
    return cast(R, result)


def _attempted(work: Callable[[], R]) -> tuple[R | None, Exception | None]:
    try:
        return work(), None
    except Exception as error:  # an unchecked inventory may break `work`: said after its problems
        return None, error


@dataclass(frozen=True, slots=True)
class Checks:
    """The problems of an inventory read: its files' own, then (checks()) those across them."""

    inventory: Inventory
    reader: _Reader
    unread: tuple[Problem, ...]

    @property
    def read_problems(self) -> bool:
        return bool(self.unread or self.reader.problems)

    def __call__(self) -> list[Problem]:
        with rare_full_collections():
            return (
                sorted(self.unread)
                + self.reader.problems
                + check_inventory(
                    self.inventory,
                    self.reader.skipped,
                    self.reader.skipped_networks,
                    self.reader.value_locations,
                    self.reader.partial,
                    complete=not self.unread and not self.reader.unread,
                )
            )


def read_inventory(path: Path) -> tuple[Inventory, Checks]:
    """The inventory at `path` as read, and its checks, not run yet (load_inventory runs
    them at once; a caller with something to do meanwhile can run them beside it)."""
    unread: list[Problem] = []
    texts = readable_texts(inventory_files(path, unread), unread)
    return read_inventory_texts(texts, str(path), unread)


def read_inventory_texts(texts: Mapping[str, str], source: str, unread: Sequence[Problem]) -> tuple[Inventory, Checks]:
    """read_inventory of {file name: YAML text} (load_inventory_texts)."""
    with rare_full_collections():
        reader = _Reader()
        for name in sorted(texts):
            reader.read_file(name, texts[name])
        inventory = reader.inventory(source)
    return inventory, Checks(inventory, reader, tuple(unread))


def load_inventory_texts(texts: Mapping[str, str], source: str = "", unread: Sequence[Problem] = ()) -> Inventory:
    """Load and validate an inventory given as {file name: YAML text}; `unread`: the
    problems of its files that could not be read.

    The file names appear in error locations as given, so a caller reading from git
    can pass "REV:inventory/networks.yaml". Every problem of every file is reported;
    checks across files run only when every file could be read, as what a missing file
    defines would otherwise be reported missing wherever it is used."""
    inventory, checks = read_inventory_texts(texts, source, unread)
    problems = checks()
    if problems:
        raise InputError(problems)
    return inventory


def read_policy(name: str, text: str) -> Policy | None:
    """The policy a file declares, read alone (the rest of the inventory unchecked);
    None if the file has any problem of its own."""
    reader = _Reader()
    reader.read_file(name, text)
    return reader.policy if reader.policy is not None and not reader.problems else None


# --- the node walker -------------------------------------------------------------------


def _loc(file: str, node: Node) -> Location:
    mark = node.start_mark
    return Location(file, mark.line + 1, mark.column + 1)


class _Invalid(Exception):
    """A value could not be read; its problem is already recorded."""


@dataclass(slots=True)
class _Reader:
    """Accumulates entities and problems over the files of one inventory."""

    problems: list[Problem] = field(default_factory=list)
    segments: dict[str, Segment] = field(default_factory=dict)
    networks: list[Network] = field(default_factory=list)
    machines: dict[str, Machine] = field(default_factory=dict)
    policy: Policy | None = None
    # Names of machines and segments that were defined but failed to parse: checks must
    # not report them a second time as unknown (for example as a VM's host).
    skipped: set[str] = field(default_factory=set)
    # Prefixes of networks that failed to parse (None: a networks list was unreadable):
    # addresses in them must not be reported again as in no network.
    skipped_networks: list[IPNetwork] | None = field(default_factory=list)
    # Where a value is, for problems that belong there: ("host", VM name) and
    # ("segment", network location).
    value_locations: dict[tuple, Location] = field(default_factory=dict)
    # Machines that failed to parse but whose interfaces could be read.
    partial: list[Machine] = field(default_factory=list)
    unread: bool = False  # a file could not be parsed at all
    file: str = ""

    def problem(self, node: Node | Location, message: str, hint: str = "") -> None:
        location = node if isinstance(node, Location) else _loc(self.file, node)
        self.problems.append(Problem(location, message, hint))

    def inventory(self, source: str) -> Inventory:
        return Inventory.build(self.segments, self.networks, self.machines, self.policy or Policy(), source)

    # files and top level

    def read_file(self, name: str, text: str) -> None:
        self.file = name
        deep = too_deep(text)
        if deep:
            self.problem(Location(name, *deep), f"YAML nesting deeper than {limits.NESTING} levels: not read")
            self.unread = True
            return
        if too_many_values(text):
            self.problem(
                Location(name),
                f"more than {limits.YAML_VALUES:,} YAML values in one file: not read",
                "split it into several files",
            )
            self.unread = True
            return
        try:
            root = _yaml().compose(text)
        except MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            where = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name)
            message = error.problem or error.context or "invalid YAML"
            if message.startswith("but ") and error.context:  # "but found another document"
                message = f"{error.context}, {message}"
            self.problem(where, f"YAML syntax: {message}")
            self.unread = True
            return
        except ReaderError as error:  # a character YAML does not allow, found before parsing
            at = error.position
            where = Location(name, text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at))
            character = error.character if isinstance(error.character, int) else ord(error.character)
            self.problem(where, f"YAML syntax: unacceptable character #x{character:04x}: {error.reason}")
            self.unread = True
            return
        except YAMLError as error:
            self.problem(Location(name), f"YAML syntax: {' '.join(str(error).split())}")
            self.unread = True
            return
        if root is None:
            return  # an empty file is allowed: a placeholder in a new inventory
        if "*" in text and not self._no_aliases(root):  # no '*', no alias: skip the walk
            return
        try:
            top = self.mapping(root, "the top level of an inventory file")
        except _Invalid:
            return
        for key, (key_node, value) in top.items():
            if key not in TOP_LEVEL_KEYS:
                self.unknown_key(key_node, key, TOP_LEVEL_KEYS, "top level")
            elif key == "segments":
                self.read_segments(value)
            elif key == "networks":
                self.read_networks(value)
            elif key == "machines":
                self.read_machines(value)
            elif key == "policy":
                self.read_policy(key_node, value)

    def _no_aliases(self, root: Node) -> bool:
        """Refuses YAML aliases: an alias shares a node, and a few nested aliases can
        make a small file expand into billions of values (the "billion laughs")."""
        seen: set[int] = set()
        stack = [root]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                # An alias is the anchored node itself, so the anchor is what we can point at.
                self.problem(node, "YAML anchors and aliases are not supported in an inventory")
                return False
            seen.add(id(node))
            if isinstance(node, MappingNode):
                for k, v in node.value:
                    stack += (k, v)
            elif isinstance(node, SequenceNode):
                stack.extend(node.value)
        return True

    # generic shapes

    def mapping(self, node: Node, what: str) -> dict[str, tuple[Node, Node]]:
        """A mapping's entries as {key: (key node, value node)}; duplicate keys are errors."""
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a mapping, not {_shape(node)}")
            raise _Invalid
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.problem(key_node, f"a key in {what} must be a plain name")
                continue
            key = key_node.value
            if key in entries:
                first = _loc(self.file, entries[key][0])
                self.problem(key_node, f"duplicate key {quote(key)} in {what} (first at {first})")
                continue
            entries[key] = (key_node, value_node)
        return entries

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what} must be a list, not {_shape(node)}")
            raise _Invalid
        return list(node.value)

    def unknown_key(self, node: Node, key: str, allowed: tuple[str, ...], where: str) -> None:
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else "known keys: " + ", ".join(allowed)
        self.problem(node, f"unknown key {quote(key)} in {where}", hint)

    def fields(
        self,
        node: Node,
        what: str,
        schema: Schema,
    ) -> dict[str, Any]:
        """Reads a mapping against {key: (reader, required)}; raises _Invalid if any
        key was unknown, missing or mistyped (each recorded as a problem)."""
        values, ok = self.some_fields(node, what, schema)
        if not ok:
            raise _Invalid
        return values

    def some_fields(self, node: Node, what: str, schema: Schema) -> tuple[dict[str, Any], bool]:
        """Like `fields`, but returns the values that could be read and whether all
        could, so a caller can go on checking the rest of an entity (every problem at
        once). Raises _Invalid only if `node` is not a mapping."""
        entries = self.mapping(node, what)
        values: dict[str, Any] = {}
        ok = True
        for key, (key_node, value_node) in entries.items():
            if key not in schema:
                self.unknown_key(key_node, key, tuple(schema), what)
                ok = False
                continue
            try:
                values[key] = schema[key][0](self, value_node)
            except _Invalid:
                ok = False
        for key, (_, required) in schema.items():
            if required and key not in entries:
                self.problem(node, f"missing key {quote(key)} in {what}")
                ok = False
        return values, ok

    # scalar readers: each returns the typed value or records a problem and raises

    def scalar(self, node: Node, expected: str) -> str:
        if not isinstance(node, ScalarNode):
            self.problem(node, f"expected {expected}, got {_shape(node)}")
            raise _Invalid
        if _plain(node) and node.value in NULLS:
            self.problem(node, f"expected {expected}, got an empty value")
            raise _Invalid
        if not node.value.isprintable():
            # "\e[31m" in a quoted scalar: it would reach terminals, logs and reports.
            self.problem(node, f"{quote(node.value)} holds a control character", "write printable text")
            raise _Invalid
        return node.value

    def text(self, node: Node) -> str:
        return self.scalar(node, "a string")

    def integer(self, node: Node, minimum: int | None = None, maximum: int | None = None) -> int:
        raw = self.scalar(node, "an integer")
        if not _plain(node) or not re.fullmatch(r"[-+]?[0-9]+", raw):
            self.problem(node, f"expected an integer, got {quote(raw)}")
            raise _Invalid
        if len(raw.lstrip("+-")) > limits.DIGITS:
            self.problem(node, f"an integer of more than {limits.DIGITS} digits: {quote(raw)}")
            raise _Invalid
        value = int(raw)
        self._in_range(node, value, minimum, maximum)
        return value

    def number(self, node: Node, minimum: float | None = None, maximum: float | None = None) -> float:
        raw = self.scalar(node, "a number")
        try:
            if not _plain(node) or len(raw) > 2 * limits.DIGITS:
                raise ValueError
            value = float(raw)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError
        except ValueError:
            self.problem(node, f"expected a number, got {quote(raw)}")
            raise _Invalid from None
        self._in_range(node, value, minimum, maximum)
        return int(value) if value.is_integer() else value

    def _in_range(self, node: Node, value: float, minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and value < minimum:
            self.problem(node, f"{_fmt(value)} is below the minimum {_fmt(minimum)}")
            raise _Invalid
        if maximum is not None and value > maximum:
            self.problem(node, f"{_fmt(value)} is above the maximum {_fmt(maximum)}")
            raise _Invalid

    def boolean(self, node: Node) -> bool:
        raw = self.scalar(node, "true or false")
        if _plain(node) and raw in ("true", "True", "TRUE"):
            return True
        if _plain(node) and raw in ("false", "False", "FALSE"):
            return False
        self.problem(node, f"expected true or false, got {quote(raw)}")
        raise _Invalid

    def choice(self, node: Node, options: tuple[str, ...]) -> str:
        raw = self.scalar(node, "one of " + ", ".join(options))
        if raw not in options:
            close = difflib.get_close_matches(raw, options, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "one of " + ", ".join(options)
            self.problem(node, f"{quote(raw)} is not a valid value", hint)
            raise _Invalid
        return raw

    def address(self, node: Node) -> IPAddress:
        raw = self.scalar(node, "an IP address")
        if "/" in raw:
            self.problem(
                node,
                f"address {quote(raw)} has a prefix length",
                f"write {quote(raw.split('/')[0])}: the length comes from its network",
            )
            raise _Invalid
        try:
            # inet_pton is what INET_PTON makes netaddr call, without the four times
            # slower string path around it: a fleet has an address or two per machine.
            if ":" in raw:
                return IPAddress(int.from_bytes(socket.inet_pton(socket.AF_INET6, raw), "big"), 6)
            return IPAddress(int.from_bytes(socket.inet_pton(socket.AF_INET, raw), "big"), 4)
        except (AddrFormatError, ValueError, OSError):
            self.problem(node, f"{quote(raw)} is not a valid IPv4 or IPv6 address")
            raise _Invalid from None

    def prefix(self, node: Node) -> IPNetwork:
        raw = self.scalar(node, "a network prefix")
        try:
            if "/" not in raw:
                raise ValueError
            IPAddress(raw.split("/", 1)[0], flags=_INET_PTON)
            network = IPNetwork(raw)
        except (AddrFormatError, ValueError):
            self.problem(node, f"{quote(raw)} is not a valid prefix", "write it as address/length")
            raise _Invalid from None
        if network.ip != network.network:
            self.problem(
                node,
                f"prefix {raw} has host bits set",
                f"did you mean {network.cidr}?",
            )
            raise _Invalid
        return network.cidr

    def name(self, node: Node, what: str) -> str:
        raw = self.text(node)
        if not MACHINE_NAME.fullmatch(raw):
            self.problem(
                node,
                f"{what} name {quote(raw)} is not safe as a file name",
                "use letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters",
            )
            raise _Invalid
        return raw

    def waves(self, node: Node) -> tuple[str, ...]:
        """policy.rollout.waves: [canary, 5%, 25%, rest] (netcfg.model.waves)."""
        items = self.sequence(node, "policy.rollout.waves")
        entries: list[str] = []
        ok = True
        for item in items:
            try:
                entries.append(normalise_wave(self.text(item)))
            except ValueError as error:
                self.problem(item, f"policy.rollout.waves: {error}")
                entries.append(UNREADABLE)
                ok = False
            except _Invalid:
                entries.append(UNREADABLE)
                ok = False
        for index, message in check_waves(tuple(entries)):
            self.problem(items[index] if items else node, f"policy.rollout.waves: {message}")
            ok = False
        if not ok:
            raise _Invalid
        return tuple(entries)

    def names_list(self, node: Node, what: str) -> tuple[str, ...]:
        """A list of non-empty strings (approvers: names or e-mail addresses)."""
        values = []
        for item in self.sequence(node, what):
            values.append(self.text(item))
        return tuple(values)

    # entities

    def read_segments(self, node: Node) -> None:
        try:
            entries = self.mapping(node, "segments")
        except _Invalid:
            return
        for name, (key_node, value) in entries.items():
            try:
                self.name(key_node, "segment")
                f = self.fields(value, f"segment {quote(name)}", SEGMENT)
            except _Invalid:
                self.skipped.add(name)
                continue
            location = _loc(self.file, key_node)
            if name in self.segments:
                first = self.segments[name].location
                self.problem(location, f"segment {quote(name)} defined twice (first at {first})")
                continue
            self.segments[name] = Segment(name, f["table"], f["priority"], f.get("description", ""), location)

    def read_networks(self, node: Node) -> None:
        try:
            items = self.sequence(node, "networks")
        except _Invalid:
            self.skipped_networks = None
            return
        for item in items:
            gateway_node = None
            if isinstance(item, MappingNode):
                gateway_node = next((v for k, v in item.value if k.value == "gateway"), None)
            try:
                f = self.fields(item, "a network", NETWORK)
            except _Invalid:
                self._skip_network(item)
                continue
            location = _loc(self.file, item)
            segment_node = next(v for k, v in item.value if k.value == "segment")
            self.value_locations[("segment", location)] = _loc(self.file, segment_node)
            self.networks.append(
                Network(
                    f["prefix"],
                    f["segment"],
                    f.get("gateway"),
                    f.get("private", False),
                    location,
                    _loc(self.file, gateway_node) if gateway_node is not None else location,
                )
            )

    def _skip_network(self, item: Node) -> None:
        """Remembers the prefix of a network that failed to parse, if it can be read at
        all (host bits set included), so its addresses raise no follow-up problems."""
        prefix = _key_node(item, "prefix")
        value = next((v for k, v in item.value if k is prefix), None) if prefix else None
        if self.skipped_networks is None or not isinstance(value, ScalarNode):
            return
        raw = value.value
        try:
            if "/" in raw:
                IPAddress(raw.split("/", 1)[0], flags=_INET_PTON)
                self.skipped_networks.append(IPNetwork(raw).cidr)
        except (AddrFormatError, ValueError):
            pass

    def read_machines(self, node: Node) -> None:
        try:
            entries = self.mapping(node, "machines")
        except _Invalid:
            return
        for name, (key_node, value) in entries.items():
            location = _loc(self.file, key_node)
            if name in self.machines:
                first = self.machines[name].location
                self.problem(location, f"machine {quote(name)} defined twice (first at {first})")
                continue
            try:
                self.name(key_node, "machine")
                machine = self.read_machine(name, location, value)
            except _Invalid:
                self.skipped.add(name)
                continue
            self.machines[name] = machine

    def read_machine(self, name: str, location: Location, node: Node) -> Machine:
        what = f"machine {quote(name)}"
        # Read on past a bad key: the interfaces and the other keys may have problems
        # of their own, and the user should see them all at once.
        f, ok = self.some_fields(node, what, MACHINE)
        kind = Kind(f["kind"]) if "kind" in f else None
        for key, kinds in KIND_ONLY_KEYS.items():
            if kind is not None and key in f and kind not in kinds:
                owners = " or ".join(str(k) for k in kinds)
                self.problem(
                    _key_node(node, key) or node,
                    f"key {quote(key)} does not apply to a {kind}",
                    f"only to a {owners}",
                )
                ok = False
        for key in REQUIRED_BY_KIND.get(kind, ()) if kind is not None else ():
            if key not in f and _key_node(node, key) is None:  # present but bad: reported
                self.problem(node, f"missing key {quote(key)} in {what} (required for a {kind})")
                ok = False
        interfaces = self.read_interfaces(kind, what, f["interfaces"]) if "interfaces" in f else None
        if not ok or interfaces is None or kind is None:
            if interfaces is not None:  # its addresses are still checked: every problem at once
                self.partial.append(Machine(name, kind or Kind.PHYSICAL, interfaces, location=location))
            raise _Invalid
        if "host" in f:
            host_key = _key_node(node, "host")
            self.value_locations[("host", name)] = _loc(self.file, dict(node.value)[host_key])
        return Machine(
            name=name,
            kind=kind,
            interfaces=interfaces,
            memory_gib=f.get("memory_gib"),
            nic_gbit=f.get("nic_gbit", DEFAULT_NIC_GBIT if kind is Kind.KVM_HOST else None),
            host=f.get("host"),
            dirty_mib_s=f.get("dirty_mib_s", 0 if kind is Kind.VM else None),
            service=f.get("service"),
            location=location,
            design=DesignName(f["design"]) if "design" in f else None,
        )

    def read_interfaces(self, kind: Kind | None, what: str, node: Node) -> tuple[Interface, ...] | None:
        """The interfaces, or None after recording their problems. `kind` is None when
        the machine's kind is unreadable: default names are then not checked."""
        try:
            entries = self.mapping(node, f"the interfaces of {what}")
        except _Invalid:
            return None
        interfaces = []
        ok = True
        for segment, (key_node, value) in entries.items():
            address_nodes: list[Node] = []
            try:
                f, read = self.some_fields(value, f"interface '{segment}' of {what}", INTERFACE)
            except _Invalid:
                ok = False
                continue
            address_nodes = f.get("addresses", [])
            addresses = []
            for address_node in address_nodes:
                try:
                    addresses.append(self.address(address_node))
                except _Invalid:
                    ok = False
            if not read:
                ok = False
                continue
            if kind is None and "name" not in f:
                continue  # the default name depends on the kind
            name = f.get("name") or default_interface_name(kind or Kind.PHYSICAL, segment)
            if not INTERFACE_NAME.fullmatch(name):
                where = _key_node(value, "name") or key_node
                self.problem(
                    where,
                    f"interface name {quote(name)} is not a valid Linux interface name",
                    "at most 15 letters, digits, '.', '_' or '-', starting with a letter or"
                    " digit; set name: to override",
                )
                ok = False
            elif name == LOOPBACK:
                self.problem(
                    _key_node(value, "name") or key_node,
                    f"interface name '{LOOPBACK}' is the loopback every namespace already has",
                    "choose another name:",
                )
                ok = False
            elif name in SYSCTL_NAMES:
                self.problem(
                    _key_node(value, "name") or key_node,
                    f"interface name '{name}' is refused by the kernel: it names the settings of"
                    f" every interface (/proc/sys/net/ipv4/conf/{name})",
                    "choose another name:",
                )
                ok = False
            interfaces.append(
                Interface(
                    segment,
                    name,
                    tuple(addresses),
                    _loc(self.file, key_node),
                    tuple(_loc(self.file, n) for n in address_nodes),
                )
            )
        return tuple(interfaces) if ok else None

    def read_policy(self, key_node: Node, node: Node) -> None:
        location = _loc(self.file, key_node)
        if self.policy is not None:
            self.problem(location, f"policy defined twice (first at {self.policy.location})")
            return
        try:
            f, ok = self.some_fields(node, "policy", POLICY)
        except _Invalid:
            f, ok = {}, False
        sections = {}
        for key, what, schema in (
            ("seatbelt", "policy.seatbelt", SEATBELT),
            ("rollout", "policy.rollout", ROLLOUT),
        ):
            try:  # each section read on its own: all problems at once
                sections[key] = self.fields(f[key], what, schema) if key in f else {}
            except _Invalid:
                ok = False
        if not ok:
            self.policy = Policy(location=location)  # defaults; the problems are recorded
            return
        seatbelt, rollout = sections["seatbelt"], sections["rollout"]
        self.policy = Policy(
            design=DesignName(f.get("design", DesignName.POLICY_ROUTING.value)),
            reconfigure=Reconfigure(f.get("reconfigure", Reconfigure.LIVE.value)),
            seatbelt=Seatbelt(**seatbelt),
            rollout=RolloutPolicy(**rollout),
            location=location,
        )


# Schemas: {key: (reader(reader, node) -> value, required)}. Readers record their own
# problems; module-level so a 10,000-machine inventory does not rebuild them per entry.
Schema = Mapping[str, tuple[Callable[["_Reader", Node], Any], bool]]


def _raw(_: _Reader, node: Node) -> Node:
    return node


def _choices(enum: Any) -> Callable[[_Reader, Node], str]:
    options = tuple(member.value for member in enum)
    return lambda reader, node: reader.choice(node, options)


def _integer(minimum: int, maximum: int | None = None) -> Callable[[_Reader, Node], int]:
    return lambda reader, node: reader.integer(node, minimum, maximum)


def _number(minimum: float, maximum: float | None = None) -> Callable[[_Reader, Node], float]:
    return lambda reader, node: reader.number(node, minimum, maximum)


SEGMENT: Schema = {
    "table": (_integer(1, 2**32 - 1), True),
    "priority": (_integer(*RULE_PRIORITIES), True),
    "description": (_Reader.text, False),
}
NETWORK: Schema = {
    "prefix": (_Reader.prefix, True),
    "segment": (_Reader.text, True),
    "gateway": (_Reader.address, False),
    "private": (_Reader.boolean, False),
    "description": (_Reader.text, False),
}
MACHINE: Schema = {
    "kind": (_choices(Kind), True),
    # Upper bounds far beyond any machine: past them the planner's sums lose the small
    # terms (a host of 10^20 GiB made 576 GiB free read as 0).
    "memory_gib": (_number(0.001, 2**20), False),
    "nic_gbit": (_number(0.001, 100_000), False),
    "host": (_Reader.text, False),
    "dirty_mib_s": (_number(0, 2**30), False),
    "service": (_Reader.text, False),
    "design": (_choices(DesignName), False),
    "interfaces": (_raw, True),
    "description": (_Reader.text, False),
}
INTERFACE: Schema = {
    "addresses": (lambda reader, node: reader.sequence(node, "addresses"), False),
    "name": (_Reader.text, False),
}
POLICY: Schema = {
    "design": (_choices(DesignName), False),
    "reconfigure": (_choices(Reconfigure), False),
    "seatbelt": (_raw, False),
    "rollout": (_raw, False),
}
SEATBELT: Schema = {
    "max_fraction": (_number(0, 1), False),
    "max_hosts": (_integer(0), False),
    "stagger_above": (_integer(0), False),
    "approvers": (lambda reader, node: reader.names_list(node, "approvers"), False),
}
ROLLOUT: Schema = {
    "max_parallel_evacuations": (_integer(1), False),
    "max_migrations_per_host": (_integer(1), False),
    "migration_efficiency": (_number(0.01, 1), False),
    # A week each: a plan of thousands of them stays within limits.PLAN_SECONDS.
    "reconfigure_s": (_number(0, 7 * 86_400), False),
    "soak_s": (_number(0, 7 * 86_400), False),
    "waves": (_Reader.waves, False),
}

LOOPBACK = "lo"
SYSCTL_NAMES = ("all", "default")
# Reject the shorthand forms netaddr would otherwise accept ("10.1" as 10.0.0.1).
_INET_PTON = 1  # netaddr.INET_PTON
DEFAULT_NIC_GBIT = 1  # a KVM host without nic_gbit: assume the slow link (pessimistic)

KIND_ONLY_KEYS: Mapping[str, tuple[Kind, ...]] = {
    "host": (Kind.VM,),
    "dirty_mib_s": (Kind.VM,),
    "nic_gbit": (Kind.KVM_HOST,),
    # A router renders its addresses and forwarding under every design.
    "design": (Kind.KVM_HOST, Kind.VM, Kind.PHYSICAL),
}
REQUIRED_BY_KIND: Mapping[Kind, tuple[str, ...]] = {
    Kind.VM: ("host", "memory_gib"),
    Kind.KVM_HOST: ("memory_gib",),
}


def _plain(node: Node) -> bool:
    # The C composer reports a plain scalar's style as '', the pure one as None.
    return not getattr(node, "style", None)


def _key_node(node: Node, key: str) -> Node | None:
    if isinstance(node, MappingNode):
        for k, _ in node.value:
            if isinstance(k, ScalarNode) and k.value == key:
                return k
    return None


def _shape(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if _plain(node) and node.value in NULLS:
        return "an empty value"
    return f"{quote(node.value)}"


def _fmt(value: float) -> str:
    # All the digits a value needs (100000.01 is not "100000"), and 1e+300, not 301 digits.
    if abs(value) >= 1e15:
        return f"{value:.15g}"
    return str(int(value)) if isinstance(value, int) or value.is_integer() else f"{value:.15g}"
