"""The file edge: writing so that nothing is ever half-written, and reading bounded JSON.

One writer for every file netcfg writes. A regular file is replaced atomically (a
temporary file beside it, renamed over it), so a reader (a CI step posting a summary,
networkd) sees the old file or the new one. A device, a FIFO or a socket named as such,
or a name of netcfg's own open file (`--report-json /dev/stdout`, /dev/fd/N), is written
in place: replacing it would turn a device into a regular file. Any other symbolic link
is replaced by the file, never written through: a pull request can commit a link where
CI writes its report, and it must not make the report overwrite a file or a disk
elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import sys

from netcfg import limits
from netcfg.errors import InputError, quote

# pathlib is not imported: it (with urllib and ipaddress behind it) is 8 ms of an apply,
# which reads its JSON here. typing neither: annotations only. Nor problems
# (InputError.at imports it with the first problem to report).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any


def write_file(path: str | Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write `data` to `path`; a path that cannot be written is the user's input
    problem (exit 2), named at the path."""
    path = os.fspath(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    refuse_links_out(path)
    if _in_place(path):
        _write_in_place(path, raw)
    else:
        write_atomic(path, raw, mode)


def refuse_links_out(path: str | os.PathLike[str], *, itself: bool = False) -> None:
    """A relative path is the job's: a directory on its way (with `itself`, the path too:
    an output directory) that is a link leading out of the working directory, one a pull
    request committed, is refused, not written through. An absolute path is the
    caller's own choice."""
    path = os.fspath(path)
    if os.path.isabs(path):
        return
    here = os.path.realpath(os.curdir)
    parts = [part for part in path.split(os.sep) if part not in ("", ".")]
    for depth in range(1, len(parts) + itself):
        directory = os.path.join(*parts[:depth])
        if os.path.islink(directory):
            try:
                target = os.path.realpath(directory)
            except OSError:
                target = "/"
            if target != here and not target.startswith(here.rstrip(os.sep) + os.sep):
                raise InputError.at(directory, "is a symbolic link out of the working directory: not written through")


def _in_place(path: str) -> bool:
    if _names_an_open_file(path):
        return True
    try:
        st = os.lstat(path)
    except OSError:
        return False  # nothing there yet (or not reachable: the atomic write says why)
    if stat.S_ISDIR(st.st_mode):
        raise InputError.at(path, "cannot write: is a directory")
    return not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode))


def _names_an_open_file(path: str) -> bool:
    """Whether `path` reaches one of netcfg's own open files through /proc
    (/dev/stdout, /dev/fd/1, /proc/self/fd/1): written through, not replaced. Another
    process's files, or /proc's other entries, are not netcfg's to write."""
    try:
        current = os.path.abspath(path)
        for _ in range(40):  # the kernel's own limit on links followed
            # The directory resolved: /proc/self and /proc/thread-self become this process's.
            current = os.path.join(os.path.realpath(os.path.dirname(current)), os.path.basename(current))
            if current.startswith("/proc/"):
                process, _, fd = current.rpartition("/fd/")
                mine = f"/proc/{os.getpid()}"
                return fd.isdigit() and (process == mine or process.rpartition("/task/")[0] == mine)
            if not os.path.islink(current):
                return False
            current = os.path.join(os.path.dirname(current), os.readlink(current))
    except OSError:  # a link that cannot be read: not followed
        return False
    return False


def _write_in_place(path: str, raw: bytes) -> None:
    if _written_through_own_stream(path, raw):
        return
    try:
        # Appending: on a terminal, a pipe or a device it is a plain write, and through
        # /dev/stdout redirected to a file it adds to what the command wrote there.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
    except OSError as error:
        raise cannot_write(path, error) from None


def _written_through_own_stream(path: str, raw: bytes) -> bool:
    """Write `raw` to our own stdout or stderr when `path` is that file
    (`--report-json /dev/stdout > out`): a second open of a redirected file has an offset
    of its own, and what the command prints next would overwrite what was written."""
    try:
        target = os.stat(path)
    except OSError:
        return False
    for fd, stream in ((1, sys.stdout), (2, sys.stderr)):
        try:
            own = os.fstat(fd)
        except OSError:
            continue
        if (own.st_dev, own.st_ino) == (target.st_dev, target.st_ino):
            try:
                stream.flush()
                view = memoryview(raw)
                while view:
                    view = view[os.write(fd, view) :]
            except OSError as error:
                raise cannot_write(path, error) from None
            return True
    return False


def write_atomic(path: str | os.PathLike[str], raw: bytes, mode: int = 0o644) -> None:
    """Replace `path` (never following a link there) with `raw` in one rename."""
    import tempfile  # here: most runs write nothing, and its import is a few milliseconds of an apply

    directory, name = os.path.split(os.fspath(path))
    try:
        if directory:
            os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory or os.curdir, prefix=f".{name}.", suffix=".tmp")
    except OSError as error:
        raise cannot_write(path, error) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(error, OSError):
            raise cannot_write(path, error) from None
        raise


def report_json(data: dict[str, Any]) -> str:
    """JSON with one line per top-level key and per item of a top-level list: readable in
    a CI log, and encoded by json's C encoder (indent= switches to its pure-Python one,
    4 times slower on a report of 10,000 machines)."""
    lines = []
    for key, value in data.items():
        head = f"  {json.dumps(key)}: "
        if isinstance(value, list) and value:
            items = ",\n".join(f"    {json.dumps(item)}" for item in value)
            lines.append(f"{head}[\n{items}\n  ]")
        else:
            lines.append(head + json.dumps(value))
    return "{\n" + ",\n".join(lines) + "\n}\n"


def contained(root: Path, relative: str, checked: set[str] | None = None) -> Path:
    """`root/relative`, refused (InputError) unless it stays inside `root`: a relative
    path without `..`, every directory on the way a real one (not a link), the file
    itself not a link. Whatever a manifest lists or a link planted in an output
    directory says, netcfg writes and deletes only inside it. `checked` caches the
    directories found safe (a render checks thousands of files in a few)."""
    from pathlib import Path

    return Path(contained_path(str(root), relative, checked))


def contained_path(root: str, relative: str, checked: set[str] | None = None, *, file_too: bool = True) -> str:
    """`contained` on strings, for the tens of thousands of files of a render; with
    `file_too` False the caller judges the file itself from its own lstat."""
    if not relative or relative.startswith("/") or ".." in relative.split("/"):
        raise InputError.at(relative, "is not a path inside the output directory")
    # Normalised as pathlib spells paths (the callers compare these strings with
    # str(Path)), and because a trailing slash would make lstat follow a link.
    root = os.path.normpath(root)
    path = os.path.normpath(os.path.join(root, relative))
    parent = os.path.dirname(path)
    if checked is None or parent not in checked:
        current = parent
        while current != root and current != os.path.dirname(current):
            if os.path.islink(current):
                raise InputError.at(
                    current, "is a symbolic link: netcfg writes only inside its output directory, not through a link"
                )
            current = os.path.dirname(current)
        if checked is not None:
            checked.add(parent)
    if file_too and os.path.islink(path):
        raise link_refused(path)
    return path


def link_refused(path: str) -> InputError:
    return InputError.at(path, "is a symbolic link: netcfg does not write through it")


def cannot_write(path: str | os.PathLike[str], error: OSError) -> InputError:
    return InputError.at(path, f"cannot write: {error.strerror or error}")


def read_json(path: str | Path, what: str, limit: int = limits.JSON_FILE_BYTES) -> Any:
    """A JSON file's value; unreadable, too large, not UTF-8 JSON or nested too deep:
    an input error naming the file (and line:col when known)."""
    return json_value(read_bytes(path, what, limit), path, what)


def read_bytes(path: str | Path, what: str, limit: int = limits.JSON_FILE_BYTES) -> bytes:
    """A file's bytes; unreadable or larger than `limit`: an input error naming the file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise InputError.at(path, f"cannot read the {what}: {error.strerror or error}") from None
    if len(data) > limit:
        raise InputError.at(path, f"the {what} is larger than {limit >> 20} MiB: not read")
    return data


def json_value(data: bytes, path: str | Path, what: str) -> Any:
    """The value of a JSON file's bytes (see read_json). An object naming a key twice is
    an error: json keeps the last silently, another reader may keep the first."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        from netcfg.json_positions import line_column

        line, column = line_column(data.decode("latin-1"), error.start)
        raise InputError.at(path, f"the {what} is not UTF-8 JSON (byte {error.start})", line, column) from None
    twice = False

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal twice
        found = dict(pairs)
        twice = twice or len(found) < len(pairs)
        return found

    try:
        value = json.loads(text, object_pairs_hook=unique)
    except json.JSONDecodeError as error:
        raise InputError.at(path, f"the {what} is not JSON: {error.msg}", error.lineno, error.colno) from None
    except RecursionError:
        raise _too_deep(text, path, what) from None
    except ValueError:  # Python's limit on the digits of an integer it converts
        from netcfg.json_positions import line_column

        long = re.search(r"\d{4301,}", text)
        line, column = line_column(text, long.start()) if long else (0, 0)
        raise InputError.at(
            path, f"the {what} has a number of more than 4,300 digits: not read", line, column
        ) from None
    if _depth(value) > limits.NESTING:
        # Below Python's recursion limit, yet code walking it recursively might not be.
        raise _too_deep(text, path, what)
    if twice:
        from netcfg.json_positions import keys_twice
        from netcfg.problems import Location, Problem

        message = "{}: the " + what + " names key {} twice in one object"
        raise InputError(
            [
                Problem(Location(str(path), line, column), message.format(at, quote(key)))
                for at, key, line, column in keys_twice(text)
            ]
        )
    return value


def _too_deep(text: str, path: str | Path, what: str) -> InputError:
    from netcfg.json_positions import deeper_than

    line, column = deeper_than(text, limits.NESTING)
    return InputError.at(path, f"the {what} nests deeper than {limits.NESTING} levels: not read", line, column)


@contextlib.contextmanager
def positions_in(path: str | Path, data: bytes) -> Iterator[None]:
    """Within: the problems of an InputError about the JSON file `path` (of bytes `data`)
    that name a value by its JSON path get the line and column where it starts."""
    try:
        yield
    except InputError as error:
        from netcfg.json_positions import located

        raise InputError(located(error.problems, data.decode("utf-8", "replace"), str(path))) from None


_CONTAINERS = (dict, list)  # what json makes of objects and arrays, never a subclass


def _depth(value: Any) -> int:
    """How deep lists and objects nest in a JSON value, walked level by level without
    recursion. Each level is one list comprehension keeping only the containers: the
    values of a rendered file's 2,000 rules and routes are looked at once (1 ms), not
    gathered first and sorted out after (2 ms)."""
    depth, level = 0, [value] if type(value) in _CONTAINERS else []
    while level:
        depth += 1
        level = [
            child
            for item in level
            for child in (item.values() if type(item) is dict else item)
            if type(child) in _CONTAINERS
        ]
    return depth
