"""Writing rendered files under an output directory: atomically, only when changed.

Running `netcfg render` on every commit must leave unchanged files untouched (mtimes,
rsync, config management all notice rewrites), and a crash must never leave a
half-written routing file: each file is written to a temporary file in its own
directory and renamed over the old one. One temporary name serves a whole directory
(each rename consumes it), and each directory is created once. A run killed while
writing leaves its temporary file: the next run that writes in that directory removes it,
and the next run that completes removes every one left, with the directories a broken
run made and never filled (it finds the marker such a run leaves, RUNNING). The files a
broken run created are in its processes' journals (JOURNAL), which that next run reads
as part of the last manifest: stale ones go like any file of ours.

Beside the manifest (which stays the same bytes for the same input), a state file
(`.netcfg-render-state.json`) records each machine's input key (formats/inputs.py) and
each file's size, inode and ctime as written: a machine whose key is unchanged and
whose files are still exactly those is not rendered again, and nothing of it is read or
touched. The state also records the key of the whole run (formats/inputs.py run_key)
once it has finished: the same key again, with every file as written, is a run with
nothing to do, found without loading the inventory. Deleting the state file only costs
a full comparison next time.

Files this run no longer produces are removed only when they are provably ours: a
manifest (`.netcfg-render.json`) records every file written with its format and
machine; a file listed there, inside the formats and machines this run covers, and not
rendered again is stale. Anything else in the directory is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netcfg import limits
from netcfg.errors import InputError
from netcfg.files import cannot_write, contained, contained_path, link_refused, refuse_links_out, write_atomic
from netcfg.problems import Location, Problem
from netcfg.regular import regular_file_bytes
from netcfg.words import plural

MANIFEST = ".netcfg-render.json"
STATE = ".netcfg-render-state.json"
TEMPORARY = ".netcfg-render-{pid}.tmp"  # each process's one temporary name per directory
# There from a run's first write to its end: a run that finds it follows one that was
# killed or failed, and sweeps what that one may have left (see OutputDir._sweep).
RUNNING = ".netcfg-render-running"
# Each process's list of the files it creates that no manifest lists yet, a line each,
# written before the file: what a run killed before its manifest made is still provably
# ours to the next run.
JOURNAL = ".netcfg-render-{pid}.new"
_TEMPORARY = re.compile(r"\.netcfg-render-([0-9]+)\.tmp")
_JOURNAL = re.compile(r"\.netcfg-render-([0-9]+)\.new")


@dataclass(frozen=True, slots=True)
class WriteReport:
    written: int
    unchanged: int
    removed: int

    def __str__(self) -> str:
        text = f"{plural(self.written, 'file')} written, {self.unchanged} unchanged"
        return text + (f", {self.removed} removed" if self.removed else "")


Entry = dict[str, Any]  # {"format", "host"}, and "stamp": the file as written (_stamp)


@dataclass(frozen=True, slots=True)
class Written:
    """One process's part of a run: the files it wrote or kept, their machines' input
    keys, and its counts."""

    files: dict[str, Entry]
    inputs: dict[str, str]
    written: int
    unchanged: int


def _remove_stale_temporaries(directory: str) -> None:
    """Remove the temporary files of runs that were killed while writing here (their
    process no longer runs): their rename never came, and nothing else would remove
    them. Read through a descriptor that refuses a link, so only this very directory."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        for name in os.listdir(fd):
            found = _TEMPORARY.fullmatch(name)
            if found and not _running(int(found[1])):
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's, or not a pid at all: not ours to judge
    # A killed render's workers linger as zombies until reaped: they write nothing more.
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            return stat_file.read().rpartition(b")")[2].split()[:1] != [b"Z"]
    except OSError:
        return True


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    """What changes whenever a file's bytes or mode do: ctime cannot be set back."""
    return st.st_size, st.st_ino, st.st_ctime_ns


def _manifest_text(files: dict[str, Entry]) -> str:
    listed = {k: {"format": v["format"], "host": v["host"]} for k, v in files.items()}
    # Compact: with an indent json.dumps leaves its C encoder (1 s for 57,000 files).
    return json.dumps({"version": 1, "files": listed}, sort_keys=True, separators=(",", ":")) + "\n"


def _state_text(files: dict[str, Entry], inputs: dict[str, str], run: str | None = None) -> str:
    stamps = {k: list(v["stamp"]) for k, v in files.items() if "stamp" in v}
    state = {"version": 1, "inputs": inputs, "files": stamps, "run": run}
    return json.dumps(state, sort_keys=True, separators=(",", ":"))


def _inside(relative: str) -> bool:
    """A manifest path that stays inside the output directory."""
    return bool(relative) and not relative.startswith("/") and ".." not in relative.split("/")


class OutputDir:
    """One render run's writes into `root`; `finish()` removes stale files it owns."""

    def __init__(self, root: Path, run: str | None = None):
        refuse_links_out(root, itself=True)
        self.root = root
        self.run = run  # this run's key (formats/inputs.py run_key), recorded when it ends
        self.root_text = str(root)
        self.real_root = os.path.realpath(root)
        self.safe_dirs: set[str] = set()  # directories checked to be real ones inside root
        self.previous, self.previous_inputs, self.previous_run = self._read_manifest()
        self.current: dict[str, Entry] = {}
        self.inputs: dict[str, str] = {}
        self.written = 0
        self.unchanged = 0
        self._previous_by_host: dict[str, list[str]] | None = None
        self._made: set[str] = set()  # directories known to exist
        self._fresh: set[str] = set()  # directories this run created
        self._umask = _umask()
        self._marked = False  # this process left RUNNING
        self._journal: tuple[int, int] | None = None  # (pid, descriptor) of this process's JOURNAL
        self.after_broken_run = os.path.lexists(os.path.join(self.root_text, RUNNING))
        if self.after_broken_run:
            self._adopt_journals()

    def _read_manifest(self) -> tuple[dict[str, Entry], dict[str, str], str | None]:
        if self.root.exists() and not self.root.is_dir():
            raise InputError([Problem(Location(str(self.root)), "--out is not a directory")])
        data = self._read_json(MANIFEST)
        try:
            files: dict[str, Entry] = {
                k: {"format": str(v["format"]), "host": str(v["host"])} for k, v in data["files"].items()
            }
        except (KeyError, TypeError, AttributeError):
            # A damaged manifest: forget it rather than guess which files are ours.
            return {}, {}, None
        files = {k: v for k, v in files.items() if _inside(k)}
        state = self._read_json(STATE)
        try:
            inputs = {str(k): str(v) for k, v in state["inputs"].items()}
            if set(state["files"]) != set(files):
                # Not the manifest this state was written with (one edited or replaced):
                # nothing is skipped, and the run writes both again.
                return files, {}, None
            for relative, stamp in state["files"].items():
                if relative in files and isinstance(stamp, list) and all(isinstance(n, int) for n in stamp):
                    files[relative]["stamp"] = tuple(stamp)
        except (KeyError, TypeError, AttributeError):
            return files, {}, None
        run = state.get("run")
        return files, inputs, run if isinstance(run, str) else None

    def unchanged_run(self, covered: Callable[[str, str], bool]) -> WriteReport | None:
        """The report of this run without rendering, when the last run had the same key
        and finished, and every file it listed is still exactly as written; else None.
        Its files are those of the (format, host) pairs it `covered`, as a full run counts."""
        if self.run is None or self.run != self.previous_run or self.after_broken_run:
            return None  # (after a broken run, the long way sweeps what it left)
        if not self._as_written(self.previous):
            return None
        return WriteReport(0, sum(covered(e["format"], e["host"]) for e in self.previous.values()), 0)

    def _as_written(self, files: Iterable[str]) -> bool:
        """Whether each of our `files` is still the one the last run wrote (its stamp)."""
        for relative in files:
            try:
                # A link planted in place of the file has another inode: not as written.
                st = os.lstat(contained_path(self.root_text, relative, self.safe_dirs, file_too=False))
            except (OSError, InputError):
                return False
            if _stamp(st) != self.previous[relative].get("stamp"):
                return False
        return True

    def _read_json(self, name: str) -> Any:
        """One of our own JSON files in the output directory; {} if missing or damaged."""
        path = self.root / name
        try:
            if not path.exists():
                return {}
            # Only a regular file of a sane size: a FIFO there would block the read.
            if path.is_symlink() or not path.is_file() or path.stat().st_size > limits.JSON_FILE_BYTES:
                return {}
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except OSError as error:  # a parent that is a file, no permission
            raise InputError(
                [Problem(Location(str(self.root)), f"cannot use --out: {error.strerror or error}")]
            ) from None
        except (ValueError, RecursionError, UnicodeDecodeError):
            return {}

    def reuse(self, host: str, key: str) -> bool:
        """Keep `host`'s files of the last run as they are, without rendering them, if
        its inputs then had the same `key` and each file is still the one written."""
        if self.previous_inputs.get(host) != key:
            return False
        if self._previous_by_host is None:
            self._previous_by_host = {}
            for relative, entry in self.previous.items():
                self._previous_by_host.setdefault(entry["host"], []).append(relative)
        files = self._previous_by_host.get(host, [])
        if not self._as_written(files):
            return False
        for relative in files:
            self.current[relative] = self.previous[relative]
        self.inputs[host] = key
        self.unchanged += len(files)
        return True

    def record(self, host: str, key: str) -> None:
        """`host`'s files of this run are written: remember the inputs they came from."""
        self.inputs[host] = key

    def write(self, relative: str, text: str, fmt: str, host: str, mode: int = 0o644) -> bool:
        """Write one file if its content changed; True when it was (re)written."""
        path = contained_path(self.root_text, relative, self.safe_dirs, file_too=False)
        data = text.encode("utf-8")
        same = False
        # In a directory this run made there is nothing yet: no need to look.
        if os.path.dirname(path) not in self._fresh:
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                pass
            else:
                if stat.S_ISLNK(st.st_mode):
                    raise link_refused(path)
                # Size and mode first: a changed length needs no read to know it changed.
                same = (
                    stat.S_ISREG(st.st_mode)
                    and st.st_size == len(data)
                    and stat.S_IMODE(st.st_mode) == mode
                    and Path(path).read_bytes() == data
                )
        if same:
            self.unchanged += 1
        else:
            if relative not in self.previous:
                self._note_new(relative, fmt, host)
            st = self._replace(path, data, mode)
            self.written += 1
        self.current[relative] = {"format": fmt, "host": host, "stamp": _stamp(st)}
        return not same

    def _replace(self, path: str, data: bytes, mode: int) -> os.stat_result:
        """Write `data` to the directory's temporary name and rename it over `path`."""
        self._mark_running()
        directory = os.path.dirname(path)
        # Per process: the workers of a parallel render write beside each other.
        temp = os.path.join(directory, TEMPORARY.format(pid=os.getpid()))
        try:
            self._make_directory(directory)
            try:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
            except FileExistsError:  # left by a killed run that had this pid
                os.unlink(temp)
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if mode & self._umask:  # else open() gave the file exactly `mode`
                    os.fchmod(fd, mode)
            finally:
                os.close(fd)
            os.replace(temp, path)
            st = os.lstat(path)  # after the rename, which changes the ctime
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            if isinstance(error, OSError):
                raise cannot_write(Path(path), error) from None
            raise
        return st

    def _make_directory(self, directory: str) -> None:
        """Create `directory` and its missing parents once per run, remembering the ones
        this run made (they hold nothing but what it writes)."""
        if directory in self._made:
            return
        try:
            os.mkdir(directory)
            self._fresh.add(directory)
        except FileExistsError:  # there already (a file there fails at the open)
            _remove_stale_temporaries(directory)
        except FileNotFoundError:
            self._make_directory(os.path.dirname(directory))
            os.mkdir(directory)
            self._fresh.add(directory)
        self._made.add(directory)

    def prepare(self, name: str) -> None:
        """Create the top directory `name` now, before the workers of a parallel render
        fork: each of them then knows it for one this run made."""
        self._make_directory(contained_path(self.root_text, name, self.safe_dirs, file_too=False))

    def state(self) -> Written:
        """What this process wrote and kept so far (a worker's part of the run)."""
        return Written(self.current, self.inputs, self.written, self.unchanged)

    def take(self, part: Written) -> None:
        """A worker's part of the run, as if written here."""
        self.current.update(part.files)
        self.inputs.update(part.inputs)
        self.written += part.written
        self.unchanged += part.unchanged

    def _target(self, relative: str) -> Path:
        """`root/relative`, refused unless it stays inside root (files.contained): a link
        planted in --out must not make netcfg write or delete anything outside it."""
        return contained(self.root, relative, self.safe_dirs)

    def finish(self, covered: Callable[[str, str], bool], covered_host: Callable[[str], bool]) -> WriteReport:
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
        inputs = {host: key for host, key in self.previous_inputs.items() if not covered_host(host)}
        inputs.update(self.inputs)
        # A no-op run leaves both files as they are without encoding them again.
        same = manifest == self.previous and inputs == self.previous_inputs and self.run == self.previous_run
        if self.written or removed or not same:
            self._save(MANIFEST, _manifest_text(manifest))
            self._save(STATE, _state_text(manifest, inputs, self.run))
        if self.after_broken_run:
            self._sweep({relative.split("/", 1)[0] for relative in manifest})
        self._drop_journals()  # the manifest lists what they did
        with contextlib.suppress(FileNotFoundError):  # left by this run, or one of its workers
            os.unlink(os.path.join(self.root_text, RUNNING))
        return WriteReport(self.written, self.unchanged, removed)

    def _mark_running(self) -> None:
        if self._marked:
            return
        marker = os.path.join(self.root_text, RUNNING)
        try:
            os.makedirs(self.root_text, exist_ok=True)
            os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644))
        except OSError as error:
            raise cannot_write(Path(marker), error) from None
        self._marked = True

    def _note_new(self, relative: str, fmt: str, host: str) -> None:
        """Add a file this process is about to create to its journal (JOURNAL)."""
        if self._journal is None or self._journal[0] != os.getpid():  # a worker: its own
            self._mark_running()
            name = os.path.join(self.root_text, JOURNAL.format(pid=os.getpid()))
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                self._journal = os.getpid(), os.open(name, flags, 0o644)
            except OSError as error:
                raise cannot_write(Path(name), error) from None
        os.write(self._journal[1], f"{fmt}\t{host}\t{relative}\n".encode())

    def _journals(self) -> list[tuple[str, int]]:
        """The journals in the output directory, with their processes' ids."""
        try:
            names = os.listdir(self.root_text)
        except OSError:
            return []
        return [(name, int(found[1])) for name in names if (found := _JOURNAL.fullmatch(name))]

    def _adopt_journals(self) -> None:
        """The files the journals of ended runs list, as if the last manifest had (their
        stamps unknown: nothing of them is skipped)."""
        for name, pid in self._journals():
            if _running(pid):
                continue
            data = regular_file_bytes(os.path.join(self.root_text, name), limits.JSON_FILE_BYTES) or b""
            for line in data.decode("utf-8", errors="replace").splitlines():
                fmt, _, rest = line.partition("\t")
                host, _, relative = rest.partition("\t")
                if fmt and host and _inside(relative) and relative not in self.previous:
                    self.previous[relative] = {"format": fmt, "host": host}

    def _drop_journals(self) -> None:
        if self._journal is not None and self._journal[0] == os.getpid():
            os.close(self._journal[1])
            self._journal = None
        for name, pid in self._journals():
            if pid == os.getpid() or not _running(pid):  # this run's workers have ended
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.root_text, name))

    def _sweep(self, tops: set[str]) -> None:
        """After a run that was killed or failed: remove the temporary files it left
        (their process gone) and the directories it made in our format directories and
        never filled. Real directories only (a link is not followed); nothing else of
        anyone's is touched."""
        for top in sorted(tops):
            start = os.path.join(self.root_text, top)
            if os.path.islink(start) or not os.path.isdir(start):
                continue
            for directory, _, _ in os.walk(start, topdown=False):
                _remove_stale_temporaries(directory)
                if directory != start:
                    with contextlib.suppress(OSError):  # not empty: kept
                        os.rmdir(directory)

    def _save(self, name: str, text: str) -> None:
        """Replace one of our files, only if its content changed."""
        # Missing, damaged, or not a regular file (a FIFO must not block the run): replaced.
        old = regular_file_bytes(str(self.root / name), limits.JSON_FILE_BYTES)
        if old != text.encode("utf-8"):
            write_atomic(self._target(name), text.encode("utf-8"))

    def abort(self) -> None:
        """After a failed run: list the files written so far with the earlier ones in
        the manifest (nothing is removed), if any was written."""
        if not self.written:
            return
        self._save(MANIFEST, _manifest_text({**self.previous, **self.current}))
        # No inputs: what was written is kept, but nothing is skipped next time.
        self._save(STATE, _state_text({}, {}))

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
