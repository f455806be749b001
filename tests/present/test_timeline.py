"""The timeline page: self-contained, one lane per host; rendered by a real headless
Chromium, which must draw a lane for every host."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from netcfg.impact.model import ChangeClass
from netcfg.inventory.load import load_inventory
from netcfg.present.timeline import render_html
from netcfg.rollout.model import Change, plan_from_dict
from netcfg.rollout.plan import plan_rollout
from netcfg.rollout.simulate import simulate
from tests.rollout.conftest import INCIDENT

DISRUPTIVE = ChangeClass.DISRUPTIVE


CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def incident_page():
    inventory = load_inventory(INCIDENT / "after")
    plan = plan_rollout(inventory, [Change(n, DISRUPTIVE) for n in inventory.machines])
    sim = simulate(plan.to_dict(), inventory)
    return render_html(plan, sim), inventory


def test_page_is_self_contained_with_a_lane_per_hypervisor():
    html, inventory = incident_page()
    hypervisors = sorted(n for n, m in inventory.machines.items() if str(m.kind) == "kvm-host")
    assert sorted(re.findall(r'data-host="([^"]+)"', html)) == hypervisors
    assert "<script" not in html
    # No external resources: the only URL is the SVG namespace.
    assert set(re.findall(r'https?://[^"\s]+', html)) <= {"http://www.w3.org/2000/svg"}
    assert not re.search(r"\s(src|href)=", html)
    assert "simulates clean" in html


def test_naive_plan_page_marks_overcommitted_hosts():
    import json

    inventory = load_inventory(INCIDENT / "after")
    plan = json.loads((INCIDENT / "naive-plan.json").read_text())
    html = render_html(plan_from_dict(plan), simulate(plan, inventory))
    assert html.count('class="over"') == 12


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_renders_a_lane_per_host(tmp_path):
    html, inventory = incident_page()
    page = tmp_path / "plan.html"
    page.write_text(html)
    common = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1000"]
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    lanes = set(re.findall(r'data-host="([^"]+)"', dom))
    assert lanes == {n for n, m in inventory.machines.items() if str(m.kind) == "kvm-host"}
    shot = tmp_path / "timeline.png"
    subprocess.run([*common, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    artifacts = os.environ.get("NETCFG_ARTIFACTS")
    if artifacts:  # CI keeps the picture
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / "rollout-timeline.png")
    print(f"timeline screenshot: {shot}")
