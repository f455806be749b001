"""A large render splits its machines over forked workers (forked.py): the same files,
the same manifest, and on failure or a dead worker the same exits as in one process."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from netcfg import formats
from netcfg.cli import main
from netcfg.formats.output import MANIFEST
from netcfg.inventory.load import load_inventory

INVENTORY = Path(__file__).resolve().parents[2] / "inventory"
TEMPLATES = Path(__file__).resolve().parents[2] / "netcfg" / "templates"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the parallel render forks, Linux only")


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mode & 0o7777)
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".netcfg-render")  # manifest, state, marker, journals
    }


def listed(root: Path) -> dict[str, tuple[str, str]]:
    files = json.loads((root / MANIFEST).read_text())["files"]
    return {path: (entry["format"], entry["host"]) for path, entry in files.items()}


def render(out: Path, jobs: str, monkeypatch, *extra: str) -> int:
    monkeypatch.setenv("NETCFG_JOBS", jobs)
    return main(["render", str(INVENTORY), "--out", str(out), *extra])


def test_workers_write_what_one_process_writes(tmp_path, monkeypatch, capsys):
    assert render(tmp_path / "alone", "1", monkeypatch) == 0
    hosts = {host for _, host in listed(tmp_path / "alone").values()}
    monkeypatch.setattr(formats, "PARALLEL_MIN", 1)
    parent, here = os.getpid(), []
    real = formats.render_host
    monkeypatch.setattr(formats, "render_host", lambda *a, **k: here.append(os.getpid() == parent) or real(*a, **k))
    assert render(tmp_path / "split", "3", monkeypatch) == 0
    # This process rendered the first of three interleaved chunks; the workers the rest.
    assert len(here) == (len(hosts) + 2) // 3
    assert tree(tmp_path / "split") == tree(tmp_path / "alone")
    assert listed(tmp_path / "split") == listed(tmp_path / "alone")
    assert not [p for p in (tmp_path / "split").rglob("*.tmp")]
    capsys.readouterr()
    # The run is recorded as a whole: a second one touches nothing.
    assert render(tmp_path / "split", "3", monkeypatch) == 0
    assert capsys.readouterr().err.strip().endswith(f"0 files written, {len(listed(tmp_path / 'alone'))} unchanged")


@pytest.mark.parametrize("failing", [4, 5], ids=["in this process", "in a worker"])
def test_a_failure_is_exit_2_and_every_file_written_stays_listed(tmp_path, monkeypatch, capsys, failing):
    from netcfg.errors import InputError

    hosts = sorted(load_inventory(INVENTORY).machines)
    real = formats.render_host

    def fail_on(config, *args, **kwargs):
        # Two processes: even positions are this process's, odd ones the worker's.
        if config.name == hosts[failing]:
            raise InputError("no space left, say")
        return real(config, *args, **kwargs)

    monkeypatch.setattr(formats, "render_host", fail_on)
    monkeypatch.setattr(formats, "PARALLEL_MIN", 1)
    out = tmp_path / "out"
    assert render(out, "2", monkeypatch, "-f", "json") == 2
    assert "no space left, say" in capsys.readouterr().err
    written = set(listed(out))
    # What both processes wrote is listed, so a later run can replace or remove it.
    assert {f"json/{hosts[0]}.json", f"json/{hosts[1]}.json"} <= written
    assert f"json/{hosts[failing]}.json" not in written
    assert set(tree(out)) == written


def test_a_worker_that_dies_is_an_internal_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(formats, "PARALLEL_MIN", 1)
    parent, real = os.getpid(), formats.render_host

    def render_or_die(*args, **kwargs):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)  # what the OOM killer does
        return real(*args, **kwargs)

    monkeypatch.setattr(formats, "render_host", render_or_die)
    assert render(tmp_path / "out", "2", monkeypatch) == 1
    assert re.search(r"render worker \d+ died: killed by signal SIGKILL", capsys.readouterr().err)
