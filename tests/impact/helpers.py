"""Paths and small helpers shared by the impact tests."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SCENARIOS = sorted(
    p.name
    for p in EXAMPLES.iterdir()
    if (p / "before").is_dir() and (p / "after").is_dir() and (p / "README.md").exists()
)

_EXPECTED = re.compile(
    r"Expected: decision \*\*(?P<decision>\w+)\*\*, (?P<touched>\d+) of (?P<total>\d+) machines touched "
    r"\((?P<hot>\d+) hot, (?P<disruptive>\d+) disruptive\), (?P<evacuate>\d+) VMs to evacuate, "
    r"exit code (?P<code>\d+)\."
)


def expected(scenario: str) -> dict[str, object]:
    """The outcome a scenario's README promises."""
    match = _EXPECTED.search((EXAMPLES / scenario / "README.md").read_text())
    assert match, f"examples/{scenario}/README.md has no 'Expected: ...' line"
    values = match.groupdict()
    return {k: (v if k == "decision" else int(v)) for k, v in values.items()}
