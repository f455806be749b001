"""Reading the JSON files commands take (plans, reports): a bad one is an input error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from netcfg.errors import InputError, Location, Problem


def read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError([Problem(Location(str(path)), f"cannot read the {what}: {error.strerror}")]) from None
    except json.JSONDecodeError as error:
        raise InputError(
            [Problem(Location(str(path), error.lineno, error.colno), f"the {what} is not JSON: {error.msg}")]
        ) from None
