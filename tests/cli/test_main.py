"""The single exit path: known errors as messages, bugs as one line (traceback on --debug)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from netcfg.cli import main


@pytest.fixture
def broken_loader(monkeypatch):
    def explode(path):
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr("netcfg.cli.validate.load", explode)


def test_unexpected_error_is_one_line_and_exit_1(broken_loader, capsys):
    assert main(["validate", "inventory"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "netcfg: internal error: ZeroDivisionError: simulated bug (a bug; run again with --debug for the traceback)"
    ]


@pytest.mark.parametrize("argv", [["--debug", "validate", "inventory"], ["validate", "inventory", "--debug"]])
def test_debug_shows_the_traceback_wherever_it_is_given(broken_loader, capsys, argv):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "ZeroDivisionError: simulated bug" in err


def test_unknown_command_and_option_are_invalid_input(capsys):
    assert main(["frobnicate"]) == 2
    assert main(["validate", "--no-such-option"]) == 2


def test_console_script_runs_as_a_module(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "netcfg", "validate", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"{tmp_path / 'missing'}: error: no such inventory file or directory"
    assert "Traceback" not in result.stderr


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "add-public-network"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["check", "--base", str(EXAMPLE / "before"), "--inventory", str(EXAMPLE / "after")], 3),
        (["show", "web01", "-i", str(EXAMPLE / "after")], 0),
    ],
)
def test_a_reader_closing_early_keeps_the_exit_code(args, code):
    """`netcfg check ... | head -1` must still fail the pipeline with 3 when blocked."""
    proc = subprocess.Popen([sys.executable, "-m", "netcfg", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before netcfg writes anything: its first write hits EPIPE
    _, err = proc.communicate()
    assert proc.returncode == code, err.decode()
    assert b"Traceback" not in err
