"""The built wheel works outside the repository, with its default templates inside it."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv, isolated from every other Python's packages, with the project's
    wheel and the dependencies it declares installed by pip, as a user would."""
    root = tmp_path_factory.mktemp("install")
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)],
        check=True,
        cwd=root,
    )
    wheel = next(wheels.glob("netcfg_seatbelt-*.whl"))
    env = root / "venv"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", str(wheel)], check=True)
    return wheel, env


def test_wheel_carries_the_default_templates(installed):
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    templates = sorted(n for n in names if n.startswith("netcfg/templates/") and n.endswith(".j2"))
    shipped = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "netcfg" / "templates").rglob("*.j2"))
    assert templates == shipped
    assert templates, "no templates in the wheel"


def test_installed_netcfg_runs_from_another_directory(installed, tmp_path):
    _, env = installed
    where = subprocess.run(
        [env / "bin" / "python", "-c", "import netcfg; print(netcfg.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert str(env) in where, f"netcfg imported from {where}, not the venv"
    netcfg = env / "bin" / "netcfg"
    validate = subprocess.run(
        [netcfg, "validate", str(REPO / "inventory")], capture_output=True, text=True, cwd=tmp_path
    )
    assert validate.returncode == 0, validate.stderr
    render = subprocess.run(
        [netcfg, "render", str(REPO / "inventory"), "--out", "out", "--host", "kvm*"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert render.returncode == 0, render.stderr
    assert any((tmp_path / "out").rglob("*")), "render wrote nothing"
    # The timeline page's template travels in the wheel too.
    incident = REPO / "examples" / "incident-2017"
    simulate = subprocess.run(
        [
            netcfg,
            "simulate",
            str(incident / "naive-plan.json"),
            "--inventory",
            str(incident / "after"),
            "--html",
            "plan.html",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert simulate.returncode == 3, simulate.stderr
    assert "<svg" in (tmp_path / "plan.html").read_text()
