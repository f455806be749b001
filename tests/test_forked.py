"""forked.run_split and beside: results in chunk order, errors carried over, and no worker outliving
its caller."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from netcfg.errors import InputError
from netcfg.forked import beside, run_split

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="run_split forks, Linux only")
ROOT = Path(__file__).resolve().parents[1]


def test_results_come_back_in_chunk_order_with_every_item_counted():
    done = []
    results = run_split(lambda chunk, advance: advance(len(chunk)) or list(chunk), range(10), 3, done.append, "test")
    assert results == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert sum(done) == 10


def test_beside_runs_the_second_in_a_worker_and_returns_both():
    parent = os.getpid()

    def no_graph():
        raise InputError("no graph")

    here, there = beside(lambda: ("here", os.getpid()), lambda: ("there", os.getpid()), "test")
    assert here == ("here", parent)
    assert there[0] == "there" and there[1] != parent
    with pytest.raises(InputError, match="no graph"):
        beside(lambda: 1, no_graph, "test")


@pytest.mark.parametrize(
    ("error", "raised", "message"),
    [
        (InputError("bad template"), InputError, "bad template"),  # netcfg's own: as it was
        (ValueError("a bug"), RuntimeError, "test worker failed: a bug"),  # anything else: internal
    ],
)
def test_an_error_in_a_worker_reaches_the_caller(error, raised, message):
    parent = os.getpid()

    def work(chunk, advance):
        if os.getpid() != parent:
            raise error
        return chunk

    with pytest.raises(raised, match=message):
        run_split(work, range(4), 2, lambda n: None, "test")


def test_a_sigint_to_a_worker_alone_neither_interrupts_nor_loses_its_work():
    # Ctrl-C reaches the caller (and the whole group); a SIGINT sent to one worker must
    # not end the command as if the user had interrupted it (exit 130, no report).
    parent = os.getpid()

    def work(chunk, advance):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
        return list(chunk)

    assert run_split(work, range(4), 2, lambda n: None, "test") == [[0, 2], [1, 3]]


def test_workers_end_with_their_caller_even_when_it_is_killed(tmp_path):
    pids = tmp_path / "pids"
    script = textwrap.dedent(
        f"""
        import os, time
        from netcfg.forked import beside, run_split

        def work(chunk, advance):
            with open({str(pids)!r}, "a") as f:
                f.write(f"{{os.getpid()}}\\n")
            time.sleep(60)

        run_split(work, range(3), 3, lambda n: None, "test")
        """
    )
    caller = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not pids.exists() or len(pids.read_text().split()) < 3):
        time.sleep(0.05)
    workers = [int(p) for p in pids.read_text().split() if int(p) != caller.pid]
    assert len(workers) == 2
    caller.send_signal(signal.SIGKILL)
    caller.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.05)
    assert not [p for p in workers if _alive(p)]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended: only its exit status is left to collect
