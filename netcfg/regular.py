"""Reading a file only if it is a regular one, without waiting: a FIFO planted where
netcfg reads its own records (the settled apply's, render's state and manifest) or a
rendered file must not hold a run up. Apart from files.py, so that a no-op apply loads
nothing more than this."""

from __future__ import annotations

import os
import stat


def regular_file_bytes(path: str, limit: int) -> bytes | None:
    """The bytes of a regular file of at most `limit` bytes; None for anything else. A
    FIFO must not hold a run up (O_NONBLOCK), and what is read from one or from a device
    could not be read again."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            # Not even opened: opening a FIFO releases its writer, whose bytes would then
            # be lost with the descriptor, and the caller's own read would wait forever.
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(limit + 1) if stat.S_ISREG(os.fstat(fd).st_mode) else None
    except OSError:
        return None
    return data if data is not None and len(data) <= limit else None
