"""How long work says how far it got, without knowing who listens.

Library code calls `progress(stage, done, total)` at its checkpoints; the CLI passes a
progress bar on a terminal (netcfg/cli/progress.py), everything else the silent default.
A stage is a short phrase ("rendering 7,638 machines"); `total` None means the work has
no count, only a duration.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, stage: str, done: int = 0, total: int | None = None) -> None: ...


def silent(stage: str, done: int = 0, total: int | None = None) -> None:
    """The default listener: nobody is watching."""
