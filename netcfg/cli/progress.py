"""Progress bars on stderr for a person at a terminal (rich); silence otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from netcfg.cli import console, settings
from netcfg.cli.console import show_progress
from netcfg.model.host import DesignName
from netcfg.progress import Progress as Listener
from netcfg.progress import silent

if TYPE_CHECKING:
    from netcfg.impact.model import Impact


@contextmanager
def progress_bar() -> Iterator[Listener]:
    """A listener drawing one line per stage (a bar when the stage has a count), gone
    when the work ends; the silent listener when stderr is not a terminal, in CI, or
    with --quiet."""
    if not show_progress():
        yield silent
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console.err, transient=True) as bars:
        current: dict[str, TaskID] = {}

        def listen(stage: str, done: int = 0, total: int | None = None) -> None:
            if stage not in current:
                for task in current.values():  # the earlier stage is over
                    bars.update(task, visible=False)
                current[stage] = bars.add_task(stage, total=total, completed=done)
                bars.refresh()  # drawn at once: a stage may end before the next tick
            else:
                bars.update(current[stage], completed=done, total=total)

        yield listen


def analyse_showing_progress(base: str, head: str | None, design: DesignName | None, inventory: str) -> Impact:
    """The impact of a change with its progress drawn: what check, diff and impact run."""
    from netcfg.impact.analysis import analyse, unchanged

    same = unchanged(base, head, design=design, inventory_dir=inventory)
    if same is not None:
        return same
    with progress_bar() as progress:
        return analyse(
            base, head, design=design, inventory_dir=inventory, jobs=settings.jobs(), progress=progress
        ).impact
