"""The forked render+diff gives exactly the in-process result."""

from __future__ import annotations

import sys

import pytest

from netcfg import forked
from netcfg.cli import settings
from netcfg.designs import Renderer
from netcfg.impact import parallel
from netcfg.impact.analysis import analyse_inventories
from netcfg.inventory.load import load_inventory
from netcfg.model.host import Kind
from tests.impact.helpers import EXAMPLES


@pytest.mark.skipif(sys.platform != "linux", reason="the parallel path forks, Linux only")
def test_parallel_render_and_diff_equals_in_process(monkeypatch):
    base = load_inventory(EXAMPLES / "add-public-network" / "before")
    head = load_inventory(EXAMPLES / "add-public-network" / "after")
    alone = analyse_inventories(base, head, jobs=1)
    monkeypatch.setattr(parallel, "PARALLEL_MIN", 1)
    calls = []
    real = parallel._chunk
    monkeypatch.setattr(parallel, "_chunk", lambda *a: calls.append(len(a[4])) or real(*a))
    forked = analyse_inventories(base, head, jobs=3)
    assert forked.impact == alone.impact
    # The parent did one of three chunks itself; two ran in forked workers.
    assert calls == [5]  # 15 candidates (the dependents of the changes) in 3 chunks


@pytest.mark.parametrize("jobs", [1, 3])
def test_progress_counts_every_machine_once(monkeypatch, jobs):
    base = load_inventory(EXAMPLES / "add-public-network" / "before")
    head = load_inventory(EXAMPLES / "add-public-network" / "after")
    monkeypatch.setattr(parallel, "PARALLEL_MIN", 1)
    monkeypatch.setattr(parallel, "SLICE", 2)
    reports = []
    analyse_inventories(base, head, jobs=jobs, progress=lambda *report: reports.append(report))
    rendering = [r for r in reports if r[0].startswith("rendering and comparing")]
    assert rendering[0] == ("rendering and comparing 15 machines", 0, 15)
    assert rendering[-1] == ("rendering and comparing 15 machines", 15, 15)
    done = [r[1] for r in rendering]
    assert done == sorted(done) and len(done) > 3  # slices of two, in order


def test_slices_share_what_their_machines_have_in_common(monkeypatch):
    base = load_inventory(EXAMPLES / "add-public-network" / "before")
    head = load_inventory(EXAMPLES / "add-public-network" / "after")
    names = sorted(set(base.machines) | set(head.machines))
    at_once = parallel.render_and_diff(base, head, None, None, names)
    monkeypatch.setattr(parallel, "SLICE", 1)
    assert parallel.render_and_diff(base, head, None, None, names) == at_once
    # A segment's `to` rules are one tuple in every call of one Renderer, so the diff
    # compares them once for all slices.
    render = Renderer(head)
    fe = [m for m in head.machines.values() if m.kind is not Kind.ROUTER and m.interface("fe")]
    first, second = render([fe[0]])[fe[0].name], render([fe[1]])[fe[1].name]
    assert {id(p) for p in first.rules.parts} & {id(p) for p in second.rules.parts}


def test_a_worker_that_dies_is_an_internal_error_not_an_interruption(monkeypatch):
    import os
    import signal

    base = load_inventory(EXAMPLES / "add-public-network" / "before")
    head = load_inventory(EXAMPLES / "add-public-network" / "after")
    monkeypatch.setattr(parallel, "PARALLEL_MIN", 1)
    parent, real = os.getpid(), parallel._chunk

    def chunk_or_die(*args):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)  # what the OOM killer does
        return real(*args)

    monkeypatch.setattr(parallel, "_chunk", chunk_or_die)
    with pytest.raises(RuntimeError, match=r"impact worker \d+ died: killed by signal SIGKILL"):
        analyse_inventories(base, head, jobs=2)


def test_jobs_setting(monkeypatch):
    monkeypatch.setenv("NETCFG_JOBS", "1")
    assert settings.jobs() == 1
    monkeypatch.setenv("NETCFG_JOBS", "nonsense")
    assert 1 <= settings.jobs() <= forked.MAX_JOBS
