"""The sandboxed Jinja2 environment every output format renders through.

Templates may come from a user's `--templates DIR`, so they run sandboxed and immutable:
they can read the model they are given but not call into or change anything else.
StrictUndefined turns a misspelt variable into an error instead of an empty string in a
routing file. A user directory only needs the templates it changes: the rest fall back
to the defaults shipped inside the package (`netcfg.templates`).
"""

from __future__ import annotations

import importlib.resources
import json
import os
import pickle
import resource
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment

from netcfg import limits
from netcfg.errors import InputError
from netcfg.formats.canonical_json import HostJson
from netcfg.model.entries import WHOLE_PART, PerPart
from netcfg.model.host import (
    MAIN_TABLE,
    PROTOCOL,
    Address,
    HostConfig,
    InterfaceConfig,
    Route,
    Rule,
    table_name,
)
from netcfg.problems import Location, Problem
from netcfg.regular import regular_file_bytes

T = TypeVar("T")


class PackageLoader(jinja2.BaseLoader):
    """Loads the default templates through importlib.resources, so they are found both
    from a source checkout (editable install) and from an installed wheel."""

    def __init__(self, package: str = "netcfg.templates"):
        self.root = importlib.resources.files(package)

    def get_source(self, environment: jinja2.Environment, template: str):
        node = self.root
        for part in template.split("/"):
            if part in ("", ".", ".."):
                raise jinja2.TemplateNotFound(template)
            node = node.joinpath(part)
        if not node.is_file():
            raise jinja2.TemplateNotFound(template)
        source = node.read_text(encoding="utf-8")
        return source, None, lambda: True


# Frozen, slotted model types with nothing but data and read-only properties: public
# attribute access on them is exactly what the sandbox would allow anyway, so it skips
# the sandbox's generic checks (which cost more than the rest of rendering a machine).
# Formats add their own frozen views (netplan's links).
MODEL_TYPES: set[type] = {HostConfig, InterfaceConfig, Address, Rule, Route}


class TemplateRefused(jinja2.TemplateError):
    """A user's template netcfg will not read: it is not the defaults' to stand in for."""


class UserTemplates(jinja2.BaseLoader):
    """A user's --templates directory. A template missing there comes from the defaults;
    one that is a link leading outside the directory, unreadable, or too large is an
    error (nothing outside the job is read, nothing silently replaced)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.root = os.path.realpath(directory)

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        path = os.path.join(self.directory, *split_template_path(template))
        if not os.path.lexists(path):
            raise jinja2.TemplateNotFound(template)
        if not os.path.realpath(path).startswith(self.root.rstrip(os.sep) + os.sep):
            raise TemplateRefused(f"{path} is a link leading outside the templates directory: not read")
        try:
            found = os.stat(path)
        except OSError as error:
            raise TemplateRefused(f"cannot read {path}: {error.strerror or error}") from None
        if not stat.S_ISREG(found.st_mode):
            # A FIFO would hold the render up before any time limit runs.
            raise TemplateRefused(f"{path} is not a regular file (a FIFO, a socket, a device): not read")
        if found.st_size > limits.TEMPLATE_OUTPUT_BYTES:
            raise TemplateRefused(f"{path} is larger than {limits.TEMPLATE_OUTPUT_BYTES >> 20} MiB: not read")
        data = regular_file_bytes(path, limits.TEMPLATE_OUTPUT_BYTES)  # without waiting, if swapped meanwhile
        try:
            if data is None:
                raise TemplateRefused(f"cannot read {path}: no longer a regular file of a sane size")
            source = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise TemplateRefused(f"cannot read {path}: {error}") from None
        mtime = os.path.getmtime(path)
        return source, path, lambda: os.path.getmtime(path) == mtime


class TemplateLimit(Exception):
    """A template went beyond what a render may cost (limits.TEMPLATE_*)."""


class Sandbox(ImmutableSandboxedEnvironment):
    # `'x' * 10**10` would exhaust memory before any time limit could act: the
    # operators that multiply sizes are checked before they run.
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            bits = max(left.bit_length(), 1) * right if isinstance(left, int) and isinstance(right, int) else 0
            if bits > 64 * limits.TEMPLATE_SEQUENCE:
                raise TemplateLimit(f"{left} ** {right} is too large a number")
            return super().call_binop(context, operator, left, right)
        for sequence, times in ((left, right), (right, left)):
            items = len(sequence) if isinstance(sequence, (str, bytes, list, tuple)) else 0
            if isinstance(times, int) and items * times > limits.TEMPLATE_SEQUENCE:
                raise TemplateLimit(f"a sequence of {items} items times {times} is too long")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) in MODEL_TYPES and not attribute.startswith("_"):
            try:
                return getattr(obj, attribute)
            except AttributeError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def yaml_str(value: Any) -> str:
    """A YAML scalar that can never be misread: JSON string syntax is valid YAML, so a
    name such as `on` or `1e3` stays a string."""
    return json.dumps(str(value))


def environment(templates: Path | None = None, *, create_links: bool = False) -> Sandbox:
    """The environment for the default templates, or `templates` over the defaults."""
    loaders: list[jinja2.BaseLoader] = []
    if templates is not None:
        if not templates.is_dir():
            raise InputError([Problem(Location(str(templates)), "templates directory does not exist")])
        loaders.append(UserTemplates(templates))
    loaders.append(PackageLoader())
    env = Sandbox(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # Compiled templates are kept for the whole run: each is compiled once and
        # rendered per machine.
        cache_size=-1,
        auto_reload=False,
    )
    env.filters["yaml_str"] = yaml_str
    # The canonical JSON of a HostConfig (or any JSON value): sorted keys, indent 2.
    env.filters["canonical_json"] = HostJson()
    env.filters["table_name"] = table_name
    env.globals["PROTOCOL"] = PROTOCOL
    env.globals["MAIN_TABLE"] = MAIN_TABLE
    env.globals["create_links"] = create_links
    return env


def template(env: jinja2.Environment, name: str) -> jinja2.Template:
    """Load one template, turning a syntax error into an InputError at its file:line."""
    try:
        return env.get_template(name)
    except jinja2.TemplateSyntaxError as error:
        where = Location(error.filename or error.name or name, error.lineno or 0, 1)
        raise InputError([Problem(where, f"template syntax error: {error.message}")]) from None
    except jinja2.TemplateNotFound:
        raise InputError([Problem(Location(name), "template not found")]) from None
    except TemplateRefused as error:
        raise InputError([Problem(Location(name), f"template error: {error.message}")]) from None


class Templates:
    """Compiled templates of one environment, each compiled on first use only.

    Entry templates (one route, one rule) are rendered once per distinct entry object:
    the designs share the `to` rules and on-link routes of a segment between all its
    machines, so a fleet of 10,000 machines with hundreds of networks per segment
    renders a few thousand entries, not millions. The cache is keyed by object identity
    (hashing a frozen dataclass costs more than rendering the line is worth saving) and
    keeps every entry it has seen alive, so no other object can take over an id while
    its text is cached. Entries built per machine (its `from` rules, its defaults) are
    mostly equal to another machine's: a second cache by value renders each distinct
    one once."""

    __slots__ = ("env", "_compiled", "_by_id", "_by_value", "_by_part", "_alive", "_attached", "_kept")

    def __init__(self, env: jinja2.Environment):
        self.env = env
        self._compiled: dict[str, jinja2.Template] = {}
        self._by_id: dict[str, dict[int, str]] = {}
        self._by_value: dict[str, dict[object, str]] = {}
        self._by_part: dict[str, PerPart[object, str]] = {}
        self._alive: list[object] = []
        self._attached: tuple[object, object] = (None, None)
        self._kept: dict[Callable[[], object], object] = {}

    def blocks(self, name: str, variable: str, parts: Sequence[tuple[object, ...]]) -> str:
        """`block` of each run of entries, joined. A long run is a shared part (a
        segment's rules: the same object on every machine of the segment), so its whole
        text is kept by identity: each machine then joins a few texts, not thousands."""
        text_of = self._by_part.get(name)
        if text_of is None:
            text_of = self._by_part[name] = PerPart(lambda part: self.block(name, variable, part), WHOLE_PART)
        return "".join(map(text_of, parts))

    def kept(self, kind: Callable[[], T]) -> T:
        """One `kind()` for as long as these templates live (one render run): what a
        format learns of the shared parts, kept across machines."""
        found = self._kept.get(kind)
        if found is None:
            found = self._kept[kind] = kind()
        return found  # type: ignore[return-value]

    def block(self, name: str, variable: str, entries: Sequence[object]) -> str:
        """The texts of template `name` for each entry (bound to `variable`), joined."""
        by_id = self._by_id.get(name)
        if by_id is None:
            by_id = self._by_id[name] = {}
        parts = list(map(by_id.get, map(id, entries)))  # C-speed loop: no Python frame
        if None in parts:  # first sight of some entries: render (or find) them
            by_value = self._by_value.setdefault(name, {})
            i = -1
            while True:
                try:
                    i = parts.index(None, i + 1)  # the few misses, found at C speed
                except ValueError:
                    break
                entry = entries[i]
                text = by_value.get(entry)
                if text is None:
                    text = by_value[entry] = self.render(name, **{variable: entry})
                parts[i] = by_id[id(entry)] = text
                self._alive.append(entry)
        return "".join(parts)  # type: ignore[arg-type]

    def memo(self, key: object, compute: Callable[[], T]) -> T:
        """compute() for the last key asked, reused while the same object is asked again
        (networkd and netplan attach the same machine's routes one after the other)."""
        last_key, value = self._attached
        if last_key is not key:
            value = compute()
            self._attached = (key, value)
        return value  # type: ignore[return-value]

    def render(self, name: str, **context: object) -> str:
        compiled = self._compiled.get(name)
        if compiled is None:
            compiled = self._compiled[name] = template(self.env, name)
        # Only a user's own template has a file name (the defaults ship in the package
        # and have none, "<template>"); it runs bounded in time and output.
        user = compiled.filename not in (None, "<template>")
        try:
            return _bounded(compiled, context) if user else compiled.render(**context)
        except Exception as error:
            # Any error of a user's template is an input error: `{{ 1/0 }}` there is the
            # user's mistake, in a default template it is netcfg's bug.
            if not isinstance(error, (jinja2.TemplateError, TemplateLimit)) and not user:
                raise
            # A user's template that misuses the model (StrictUndefined, the sandbox).
            filename = compiled.filename if user and compiled.filename else name
            where = Location(filename, _template_line(error, filename), 1)
            if isinstance(error, jinja2.TemplateNotFound):
                message = f"template error: included template not found: {error.name}"
            else:
                message = f"template error: {_explain(error)}"
            raise InputError([Problem(where, message)]) from None


def _bounded(compiled: jinja2.Template, context: dict[str, object]) -> str:
    """Render a user's template within limits.TEMPLATE_SECONDS and TEMPLATE_OUTPUT_BYTES:
    a chunk at a time, with an alarm for a loop that produces nothing for long."""
    deadline = time.monotonic() + limits.TEMPLATE_SECONDS
    parts: list[str] = []
    size = 0
    with _alarm(limits.TEMPLATE_SECONDS):
        for chunk in compiled.generate(**context):
            size += len(chunk)
            if size > limits.TEMPLATE_OUTPUT_BYTES:
                raise TemplateLimit(f"the output is larger than {limits.TEMPLATE_OUTPUT_BYTES >> 20} MiB")
            if time.monotonic() > deadline:
                raise TemplateLimit(f"rendering took longer than {limits.TEMPLATE_SECONDS:g} s")
            parts.append(chunk)
    return "".join(parts)


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """SIGALRM after `seconds` raises TemplateLimit in the render (main thread only:
    elsewhere the per-chunk checks of _bounded are the limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise TemplateLimit(f"rendering took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _explain(error: BaseException) -> str:
    if isinstance(error, MemoryError):
        return f"it needs more than the {limits.TEMPLATE_MEMORY_BYTES >> 30} GiB a render may use"
    return str(error) or type(error).__name__


def _template_line(error: BaseException, filename: str) -> int:
    """The line of `filename` a render error happened at (Jinja2 rewrites tracebacks so
    that template frames carry template lines), 0 if unknown."""
    line = 0
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def run_bounded(work: Callable[[], T]) -> T:
    """`work()` in a forked child whose address space may grow by at most
    limits.TEMPLATE_MEMORY_BYTES: a user's template can build a huge string in many
    ways (`'x'.ljust(N)`, `'%*s' % (N, 'x')`, a format width) that no operator check
    catches before the memory is gone. Its result or exception comes back pickled; a
    child killed or out of memory is an input error, never the parent's end."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, report, and leave without running the parent's exit code
        os.close(read)
        try:
            limit = _address_space() + limits.TEMPLATE_MEMORY_BYTES
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            try:
                outcome: tuple[str, object] = ("ok", work())
            except MemoryError:
                outcome = ("error", InputError(f"a template needs more than {limits.TEMPLATE_MEMORY_BYTES >> 30} GiB"))
            except BaseException as error:
                outcome = ("error", error)
            with os.fdopen(write, "wb") as pipe:
                pickle.dump(outcome, pipe)
        finally:
            os._exit(0)
    os.close(write)
    try:
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()
    except BaseException:
        os.kill(pid, signal.SIGKILL)  # interrupted: the child must not outlive the command
        raise
    finally:
        _, status = os.waitpid(pid, 0)
    if not data:
        raise InputError(f"rendering with the user's templates was killed (status {status})")
    kind, value = pickle.loads(data)
    if kind == "error":
        raise value
    return value


def _address_space() -> int:
    """This process's virtual memory now (VmSize), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0
