"""The rollout journal: every start and end of a step, one JSON object per line, each
written and fsynced before the executor goes on, so after a crash the journal knows at
least what happened (a step is journaled as started before it is started).

    {"event": "run", "run": 1, "journal": "netcfg rollout", "version": 1, "plan": "plan.json",
     "plan_sha256": "…", "driver": "command", "resume": false, "wall": "…", "t": 0.0}
    {"event": "start", "run": 1, "id": "migrate-0", "kind": "migration", "ok": null,
     "detail": "", "wall": "2025-…T…Z", "t": 0.013}
    {"event": "end", "run": 1, "id": "migrate-0", "kind": "migration", "ok": true,
     "detail": "", "wall": "…", "t": 41.2}

`wall` is UTC (ISO 8601, microseconds); `t` is seconds since the run's own `run` line on
the monotonic clock, comparable within one run. A `run` line opens every run, the first
one and each --resume; the first one's `plan_sha256` is what every resume must match.
One executor at a time: the journal is locked while a run holds it.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netcfg.errors import InputError, quote
from netcfg.execute.leftovers import journal_identity
from netcfg.problems import Location, Problem

FORMAT = "netcfg rollout"
VERSION = 1


def wall_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_wall(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True, slots=True)
class Earlier:
    """What earlier runs left of one step."""

    ok: bool  # ended OK: never run again
    ended: bool
    detail: str
    actual_s: float | None  # start to end, when it ended
    ended_at: float | None = None  # when it ended (a Unix time), if the journal says


@dataclass(frozen=True, slots=True)
class JournalState:
    runs: int
    steps: dict[str, Earlier]  # every step the journal names, by id


class Journal:
    """An open, locked journal; `append` writes and fsyncs one line."""

    def __init__(self, path: Path, *, resume: bool):
        self.path = path
        where = Location(str(path))
        # O_NOFOLLOW: a link where the journal goes (one committed beside the plan) is not
        # written through to a file elsewhere.
        flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW | (0 if resume else os.O_CREAT)
        try:
            self._fd = os.open(path, flags, 0o644)
        except FileNotFoundError:
            if resume:
                raise InputError([Problem(where, "no journal to resume", "run without --resume to start")]) from None
            raise InputError([Problem(where, "cannot create the journal: its directory does not exist")]) from None
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise InputError(
                    [Problem(where, "the journal is a symbolic link: netcfg does not write through it")]
                ) from None
            raise InputError([Problem(where, f"cannot open the journal: {error.strerror or error}")]) from None
        if not stat.S_ISREG(os.fstat(self._fd).st_mode):
            # /dev/null or a FIFO cannot be synced, nor read back by --resume.
            os.close(self._fd)
            raise InputError([Problem(where, "the journal must be a regular file")])
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            raise InputError([Problem(where, "another `netcfg rollout run` is using this journal")]) from None
        self._t0 = time.monotonic()
        self.run = 0

    @property
    def identity(self) -> str:
        """The journal file's identity (device and inode), marking the processes of its runs."""
        return journal_identity(self._fd)

    def read(self) -> bytes:
        size = os.fstat(self._fd).st_size
        return os.pread(self._fd, size, 0) if size else b""

    def drop_torn_tail(self, data: bytes) -> None:
        """A crash in the middle of a write leaves a line without its newline: it was
        never a record, and the next line must not be glued to it."""
        if data and not data.endswith(b"\n"):
            os.ftruncate(self._fd, data.rfind(b"\n") + 1)

    def begin(self, run: int, plan: str, digest: str, driver: str, resume: bool) -> None:
        self.run = run
        self._t0 = time.monotonic()
        if run == 1:
            self._sync_directory()
        self._write(
            {
                "event": "run",
                "run": run,
                "journal": FORMAT,
                "version": VERSION,
                "plan": plan,
                "plan_sha256": digest,
                "driver": driver,
                "resume": resume,
                "wall": wall_now(),
                "t": 0.0,
            }
        )

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def append(self, event: str, step_id: str, kind: str, ok: bool | None = None, detail: str = "") -> float:
        """Write one start or end; returns its offset `t`."""
        t = self.elapsed()
        self._write(
            {
                "event": event,
                "run": self.run,
                "id": step_id,
                "kind": kind,
                "ok": ok,
                "detail": detail,
                "wall": wall_now(),
                "t": round(t, 6),
            }
        )
        return t

    def _write(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        view = memoryview(line)
        while view:
            view = view[os.write(self._fd, view) :]
        os.fdatasync(self._fd)  # the line and the file's new size; not its times

    def _sync_directory(self) -> None:
        # The journal's own name must survive a power cut, not only its lines.
        try:
            fd = os.open(self.path.parent if str(self.path.parent) else ".", os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def close(self) -> None:
        os.close(self._fd)  # closing releases the lock


def read_state(data: bytes, source: str, digest: str, ids: set[str]) -> JournalState:
    """What the journal says of earlier runs; InputError when it is not a journal, when it
    was written for another plan (both digests shown), or names steps the plan lacks."""
    where = Location(source)
    lines = data.split(b"\n")
    torn = lines.pop()  # b"", or a line torn by a crash mid-write (see Journal.drop_torn_tail)
    if not lines:
        what = "holds only a line cut short" if torn else "is empty"
        raise InputError([Problem(where, f"the journal {what}: nothing to resume", "run without --resume to start")])
    records: list[dict[str, Any]] = []
    for n, raw in enumerate(lines, 1):
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            record = None
        if not isinstance(record, dict) or record.get("event") not in ("run", "start", "end"):
            raise InputError([Problem(Location(source, n, 1), "not a journal line")])
        records.append(record)
    header = records[0]
    if header["event"] != "run" or header.get("journal") != FORMAT or header.get("version") != VERSION:
        raise InputError([Problem(Location(source, 1, 1), "not a netcfg rollout journal (version 1)")])
    if header.get("plan_sha256") != digest:
        raise InputError(
            [
                Problem(
                    where,
                    f"the journal is of another plan: journal plan sha256 {quote(header.get('plan_sha256'), 64)}, "
                    f"this plan's {digest}",
                    "resume with the plan the journal was written for, or start a new journal",
                )
            ]
        )
    # After the plan's digest: a journal of another plan names other steps, and says so.
    for n, record in enumerate(records, 1):
        if record["event"] != "run" and record.get("id") not in ids:
            raise InputError([Problem(Location(source, n, 1), f"step {quote(record.get('id'))} is not in the plan")])
    runs = 0
    started: dict[str, dict[str, Any]] = {}
    steps: dict[str, Earlier] = {}
    for record in records:
        if record["event"] == "run":
            runs += 1
        elif record["event"] == "start":
            started[record["id"]] = record
            steps[record["id"]] = Earlier(ok=False, ended=False, detail="", actual_s=None)
        else:
            begun = started.get(record["id"])
            steps[record["id"]] = Earlier(
                ok=record.get("ok") is True,
                ended=True,
                detail=str(record.get("detail", "")),
                actual_s=_duration(begun, record),
                ended_at=_wall(record),
            )
    return JournalState(runs, steps)


def _wall(record: dict[str, Any]) -> float | None:
    try:
        return parse_wall(str(record["wall"]))
    except (KeyError, ValueError, OverflowError):
        return None


def _duration(start: dict[str, Any] | None, end: dict[str, Any]) -> float | None:
    if start is None:
        return None
    try:
        if start.get("run") == end.get("run"):
            return max(0.0, float(end["t"]) - float(start["t"]))
        return max(0.0, parse_wall(str(end["wall"])) - parse_wall(str(start["wall"])))
    except (KeyError, TypeError, ValueError):
        return None
