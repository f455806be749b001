"""Writing files so that nothing is ever half-written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from netcfg.errors import InputError, Location, Problem


def write_atomic(path: str | Path, data: str | bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` in one rename: readers (a CI step posting a summary,
    networkd) see the old file or the new one, never half of it. A path that cannot be
    written is the user's input problem (exit 2), named at the path."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise _cannot_write(path, error) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _cannot_write(path, error) from None
        raise


def _cannot_write(path: Path, error: OSError) -> InputError:
    return InputError([Problem(Location(str(path)), f"cannot write: {error.strerror or error}")])
