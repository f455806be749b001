"""The timeline page: self-contained, one lane per host; rendered by a real headless
Chromium, which must draw a lane for every host."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from netcfg.impact.model import ChangeClass, Decision
from netcfg.inventory.load import load_inventory
from netcfg.present.timeline import WAVE_MIN_W, render_html
from netcfg.rollout.model import Change, plan_from_dict
from netcfg.rollout.plan import plan_rollout
from netcfg.rollout.simulate import simulate
from tests.rollout.conftest import INCIDENT, make_inventory

DISRUPTIVE = ChangeClass.DISRUPTIVE
HOT = ChangeClass.HOT
EXAMPLES = INCIDENT.parent


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


def hot_page(decision=None):
    inventory = load_inventory(EXAMPLES / "add-public-network" / "after")
    hosts = [n for n, m in inventory.machines.items() if str(m.kind) != "router"]
    plan = plan_rollout(inventory, [Change(n, HOT) for n in hosts])
    return render_html(plan, simulate(plan.to_dict(), inventory), decision=decision), plan


def held_page():
    inventory = make_inventory(
        [("a", 64, 1), ("b", 64, 1), ("c", 64, 1)],
        [("busy", "a", 8, 200, None), ("calm", "a", 8, 5, None), ("other", "b", 8, 5, None)],
    )
    plan = plan_rollout(inventory, [Change("a", DISRUPTIVE), Change("b", DISRUPTIVE)])
    return render_html(plan, simulate(plan.to_dict(), inventory)), plan


def test_hot_waves_are_named_sized_and_visible():
    html, plan = hot_page()
    assert plan.waves
    assert plan.waves[0].canary and all(not w.canary for w in plan.waves[1:])
    for wave in plan.waves:
        name = "canary" if wave.index == 0 else f"wave {wave.index}"  # as the terminal calls them
        assert f"{name} · {len(wave.hosts)} host" in html
        assert f"<tr><td>{name}</td>" in html
        pattern = rf'<g class="wave" data-wave="{wave.index}"><title>([^<]*)</title><rect[^>]*width="([\d.]+)"'
        group = re.search(pattern, html)
        assert group, wave
        assert all(h in group.group(1) for h in wave.hosts[:40])  # the hosts, on hover
        assert float(group.group(2)) >= WAVE_MIN_W
    assert '<table id="waves">' in html


def test_a_plan_without_a_lower_bound_does_not_show_one():
    inventory = make_inventory([("a", 64, 1)], [])
    data = {"waves": [], "migrations": [], "maintenance": [{"host": "a", "start_s": 0, "end_s": 60}]}
    data |= {"makespan_s": 60, "lower_bound_s": 0}
    html = render_html(plan_from_dict(data), simulate(data, inventory))
    assert "makespan 0 h 01 min;" in html and "lower bound" not in html and "0 s" not in html


def test_the_time_axis_says_its_unit():
    html, plan = hot_page()
    assert "lower bound 0 h 15 min" in html  # three soaks of five minutes
    labels = re.findall(r'text-anchor="middle">([^<]+)</text>', html)
    assert labels and all(re.fullmatch(r"\d+ h \d\d min", label) for label in labels), labels
    assert "time since the rollout starts (hours and minutes)" in html


def test_a_blocked_change_says_so_first():
    html, _ = hot_page(Decision.BLOCK)
    assert html.index('id="blocked"') < html.index("<h1>")
    assert "Blocked by the seatbelt" in html
    assert 'id="blocked"' not in hot_page(Decision.STAGGER)[0]


def test_vms_that_cannot_live_migrate_are_shown():
    html, plan = held_page()
    assert plan.unscheduled == ("a",)
    assert '<table id="non-converging">' in html and "<td>busy</td><td>a</td>" in html
    assert "1 VM cannot live-migrate (pre-copy never converges): its host is not scheduled" in html
    lane = re.search(r'<g class="lane" data-host="a">.*?</g>', html, re.S)
    assert lane and "not scheduled: 1 VM cannot live-migrate (busy dirties 200 MiB/s" in lane.group(0)


def test_the_plan_command_marks_a_blocked_change(tmp_path):
    from netcfg.cli import main

    page = tmp_path / "plan.html"
    before, after = EXAMPLES / "add-public-network" / "before", EXAMPLES / "add-public-network" / "after"
    assert main(["plan", str(before), str(after), "--html", str(page)]) == 0
    assert 'id="blocked"' in page.read_text()


PAGES = {
    "incident-2017": lambda: incident_page()[0],
    "hot-waves": lambda: hot_page()[0],
    "blocked": lambda: hot_page(Decision.BLOCK)[0],
    "cannot-migrate": lambda: held_page()[0],
}


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("name", sorted(PAGES))
def test_chromium_draws_every_page(tmp_path, name):
    html = PAGES[name]()
    page = tmp_path / f"{name}.html"
    page.write_text(html)
    common = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1000"]
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    # What the page promises is in the document Chromium built, not only in our string.
    assert set(re.findall(r'data-host="([^"]+)"', dom)) == set(re.findall(r'data-host="([^"]+)"', html))
    assert set(re.findall(r'data-wave="([^"]+)"', dom)) == set(re.findall(r'data-wave="([^"]+)"', html))
    assert ('id="blocked"' in dom) == (name == "blocked")
    shot = tmp_path / f"{name}.png"
    subprocess.run([*common, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    artifacts = os.environ.get("NETCFG_ARTIFACTS")
    if artifacts:  # CI keeps the pictures
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / f"timeline-{name}.png")
    print(f"timeline screenshot: {shot}")
