"""Hand-built plans in the plan file's format, a step program that really runs (a Python
script the test writes), and readers for what a run left: the journal and the script's
own log."""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A step as a real process: it looks itself up in the test's config (how long to sleep,
# whether to fail), and logs its own start and end on the system-wide monotonic clock,
# so the order of steps is checked from a record the executor did not write.
STEP_SCRIPT = """\
import json, os, sys, time
step = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
config = json.load(open(os.path.join(here, "config.json"))).get(step, {})
def log(event):
    fd = os.open(os.path.join(here, "steps.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, f"{event} {step} {time.monotonic():.6f} {os.getpid()}\\n".encode())
    os.close(fd)
log("start")
time.sleep(config.get("sleep", 0.0))
# Waits that need no clock: until a file exists (the test opens the gate), or until
# the executor has journaled another step's end.
while "gate" in config and not os.path.exists(config["gate"]):
    time.sleep(0.01)
def journaled_end(path, name):
    records = [json.loads(line) for line in open(path).read().splitlines() if line.endswith("}")]
    return any(r["event"] == "end" and r.get("id") == name for r in records)
while "until_journal_has" in config and not journaled_end(*config["until_journal_has"]):
    time.sleep(0.01)
if config.get("fail"):
    print(f"step {step} failed on purpose", file=sys.stderr)
    sys.exit(3)
log("end")
"""


Ids = tuple[str, ...] | list[str]


def hot(step_id: str, hosts: list[str], after: Ids = (), start: float = 0.0, end: float = 1.0) -> dict[str, Any]:
    return {"id": step_id, "after": list(after), "index": 0, "start_s": start, "end_s": end, "hosts": hosts}


def migration(
    step_id: str, vm: str, source: str, target: str, after: Ids = (), start: float = 0.0, end: float = 1.0
) -> dict[str, Any]:
    return {
        "id": step_id,
        "after": list(after),
        "vm": vm,
        "from": source,
        "to": target,
        "start_s": start,
        "end_s": end,
        "gib": 1.0,
        "data_gib": 1.0,
        "rate_mib_s": 100.0,
    }


def maintenance(step_id: str, host: str, after: Ids = (), start: float = 0.0, end: float = 1.0) -> dict[str, Any]:
    return {"id": step_id, "after": list(after), "host": host, "start_s": start, "end_s": end}


def write_plan(path: Path, waves=(), migrations=(), maint=(), limits: dict[str, int] | None = None) -> Path:
    data: dict[str, Any] = {
        "waves": list(waves),
        "migrations": list(migrations),
        "maintenance": list(maint),
        "makespan_s": max([s["end_s"] for s in [*waves, *migrations, *maint]], default=0.0),
        "lower_bound_s": 0.0,
        "ratio": 1.0,
        "lower_bound_parts": {},
        "non_converging": [],
        "unscheduled": [],
    }
    if limits is not None:
        data["limits"] = limits
    path.write_text(json.dumps(data, indent=1))
    return path


def random_plan(rng: random.Random, hosts: int = 4, vms: int = 8, waves: int = 3) -> dict[str, list[dict[str, Any]]]:
    """A plan shaped like the planner's: hot waves one after another, then every VM of
    each host migrated away (each after its wave and, at random, after earlier
    migrations), then each evacuated host maintained after its migrations."""
    names = [f"kvm{n}" for n in range(hosts)]
    wave_steps = []
    for n in range(waves):
        wave_steps.append(
            hot(f"hot-{n}", [f"web{n}{k}" for k in range(rng.randint(1, 3))], [f"hot-{n - 1}"] if n else [])
        )
    migrations, by_source = [], {}
    for n in range(vms):
        source = rng.choice(names)
        target = rng.choice([h for h in names if h != source])
        after = [wave_steps[-1]["id"]]
        after += [m["id"] for m in migrations if rng.random() < 0.3]
        migrations.append(migration(f"migrate-{n}", f"vm{n}", source, target, after))
        by_source.setdefault(source, []).append(f"migrate-{n}")
    maint = [maintenance(f"maint-{h}", h, ids) for h, ids in sorted(by_source.items())]
    return {"waves": wave_steps, "migrations": migrations, "maint": maint}


@dataclass
class Stepper:
    """The step program and its config, in a directory of the test's."""

    directory: Path

    @property
    def script(self) -> Path:
        return self.directory / "step.py"

    def template(self) -> str:
        return f"{sys.executable} -S {self.script} {{id}}"

    def run_options(self) -> list[str]:
        return [f"--run={kind}={self.template()}" for kind in ("hot", "migration", "maintenance")]

    def configure(self, config: dict[str, dict[str, Any]]) -> None:
        (self.directory / "config.json").write_text(json.dumps(config))

    def log(self) -> list[tuple[str, str, float, int]]:
        path = self.directory / "steps.log"
        if not path.exists():
            return []
        rows = []
        for line in path.read_text().splitlines():
            event, step, t, pid = line.split()
            rows.append((event, step, float(t), int(pid)))
        return rows


def make_stepper(directory: Path, config: dict[str, dict[str, Any]] | None = None) -> Stepper:
    directory.mkdir(parents=True, exist_ok=True)
    stepper = Stepper(directory)
    stepper.script.write_text(STEP_SCRIPT)
    stepper.configure(config or {})
    return stepper


def read_journal(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def check_order(journal: list[dict[str, Any]], plan: dict[str, Any]) -> None:
    """Every start came after every step it waits for ended OK: in the journal's own line
    order, and by its clock (`t` within a run, `wall` across runs)."""
    after = {s["id"]: s["after"] for key in ("waves", "migrations", "maintenance") for s in plan[key]}
    ended_ok: dict[str, dict[str, Any]] = {}
    for record in journal:
        if record["event"] == "end" and record["ok"]:
            ended_ok[record["id"]] = record
        elif record["event"] == "start":
            for other in after[record["id"]]:
                assert other in ended_ok, f"{record['id']} started before {other} ended OK"
                end = ended_ok[other]
                if end["run"] == record["run"]:
                    assert end["t"] <= record["t"], (record, end)
                else:
                    assert end["wall"] <= record["wall"], (record, end)
