"""Writing rendered files under an output directory: atomically, only when changed.

Running `netcfg render` on every commit must leave unchanged files untouched (mtimes,
rsync, config management all notice rewrites), and a crash must never leave a
half-written routing file: each file is written to a temporary file in its own
directory and renamed over the old one.

Files this run no longer produces are removed only when they are provably ours: a
manifest (`.netcfg-render.json`) records every file written with its format and
machine; a file listed there, inside the formats and machines this run covers, and not
rendered again is stale. Anything else in the directory is never touched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from netcfg import limits
from netcfg.errors import InputError, Location, Problem
from netcfg.files import contained, write_atomic
from netcfg.words import plural

MANIFEST = ".netcfg-render.json"


@dataclass(frozen=True, slots=True)
class WriteReport:
    written: int
    unchanged: int
    removed: int

    def __str__(self) -> str:
        text = f"{plural(self.written, 'file')} written, {self.unchanged} unchanged"
        return text + (f", {self.removed} removed" if self.removed else "")


def _inside(relative: str) -> bool:
    """A manifest path that stays inside the output directory."""
    pure = PurePosixPath(relative)
    return bool(relative) and not pure.is_absolute() and ".." not in pure.parts


class OutputDir:
    """One render run's writes into `root`; `finish()` removes stale files it owns."""

    def __init__(self, root: Path):
        self.root = root
        self.real_root = os.path.realpath(root)
        self.safe_dirs: set[str] = set()  # directories checked to be real ones inside root
        self.previous = self._read_manifest()
        self.current: dict[str, dict[str, str]] = {}
        self.written = 0
        self.unchanged = 0

    def _read_manifest(self) -> dict[str, dict[str, str]]:
        path = self.root / MANIFEST
        if self.root.exists() and not self.root.is_dir():
            raise InputError([Problem(Location(str(self.root)), "--out is not a directory")])
        try:
            if not path.exists():
                return {}
            # Only a regular file of a sane size: a FIFO there would block the read.
            if path.is_symlink() or not path.is_file() or path.stat().st_size > limits.JSON_FILE_BYTES:
                raise ValueError("not a manifest netcfg wrote")
            data = json.loads(path.read_text(encoding="utf-8"))
            files = data["files"]
            return {k: {"format": str(v["format"]), "host": str(v["host"])} for k, v in files.items() if _inside(k)}
        except FileNotFoundError:
            return {}
        except OSError as error:  # a parent that is a file, no permission
            raise InputError(
                [Problem(Location(str(self.root)), f"cannot use --out: {error.strerror or error}")]
            ) from None
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError, UnicodeDecodeError):
            # A damaged manifest: forget it rather than guess which files are ours.
            return {}

    def write(self, relative: str, text: str, fmt: str, host: str, mode: int = 0o644) -> bool:
        """Write one file if its content changed; True when it was (re)written."""
        path = self._target(relative)
        data = text.encode("utf-8")
        self.current[relative] = {"format": fmt, "host": host}
        try:
            st = path.stat()
            # Size and mode first: a changed length needs no read to know it changed.
            same = st.st_size == len(data) and (st.st_mode & 0o777) == mode and path.read_bytes() == data
        except (FileNotFoundError, NotADirectoryError):
            same = False
        if same:
            self.unchanged += 1
            return False
        write_atomic(path, data, mode)
        self.written += 1
        return True

    def _target(self, relative: str) -> Path:
        """`root/relative`, refused unless it stays inside root (files.contained): a link
        planted in --out must not make netcfg write or delete anything outside it."""
        return contained(self.root, relative, self.safe_dirs)

    def finish(self, covered: Callable[[str, str], bool]) -> WriteReport:
        """Remove files of covered (format, host) pairs not written again; save manifest."""
        removed = 0
        manifest = dict(self.current)
        for relative, entry in self.previous.items():
            if relative in self.current:
                continue
            if not covered(entry["format"], entry["host"]):
                manifest[relative] = entry  # outside this run: still ours, kept
                continue
            try:
                path = self._target(relative)
            except InputError:
                continue  # behind a link now: not ours to delete, wherever it leads
            if path.is_file():
                path.unlink()
                removed += 1
                self._prune(path.parent)
        text = json.dumps({"version": 1, "files": manifest}, sort_keys=True, indent=1) + "\n"
        path = self.root / MANIFEST
        try:
            old = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            old = None
        if old != text:
            write_atomic(self._target(MANIFEST), text.encode("utf-8"))
        return WriteReport(self.written, self.unchanged, removed)

    def abort(self) -> None:
        """After a failed run: list the files written so far with the earlier ones in
        the manifest (nothing is removed), if any was written."""
        if not self.written:
            return
        manifest = {**self.previous, **self.current}
        text = json.dumps({"version": 1, "files": manifest}, sort_keys=True, indent=1) + "\n"
        write_atomic(self._target(MANIFEST), text.encode("utf-8"))

    def _prune(self, directory: Path) -> None:
        """Remove directories emptied by stale-file removal, up to the root (real
        directories inside it only)."""
        current = directory
        while str(current) in self.safe_dirs and os.path.realpath(current) != self.real_root:
            try:
                current.rmdir()
            except OSError:
                return  # not empty: someone else's files, or more of ours
            self.safe_dirs.discard(str(current))
            current = current.parent
