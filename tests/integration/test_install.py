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
    """A fresh venv with the project's wheel installed (dependencies from this env)."""
    root = tmp_path_factory.mktemp("install")
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
         "-w", str(wheels), str(REPO)],
        check=True,
        cwd=root,
    )
    wheel = next(wheels.glob("netcfg-*.whl"))
    env = root / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env)
    python = env / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
    )
    return wheel, env


def test_wheel_carries_the_default_templates(installed):
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    templates = sorted(n for n in names if n.startswith("netcfg/templates/") and n.endswith(".j2"))
    shipped = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "templates").rglob("*.j2"))
    assert [t.removeprefix("netcfg/") for t in templates] == shipped
    assert templates, "no templates in the wheel"


def test_installed_netcfg_runs_from_another_directory(installed, tmp_path):
    _, env = installed
    where = subprocess.run(
        [env / "bin" / "python", "-c", "import netcfg; print(netcfg.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    ).stdout
    assert str(env) in where, f"netcfg imported from {where}, not the venv"
    netcfg = env / "bin" / "netcfg"
    validate = subprocess.run(
        [netcfg, "validate", str(REPO / "inventory")], capture_output=True, text=True, cwd=tmp_path
    )
    assert validate.returncode == 0, validate.stderr
    render = subprocess.run(
        [netcfg, "render", str(REPO / "inventory"), "--out", "out", "--host", "kvm*"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert render.returncode == 0, render.stderr
    assert any((tmp_path / "out").rglob("*")), "render wrote nothing"
