"""The pre-copy model: the closed form of docs/design.md, checked against hand-computed values
and against the simulator's own round-by-round implementation."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from netcfg.rollout.estimate import DOWNTIME_S, MIB_PER_GBIT, N_MAX_ROUNDS, link_rate_mib_s, precopy
from netcfg.rollout.simulate import _copy_time


def test_link_rate_is_the_slower_end_times_efficiency():
    assert link_rate_mib_s(10, 1, 0.8) == 1 * MIB_PER_GBIT * 0.8
    assert math.isclose(MIB_PER_GBIT, 119.2093, rel_tol=1e-5)


def test_idle_vm_sends_its_memory_once():
    e = precopy(16, 0, 100)
    assert e.converges and e.rounds == 0
    assert e.data_mib == 16 * 1024
    assert e.seconds == 16 * 1024 / 100


def test_hand_computed_rounds():
    # V = 1024 MiB, R = 100 MiB/s, D = 50: λ = 0.5, V_thd = 30 MiB:
    # rounds: 1024, 512, 256, 128, 64, 32, 16 -> smallest n with 1024·0.5^n <= 30 is 6.
    e = precopy(1, 50, 100)
    assert e.rounds == 6
    assert math.isclose(e.data_mib, 1024 * (1 - 0.5**7) / 0.5)
    assert math.isclose(e.seconds, e.data_mib / 100)
    assert math.isclose(e.downtime_s, 16 / 100)


def test_dirty_rate_at_or_above_bandwidth_never_converges():
    for dirty in (100, 150):
        e = precopy(8, dirty, 100)
        assert not e.converges and e.seconds is None


def test_rounds_are_capped_and_downtime_then_exceeds_the_target():
    e = precopy(64, 99, 100)
    assert e.rounds == N_MAX_ROUNDS
    assert e.downtime_s > DOWNTIME_S


def test_busier_vm_sends_more():
    times = [precopy(16, d, 100).seconds for d in (0, 10, 40, 80, 95)]
    assert times == sorted(times) and times[0] < times[-1]


@settings(max_examples=200, deadline=None)
@given(memory=st.integers(1, 512), dirty=st.floats(0, 2000), rate=st.floats(10, 3000))
def test_closed_form_agrees_with_the_simulators_round_by_round_copy(memory, dirty, rate):
    e = precopy(memory, dirty, rate)
    other = _copy_time(memory, dirty, rate)
    if not e.converges:
        assert other is None
        return
    assert other is not None
    # Equal except where log() rounding lands exactly on a round boundary: then the two
    # differ by the final round, which is at most the allowed downtime's worth.
    assert math.isclose(e.seconds, other, rel_tol=1e-9) or abs(e.seconds - other) <= DOWNTIME_S * 1.01
