"""Work on an inventory while its cross-checks run beside it: the result is load_inventory's
then the work's, as if the checks had run first."""

from __future__ import annotations

from pathlib import Path

import pytest

from netcfg import forked
from netcfg.errors import InputError
from netcfg.inventory.load import load_inventory_beside

GOOD = """\
segments:
  srv: {table: 3, priority: 30}
networks:
  - {prefix: 10.20.0.0/16, segment: srv, gateway: 10.20.0.1, private: true}
machines:
  rt01: {kind: router, interfaces: {srv: {addresses: [10.20.0.1]}}}
  web1: {kind: physical, interfaces: {srv: {addresses: [10.20.1.1]}}}
  web2: {kind: physical, interfaces: {srv: {addresses: [10.20.1.2]}}}
"""
# A problem across machines (an address held twice): found by the checks, not the reading.
TWICE = GOOD.replace("10.20.1.2", "10.20.1.1")


@pytest.fixture(params=[1, 2], ids=["in-turn", "beside"])
def jobs(request, monkeypatch) -> int:
    # Forking is refused while another thread runs; an earlier test may have left one.
    monkeypatch.setattr(forked, "can_fork", lambda: True)
    return request.param


def inventory(tmp_path: Path, text: str) -> Path:
    (tmp_path / "all.yaml").write_text(text)
    return tmp_path


def test_the_work_is_done_on_a_sound_inventory(tmp_path, jobs):
    assert load_inventory_beside(inventory(tmp_path, GOOD), lambda inv: sorted(inv.machines), jobs) == [
        "rt01",
        "web1",
        "web2",
    ]


def test_the_inventorys_problems_come_first_whatever_the_work_did(tmp_path, jobs):
    def work(inv):
        raise RuntimeError("an unchecked inventory broke the work")

    with pytest.raises(InputError, match="address 10.20.1.1 of machine 'web2' is already used by machine 'web1'"):
        load_inventory_beside(inventory(tmp_path, TWICE), work, jobs)


def test_the_works_own_error_is_raised_once_the_inventory_is_sound(tmp_path, jobs):
    def work(inv):
        raise InputError("no safe plan")

    with pytest.raises(InputError, match="no safe plan"):
        load_inventory_beside(inventory(tmp_path, GOOD), work, jobs)


def test_an_inventory_that_does_not_read_is_never_worked_on(tmp_path, jobs):
    done = []
    with pytest.raises(InputError, match=r"all\.yaml:\d+:\d+"):
        load_inventory_beside(inventory(tmp_path, GOOD + "  web3: {kind: [\n"), done.append, jobs)
    assert done == []
