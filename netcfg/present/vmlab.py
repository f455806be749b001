"""The VM lab for a person: its status, and the calibration table."""

from __future__ import annotations

from collections.abc import Iterator

from netcfg.vmlab.calibrate import Calibration, Result
from netcfg.vmlab.lab import Status


def status_lines(status: Status) -> Iterator[str]:
    width = max([len(v.name) for v in status.vms] + [len(h.name) for h in status.hosts] + [4])
    yield f"{'VM':<{width}}  {'HOST':<{width}}  STATE"
    for v in status.vms:
        yield f"{v.name:<{width}}  {v.host:<{width}}  {v.state.value}" + (f" ({v.reason})" if v.reason else "")
    yield ""
    yield f"{'HOST':<{width}}  {'USED MiB':>9}  {'LIMIT MiB':>9}"
    for h in status.hosts:
        yield f"{h.name:<{width}}  {h.used_mib:>9}  {h.limit_mib:>9}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.0f} %"


def _size(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


def _case(r: Result) -> str:
    c = r.case
    if r.predicted.converges and r.predicted.seconds is not None:
        predicted = f"{r.predicted.seconds:6.1f} s {r.predicted.data_mib:6.0f} MiB"
    else:
        predicted = "does not converge"
    if r.converged:
        measured = f"{r.measured.seconds:6.1f} s {r.measured.transferred_mib:6.0f} MiB {r.measured.syncs:2d} rounds"
    else:
        measured = f"{r.measured.verdict.value} after {r.measured.seconds:.0f} s, {r.measured.syncs} rounds"
    agree = "" if r.agrees else "  VERDICT DIFFERS"
    return (
        f"{c.memory_mib:>6} {c.dirty_mib_s:>6g} {c.bandwidth_mib_s:>6g}  {predicted:<22}  {measured:<32}"
        f"  {_percent(r.time_error):>6}  {_percent(r.data_error):>6}{agree}"
    )


def calibration_lines(calibration: Calibration) -> Iterator[str]:
    yield (f"{'MiB':>6} {'dirty':>6} {'rate':>6}  {'predicted':<22}  {'measured':<32}  {'time':>6}  {'data':>6}")
    for r in calibration.results:
        yield _case(r)
    yield ""
    yield (
        f"time error: median {_size(calibration.median_time_error)}, "
        f"worst {_size(calibration.worst_time_error)} (|predicted - measured| / measured)"
    )
    yield (f"data error: median {_size(calibration.median_data_error)}, worst {_size(calibration.worst_data_error)}")
    yield (f"convergence verdicts: {calibration.verdicts_agree} of {len(calibration.results)} agree with what QEMU did")
