"""Reading an inventory's files from disk: nothing outside it, nothing skipped silently.

A symbolic link inside the inventory that points outside it is refused (a pull request
must not make netcfg read a token file into a report); an unreadable file or directory,
one that vanishes while being read, or one too large, is an input error, never skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

from netcfg import limits
from netcfg.errors import InputError
from netcfg.problems import Location, Problem

YAML_SUFFIXES = (".yaml", ".yml")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _real(path: str | Path) -> str | None:
    """The real path, or None when a link on the way cannot be read (/proc/1/cwd to
    anyone but its owner): such a link is not followed, let alone read."""
    try:
        return os.path.realpath(path)
    except OSError:
        return None


def yaml_files(root: Path, skip: tuple[str, ...] = (), inside: Path | None = None) -> list[Path]:
    """The YAML files under `root` (hidden entries and the top-level names in `skip`
    excepted), in path order; nothing outside `inside` (default: `root`) is read, `root`
    itself included. Raises InputError listing every problem."""
    problems: list[Problem] = []
    found = yaml_files_and_problems(root, problems, skip, inside)
    if problems:
        raise InputError(problems)
    return found


def yaml_files_and_problems(
    root: Path, problems: list[Problem], skip: tuple[str, ...] = (), inside: Path | None = None
) -> list[Path]:
    """`yaml_files`, adding its problems to `problems` and returning the files it could
    walk to."""
    real_root = _real(inside if inside is not None else root)
    real_top = _real(root)
    if real_root is None or real_top is None or not _inside(real_top, real_root):
        problems.append(Problem(Location(str(root)), "is a symbolic link to a path outside the inventory: not read"))
        return []
    found: list[Path] = []
    seen: set[str] = set()  # real directories walked: a link to a parent must not loop

    def walk(directory: Path, real: str, top: bool) -> None:
        if real in seen:
            return
        seen.add(real)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as error:
            problems.append(Problem(Location(str(directory)), f"cannot read the directory: {error.strerror}"))
            return
        for entry in entries:
            if entry.name.startswith(".") or (top and entry.name in skip):
                continue
            path = directory / entry.name
            target = _real(path)
            if target is None or (entry.is_symlink() and not _inside(target, real_root)):
                outside = "is a symbolic link to a path outside the inventory: not read"
                problems.append(Problem(Location(str(path)), outside))
                continue
            try:
                is_dir = entry.is_dir()
                is_file = entry.is_file()
            except OSError as error:
                problems.append(Problem(Location(str(path)), f"cannot read: {error.strerror}"))
                continue
            if is_dir:
                walk(path, target, False)
            elif entry.name.endswith(YAML_SUFFIXES):
                if is_file:
                    found.append(path)
                elif entry.is_symlink():
                    problems.append(Problem(Location(str(path)), "is a broken symbolic link: not read"))
                else:
                    problems.append(Problem(Location(str(path)), "is not a regular file (a FIFO, a socket, a device)"))

    walk(root, real_top, True)
    return found


def read_text(path: Path, limit: int = limits.YAML_FILE_BYTES) -> str:
    """A file's UTF-8 text; unreadable, vanished, too large or not UTF-8: InputError."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise InputError([Problem(Location(str(path)), f"cannot read: {error.strerror}")]) from None
    if len(data) > limit:
        raise InputError([Problem(Location(str(path)), f"is larger than {limit >> 20} MiB: not read")])
    return utf8_text(data, str(path))


def utf8_text(data: bytes, name: str) -> str:
    """`data` decoded; not UTF-8: InputError at the line and column of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - data.rfind(b"\n", 0, error.start)
        where = Location(name, line, column)
        raise InputError([Problem(where, f"is not UTF-8 text: {error.reason}")]) from None


def read_texts(paths: list[Path]) -> dict[str, str]:
    """{path: text} of every file, every problem of all of them at once."""
    problems: list[Problem] = []
    texts = readable_texts(paths, problems)
    if problems:
        raise InputError(problems)
    return texts


def readable_texts(paths: list[Path], problems: list[Problem]) -> dict[str, str]:
    """{path: text} of the files that could be read; the others' problems go to `problems`."""
    texts: dict[str, str] = {}
    for path in paths:
        try:
            texts[str(path)] = read_text(path)
        except InputError as error:
            problems.extend(error.problems)
    return texts
