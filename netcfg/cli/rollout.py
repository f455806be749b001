"""`netcfg rollout run`: execute a plan's step graph through a driver, journaled."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from netcfg.cli import settings
from netcfg.cli.app import app
from netcfg.cli.console import complain, err, say, show_json, show_lines, show_progress
from netcfg.cli.options import OutputFormat, format_option
from netcfg.errors import InputError, printable, quote
from netcfg.problems import Location, Problem
from netcfg.words import plural

if TYPE_CHECKING:
    from netcfg.execute.driver import Step, StepKind
    from netcfg.execute.executor import Outcome, State
    from netcfg.execute.graph import StepGraph

rollout_app = typer.Typer(
    help="Execute a rollout plan: each step when the steps it waits for have ended.", no_args_is_help=True
)
app.add_typer(rollout_app, name="rollout", rich_help_panel="Rollout")

EXIT_FAILED = 5
EXIT_INTERRUPTED = 130
CHECK_RUNS = 20  # jittered replays before a run: a graph that breaks an invariant rarely passes them all
CHECK_JITTER = (0.3, 3.0)


def default_journal(plan_file: Path) -> Path:
    """PLAN.journal beside the plan (plan.json -> plan.json.journal)."""
    return plan_file.with_name(plan_file.name + ".journal")


@rollout_app.command("run")
def rollout_run(
    plan_file: Path = typer.Argument(..., metavar="PLAN", hidden=True),
    driver_name: str = typer.Option(
        ..., "--driver", metavar="qemu|libvirt|command", help="What does the steps' work (see above)."
    ),
    run: list[str] = typer.Option(
        [],
        "--run",
        metavar="KIND=TEMPLATE",
        help="The argv a step of KIND (hot, migration, maintenance) runs; repeatable. Split like a shell "
        "would, never run by one; {id} {host} {hosts} {vm} {from} {to} are filled in per word.",
    ),
    journal_file: Path | None = typer.Option(
        None, "--journal", metavar="FILE", help="The journal (JSON lines) [default: PLAN.journal beside the plan]."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the journal's run: finished steps stay done, started ones are rechecked."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the order steps would run in and what each runs; touch nothing."
    ),
    fmt: OutputFormat = format_option(OutputFormat.TEXT, OutputFormat.JSON),
    connect: str | None = typer.Option(
        None, "--connect", metavar="TEMPLATE", help="libvirt: a host's URI [default: qemu+ssh://{host}/system]."
    ),
    dest_uri: str | None = typer.Option(
        None,
        "--dest-uri",
        metavar="TEMPLATE",
        help="libvirt: the target's URI for virsh migrate [default: --connect's].",
    ),
    migrate_options: list[str] = typer.Option(
        [], "--migrate-option", metavar="OPTS", help="libvirt: more virsh migrate options ('--persistent'); repeatable."
    ),
    lab: str | None = typer.Option(None, "--lab", metavar="NAME", help="qemu: the VM lab to run in."),
    jitter: str | None = typer.Option(
        None, "--jitter", metavar="LO:HI", help="qemu: scale each migration's bandwidth by a random factor in [LO, HI]."
    ),
    inventory: Path | None = typer.Option(
        None,
        "--inventory",
        "-i",
        metavar="PATH",
        help="Check the plan against this inventory before anything starts (as netcfg simulate does, its times "
        f"and {CHECK_RUNS} jittered replays of its graph): a violation is exit 3, nothing started.",
    ),
) -> None:
    """Run a plan (netcfg plan --json): each step starts when every step it waits for
    (`after`) has ended OK, never beyond the plan's `limits`. Every start and end goes to
    the journal, fsynced; --resume never repeats a step that ended OK and rechecks the
    ones that were running (libvirt: is the VM already on its target?). The first failed
    step stops all new starts, what runs finishes: exit 5 with a summary. Ctrl-C or
    SIGTERM: no new starts, wait for what runs (exit 130); a second Ctrl-C cancels the
    running migrations, a third stops waiting. With --inventory the plan is first checked
    against it (netcfg simulate, exact and jittered): a violation is exit 3.

    Drivers: `command` runs --run templates (ssh, Ansible, a site's tool: a step succeeds
    when its process exits 0); `libvirt` runs `virsh -c URI migrate --live` for
    migrations and --run templates for maintenance and hot waves; `qemu` drives the
    VM lab (netcfg vmlab).

    PLAN: a plan JSON file whose steps carry `id` and `after`."""
    from netcfg.execute.drivers import DriverOptions, driver_entry
    from netcfg.execute.graph import levels, read_graph
    from netcfg.files import json_value, positions_in, read_bytes

    data = read_bytes(plan_file, "plan")  # once: a pipe cannot be read again for its digest
    digest = hashlib.sha256(data).hexdigest()
    plan = json_value(data, plan_file, "plan")
    with positions_in(plan_file, data):
        graph = read_graph(plan, str(plan_file))
        if inventory is not None:
            _check_against(plan, plan_file, inventory)
    _say_what_the_plan_left(graph)
    options = DriverOptions(
        run=_templates(run),
        kinds=frozenset(s.kind for s in graph.steps),
        connect=connect,
        dest_uri=dest_uri,
        migrate_options=tuple(word for text in migrate_options for word in _split(text)),
        lab=lab,
        jitter=_jitter(jitter) if jitter is not None else None,
    )
    entry = driver_entry(driver_name)
    journal_path = journal_file or default_journal(plan_file)
    driver = entry.factory(options)
    check_plan = getattr(driver, "check_plan", None)
    if check_plan is not None:
        check_plan(graph.steps)  # what the driver cannot run, refused before anything starts
    check_tools = getattr(driver, "check_tools", None)
    if check_tools is not None and not dry_run:
        check_tools(graph.steps)  # a preview needs none of them
    if dry_run:
        done: set[str] = set()
        if resume:
            done = _done_in_journal(journal_path, digest, {s.id for s in graph.steps})
        from netcfg.present.execution import dry_run_lines

        show_lines(dry_run_lines(levels(graph.steps), getattr(driver, "preview", None), done))
        say("dry run: nothing was started, no journal written")
        return
    outcome = _execute(graph, driver, driver_name, plan_file, digest, journal_path, resume)
    _report(outcome, fmt)
    if outcome.failed or outcome.stuck:
        raise typer.Exit(EXIT_FAILED)
    if not outcome.complete:
        raise typer.Exit(EXIT_INTERRUPTED)


def _check_against(plan: object, plan_file: Path, inventory: Path) -> None:
    """Refuse (exit 3) a plan that breaks an invariant of the rollout on `inventory`: in
    its own times, or in a replay of its graph with durations off by 0.3-3x."""
    from netcfg.cli.options import load
    from netcfg.present.rollout import jitter_lines, simulation_lines
    from netcfg.rollout.jitter import simulate_jittered, simulate_plan

    if not isinstance(plan, dict):
        raise InputError([Problem(Location(str(plan_file)), "not a plan file: expected a JSON object")])
    inv = load(inventory)
    exact = simulate_plan(plan, inv, source=str(plan_file), jobs=settings.jobs())
    lines = [] if exact.clean else simulation_lines(exact)
    if exact.clean:
        low, high = CHECK_JITTER
        jittered = simulate_jittered(plan, inv, low, high, CHECK_RUNS, 0, source=str(plan_file))
        lines = [] if jittered.clean else jitter_lines(jittered)
    if lines:
        # The violations and their count; not the peaks and makespans around them.
        shown = [line for line in lines if line.startswith("VIOLATION")][:20] + lines[-1:]
        for line in shown:
            complain(line)
        complain(
            f"netcfg rollout run: the plan breaks the rollout's invariants on {inventory}: nothing started (exit 3)"
        )
        raise typer.Exit(3)
    say(f"checked against {inventory}: clean in its own times and in {CHECK_RUNS} jittered replays of its graph")


def _say_what_the_plan_left(graph: StepGraph) -> None:
    """What `netcfg plan` recorded that the person running the plan must hear: the
    seatbelt blocked the change (the gate is CI's `check`; this run is the operator's
    call), or part of the change is left unscheduled."""
    if graph.blocked:
        say("warning: the seatbelt blocks this change until an approver approves it (netcfg check); running it anyway")
    left = graph.unscheduled
    if left:
        say(f"note: the plan leaves {plural(len(left), 'host')} of the change unscheduled: {', '.join(left[:10])}")


def _split(text: str) -> list[str]:
    import shlex

    try:
        return shlex.split(text)
    except ValueError as error:
        raise InputError([Problem(Location("--migrate-option"), f"cannot split {quote(text)}: {error}")]) from None


def _templates(values: list[str]) -> dict[StepKind, str]:
    from netcfg.execute.driver import StepKind

    found: dict[StepKind, str] = {}
    problems = []
    known = ", ".join(k.value for k in StepKind)
    for value in values:
        name, sep, template = value.partition("=")
        try:
            kind = StepKind(name)
        except ValueError:
            problems.append(Problem(Location("--run"), f"{quote(value)}: expected KIND=TEMPLATE", f"KIND: {known}"))
            continue
        if not sep:
            problems.append(Problem(Location("--run"), f"{quote(value)}: expected KIND=TEMPLATE", f"KIND: {known}"))
        elif kind in found:
            problems.append(Problem(Location(f"--run {name}"), "given twice"))
        else:
            found[kind] = template
    if problems:
        raise InputError(problems)
    return found


MAX_JITTER = 100.0  # a bandwidth factor beyond any link's headroom; QEMU takes 64-bit bytes/s


def _jitter(text: str) -> tuple[float, float]:
    low, sep, high = text.partition(":")
    try:
        lo, hi = float(low), float(high)
    except ValueError:
        lo = hi = -1.0
    if not sep or not (0 < lo <= hi <= MAX_JITTER):
        raise InputError(
            [Problem(Location("--jitter"), f"expected LO:HI with 0 < LO <= HI <= {MAX_JITTER:g}, not {quote(text)}")]
        )
    return lo, hi


def _done_in_journal(path: Path, digest: str, ids: set[str]) -> set[str]:
    from netcfg import limits
    from netcfg.execute.journal import read_state
    from netcfg.regular import regular_file_bytes

    if not path.exists():
        raise InputError([Problem(Location(str(path)), "no journal to resume", "run without --resume to start")])
    data = regular_file_bytes(str(path), limits.JSON_FILE_BYTES)
    if data is None:
        raise InputError([Problem(Location(str(path)), "cannot read the journal: not a regular file, or too large")])
    state = read_state(data, str(path), digest, ids)
    return {i for i, earlier in state.steps.items() if earlier.ok}


def _execute(
    graph: Any, driver: Any, driver_name: str, plan_file: Path, digest: str, journal_path: Path, resume: bool
) -> Outcome:
    from netcfg.execute.executor import run, stop_signals
    from netcfg.execute.journal import Journal, read_state
    from netcfg.execute.leftovers import marking, stop_leftovers

    running = False  # from then on the executor closes the driver
    try:
        journal = Journal(journal_path, resume=resume)
    except BaseException:
        driver.close()
        raise
    try:
        data = journal.read()
        earlier = None
        if resume:
            earlier = read_state(data, str(journal_path), digest, {s.id for s in graph.steps})
            journal.drop_torn_tail(data)
        elif data:
            raise InputError(
                [
                    Problem(
                        Location(str(journal_path)),
                        "the journal exists: a run was started with it",
                        "--resume to continue it, or --journal FILE for a new one",
                    )
                ]
            )
        if resume:
            left = stop_leftovers(journal.identity)
            if left:
                say(f"stopped {plural(left, 'process', 'processes')} the earlier run left running")
        journal.begin((earlier.runs if earlier else 0) + 1, str(plan_file), digest, driver_name, resume)
        say(f"journal: {journal_path}")
        with stop_signals() as stop, _watching(graph) as watcher, marking(journal.identity):
            running = True
            return run(graph, driver, journal, earlier, stop, watcher)
    except BaseException:
        if not running:
            driver.close()
        raise
    finally:
        journal.close()


class _Lines:
    """Plain lines on stderr, one per start, end and notice (stderr not a terminal;
    nothing with --quiet)."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def _say(self, text: str) -> None:
        say(f"[{time.monotonic() - self.t0:9.2f} s] {text}")

    def started(self, step: Step) -> None:
        from netcfg.present.execution import describe

        self._say(f"start  {printable(step.id)}: {describe(step)}")

    def ended(self, step: Step, state: State, detail: str, actual_s: float) -> None:
        from netcfg.present.execution import seconds

        note = f": {printable(detail)}" if detail else ""
        self._say(
            f"{state.value:<6} {printable(step.id)} in {seconds(actual_s)} "
            f"(planned {seconds(step.planned_duration_s)}){note}"
        )

    def notice(self, text: str) -> None:
        say(text)

    def tick(self, elapsed_s: float, running: Mapping[str, float]) -> None:
        pass


class _Live(_Lines):
    """On a terminal: the same lines scrolling, under them what runs now and the totals."""

    SHOWN = 12
    REFRESH_S = 0.25

    def __init__(self, graph: Any, live: Any):
        super().__init__()
        self.graph = graph
        self.by_id = graph.by_id()
        self.live = live
        self.counts: dict[str, int] = {}
        self.last = 0.0

    def _say(self, text: str) -> None:
        self.live.console.print(f"[{time.monotonic() - self.t0:9.2f} s] {text}", markup=False, highlight=False)

    def ended(self, step: Step, state: State, detail: str, actual_s: float) -> None:
        self.counts[state.value] = self.counts.get(state.value, 0) + 1
        super().ended(step, state, detail, actual_s)

    def notice(self, text: str) -> None:
        self.live.console.print(text, markup=False, highlight=False)

    def tick(self, elapsed_s: float, running: Mapping[str, float]) -> None:
        now = time.monotonic()
        if now - self.last < self.REFRESH_S:
            return
        self.last = now
        from rich.text import Text

        from netcfg.present.execution import describe, seconds

        finished = ", ".join(f"{n} {state}" for state, n in sorted(self.counts.items()))
        lines = [
            f"{len(self.graph.steps)} steps: {len(running)} running"
            + (f", {finished}" if finished else "")
            + f"; {seconds(elapsed_s)} of a planned {seconds(self.graph.planned_makespan_s)}"
        ]
        for step_id, started in sorted(running.items(), key=lambda item: item[1])[: self.SHOWN]:
            step = self.by_id[step_id]
            lines.append(
                f"  {printable(step_id)}  {describe(step)}  {seconds(elapsed_s - started)} "
                f"/ {seconds(step.planned_duration_s)}"
            )
        if len(running) > self.SHOWN:
            lines.append(f"  … {len(running) - self.SHOWN} more running")
        self.live.update(Text("\n".join(lines)), refresh=True)


class _watching:  # noqa: N801 - used as `with _watching(graph) as watcher:`
    """The progress view: live on a terminal, plain lines otherwise, nothing with --quiet."""

    def __init__(self, graph: Any):
        self.graph = graph
        self.live: Any = None

    def __enter__(self) -> _Lines:
        if show_progress():
            from rich.live import Live

            self.live = Live(console=err, auto_refresh=False, transient=True)
            self.live.start()
            return _Live(self.graph, self.live)
        return _Lines()

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()


def _report(outcome: Outcome, fmt: OutputFormat) -> None:
    from netcfg.present.execution import summary_dict, summary_lines

    if fmt is OutputFormat.JSON:
        show_json(summary_dict(outcome))
    else:
        show_lines(summary_lines(outcome))
    failed = [o for o in outcome.steps if o.state.value == "failed"]
    for o in failed:
        say(f"failed: {printable(o.step.id)}: {printable(o.detail)}")
    not_started = sum(1 for o in outcome.steps if o.state.value == "not_started")
    cancelled = sum(1 for o in outcome.steps if o.state.value == "cancelled")
    if outcome.stuck:
        say("stopped: the plan's limits hold back every step that may start, with nothing running (re-run netcfg plan)")
    if failed or not_started or cancelled:
        say(
            f"{len(failed)} failed, {cancelled} cancelled, {not_started} not started; "
            "`--resume` continues from the journal"
        )
