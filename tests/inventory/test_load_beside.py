"""Work on an inventory while its cross-checks run beside it: the result is load_inventory's
then the work's, as if the checks had run first. load_pair_beside does the same for the
two sides of a comparison, the base's checks running while the head is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from netcfg import forked
from netcfg.errors import InputError
from netcfg.inventory.load import load_inventory_beside
from netcfg.inventory.sources import load_pair_beside, resolve

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


def pair(base: Path, head: Path, work, jobs):
    return load_pair_beside(resolve(base), resolve(head), work, jobs)


def sides(tmp_path: Path, base: str, head: str) -> tuple[Path, Path]:
    (tmp_path / "base").mkdir()
    (tmp_path / "head").mkdir()
    return inventory(tmp_path / "base", base), inventory(tmp_path / "head", head)


def test_the_pair_is_worked_on_once_both_sides_are_sound(tmp_path, jobs):
    base, head = sides(tmp_path, GOOD, GOOD.replace("web2", "web3"))
    assert pair(base, head, lambda b, h, approvals: (sorted(b.machines), sorted(h.machines), approvals), jobs) == (
        ["rt01", "web1", "web2"],
        ["rt01", "web1", "web3"],
        (),
    )


def test_every_problem_of_both_sides_comes_first(tmp_path, jobs):
    base, head = sides(tmp_path, TWICE, GOOD.replace("10.20.1.2", "10.99.1.2"))

    def work(b, h, approvals):
        raise RuntimeError("an unchecked inventory broke the work")

    with pytest.raises(InputError) as raised:
        pair(base, head, work, jobs)
    texts = sorted(str(p) for p in raised.value.problems)
    assert len(texts) == 2, texts
    assert texts[0].startswith(f"{base}/all.yaml:") and "already used by machine 'web1'" in texts[0]
    assert texts[1].startswith(f"{head}/all.yaml:") and "10.99.1.2" in texts[1]


def test_a_head_that_does_not_read_is_never_worked_on(tmp_path, jobs):
    base, head = sides(tmp_path, GOOD, GOOD + "  web3: {kind: [\n")
    done = []
    with pytest.raises(InputError, match=r"head/all\.yaml:\d+:\d+"):
        pair(base, head, lambda *sides: done.append(sides), jobs)
    assert done == []


def test_the_works_own_error_comes_once_both_sides_are_sound(tmp_path, jobs):
    base, head = sides(tmp_path, GOOD, GOOD)

    def work(b, h, approvals):
        raise InputError("no safe plan")

    with pytest.raises(InputError, match="no safe plan"):
        pair(base, head, work, jobs)


def test_the_heads_approvals_are_judged_once_its_inventory_is_sound(tmp_path, jobs):
    base, head = sides(tmp_path, GOOD, GOOD)
    (head / "approvals").mkdir()
    (head / "approvals" / "x.yaml").write_text("digest: [unclosed\n")
    with pytest.raises(InputError, match=r"approvals/x\.yaml:2:1: error: invalid YAML"):
        pair(base, head, lambda *sides: None, jobs)
    inventory(head, TWICE)  # as load_inventory did: an unsound inventory's approvals are not read
    with pytest.raises(InputError) as raised:
        pair(base, head, lambda *sides: None, jobs)
    assert ["already used by machine 'web1'" in str(p) for p in raised.value.problems] == [True]
