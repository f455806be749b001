"""The single exit path: known errors as messages, bugs as one line (traceback on --debug)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netcfg.cli import main

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventory"


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


def test_a_reader_of_stderr_closing_early_keeps_the_exit_code(tmp_path):
    """`netcfg validate BAD 2>&1 | head -1`: an input error is exit 2 even so."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("segments: {" + ", ".join(f"s{i}: {{table: 100, priority: 40000}}" for i in range(3000)) + "}\n")
    proc = subprocess.Popen([sys.executable, "-m", "netcfg", "validate", str(bad)], stderr=subprocess.PIPE)
    proc.stderr.close()  # its error message, thousands of lines, hits EPIPE
    assert proc.wait() == 2


def test_ctrl_c_inside_a_command_says_so(tmp_path):
    """typer ends a command that Ctrl-C reaches with a silent 130; netcfg says why it stops.
    The command waits on a git that never answers, so the signal lands inside it."""
    bin_dir, started = tmp_path / "bin", tmp_path / "git-started"
    bin_dir.mkdir()
    (bin_dir / "git").write_text(f"#!/bin/sh\ntouch {started}\nexec sleep 60\n")
    (bin_dir / "git").chmod(0o755)
    proc = subprocess.Popen(
        [sys.executable, "-m", "netcfg", "check", "--base", "origin/main", "--inventory", str(INVENTORY)],
        cwd=tmp_path,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # A CI job may start its tests with SIGINT ignored, which a child inherits.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert started.exists(), proc.communicate()[1]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert (proc.returncode, err) == (130, "netcfg: interrupted\n")


LONG_NAME = "n" * 300  # over NAME_MAX: the kernel refuses it wherever the code meets it


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", LONG_NAME],
        ["check", "--base", LONG_NAME, "-i", str(INVENTORY)],
        ["check", "--base", str(INVENTORY), "-i", LONG_NAME],
        ["impact", LONG_NAME, str(INVENTORY)],
        ["verify", LONG_NAME],
        ["plan", str(INVENTORY), LONG_NAME],
        ["validate", "/".join(["d"] * 2100)],  # over PATH_MAX
    ],
)
def test_a_name_the_kernel_refuses_is_invalid_input_not_a_bug(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err
    assert err.strip().endswith("File name too long")
    assert len(err) < 200  # the name cut like any value


LONG_VALUE = "v" * 5000


@pytest.mark.parametrize(
    "argv",
    [
        ["show", LONG_VALUE, "-i", str(INVENTORY)],
        ["render", str(INVENTORY), "--out", "out", "--host", LONG_VALUE],
        ["render", str(INVENTORY), "--out", "out", "-f", LONG_VALUE],
        ["render", str(INVENTORY), "--out", "out", "--design", LONG_VALUE],
        ["who-uses", LONG_VALUE, "-i", str(INVENTORY)],
        ["simulate", "plan.json", "--jitter", LONG_VALUE],
        ["vmlab", "calibrate", "--memory", LONG_VALUE],
        ["lab", "up", str(INVENTORY), "--name", LONG_VALUE],
        ["status", LONG_VALUE, "-i", str(INVENTORY), "--netns", "x"],
    ],
)
def test_an_error_repeats_a_long_argument_cut(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "v" * 40 + "…" in err and "v" * 41 not in err, err[:300]


@pytest.mark.parametrize("argv", [["validate", str(INVENTORY)], ["--version"], ["show", "--version"]])
def test_a_full_disk_on_stdout_is_not_a_bug(argv):
    with open("/dev/full", "wb") as full:
        done = subprocess.run([sys.executable, "-m", "netcfg", *argv], stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "netcfg: cannot write the output: No space left on device"


CHANGE = ["--base", str(EXAMPLE / "before"), "--inventory", str(EXAMPLE / "after")]


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["check", *CHANGE, "--report-json", "/dev/null", "--report-md", "/dev/null"], 3),  # blocked, still
        (["show", "nosuch", "-i", str(INVENTORY)], 2),
        (["validate", "/nonexistent"], 2),
        (["impact", str(EXAMPLE / "before"), str(EXAMPLE / "after"), "--format", "json"], 0),
    ],
)
def test_a_stderr_that_takes_nothing_keeps_the_verdict(argv, code):
    """Messages that cannot be written are dropped; the exit code CI acts on stays."""
    with open("/dev/full", "wb") as full:
        done = subprocess.run([sys.executable, "-m", "netcfg", *argv], stdout=subprocess.DEVNULL, stderr=full)
    assert done.returncode == code


@pytest.mark.parametrize("stream", [0, 1, 2])
@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["validate", str(INVENTORY)], 0),
        (["show", "web01", "-i", str(INVENTORY)], 0),
        (["impact", str(EXAMPLE / "before"), str(EXAMPLE / "after"), "--format", "json"], 0),
        (["plan", str(EXAMPLE / "before"), str(EXAMPLE / "after")], 0),
    ],
)
def test_a_closed_standard_stream_reads_as_dev_null(stream, argv, code):
    """`netcfg ... >&-`: Python starts with sys.stdout None, and the next file opened
    would take the stream's number."""
    script = f"import os, subprocess, sys; os.close({stream}); sys.exit(subprocess.call(sys.argv[1:], close_fds=False))"
    done = subprocess.run(
        [sys.executable, "-c", script, sys.executable, "-m", "netcfg", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if stream != 2 else subprocess.DEVNULL,
        text=True,
    )
    assert done.returncode == code, done.stderr
    assert "internal error" not in (done.stderr or "")


COMMANDS = [
    "validate",
    "synth",
    "render",
    "show",
    "diff",
    "impact",
    "who-uses",
    "check",
    "plan",
    "simulate",
    "apply",
    "status",
    "lab up",
    "lab check",
    "lab down",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_no_type_placeholders(command, capsys):
    assert main([*command.split(), "--help"]) == 0
    text = capsys.readouterr().out
    assert "<bool>" not in text and "<list" not in text and "<str>" not in text and "<path>" not in text
    assert "TEXT" not in text and "INTEGER" not in text and "BOOLEAN" not in text


@pytest.mark.parametrize("argv", [["--version"], ["render", "--version"], ["validate", "-q", "--version"]])
def test_version_anywhere(capsys, argv):
    import netcfg

    assert main(argv) == 0
    assert capsys.readouterr().out == f"netcfg {netcfg.__version__}\n"


ANY = "0 to 18,446,744,073,709,551,615"


@pytest.mark.parametrize(
    ("argv", "option", "bounds", "value"),
    [
        (["synth", "--machines", "abc", "--networks", "4", "--out", "/x/y"], "--machines", "10 to 1,000,000", "'abc'"),
        (["synth", "--machines", "-5", "--networks", "4", "--out", "/x/y"], "--machines", "10 to 1,000,000", "'-5'"),
        (["synth", "--machines", "1_000", "--networks", "4", "-o", "/x/y"], "--machines", "10 to 1,000,000", "'1_000'"),
        (["synth", "--machines", "10", "--networks", "4", "--seed", "x", "-o", "/x/y"], "--seed", ANY, "'x'"),
        (["synth", "--machines", "10", "--networks", "4", "--seed", "9" * 5000, "-o", "/x/y"], "--seed", ANY, None),
        (["impact", str(INVENTORY), str(INVENTORY), "--limit", "-3"], "--limit", ANY, "'-3'"),
    ],
)
def test_a_bad_number_is_worded_like_every_input_error(capsys, argv, option, bounds, value):
    assert main(argv) == 2
    shown = value or "'" + "9" * 40 + "…'"
    assert capsys.readouterr().err == f"{option}: error: expected a whole number from {bounds}, not {shown}\n"


def test_the_inventory_is_named_either_way(tmp_path, capsys):
    assert main(["validate", "-i", str(INVENTORY)]) == 0
    assert main(["validate", "--inventory", str(INVENTORY), str(INVENTORY)]) == 0
    assert main(["render", "-i", str(INVENTORY), "--out", str(tmp_path / "out"), "-f", "json", "--host", "web01"]) == 0
    capsys.readouterr()
    assert main(["validate", "-i", str(INVENTORY), str(tmp_path)]) == 2
    assert "two inventories given" in capsys.readouterr().err


def test_show_takes_format_json_like_every_command(capsys):
    assert main(["show", "web01", "-i", str(INVENTORY), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "web01"
    assert main(["show", "web01", "-i", str(INVENTORY), "--format", "yaml"]) == 2
    assert "--format: error: unknown format 'yaml' (known: text, json)" in capsys.readouterr().err


def test_a_design_error_reads_the_same_everywhere(capsys):
    for argv in (
        ["render", str(INVENTORY), "--out", "/nonexistent"],
        ["show", "web01", "-i", str(INVENTORY)],
        ["impact", str(INVENTORY), str(INVENTORY)],
        ["who-uses", "fe", "-i", str(INVENTORY)],
    ):
        assert main([*argv, "--design", "bogus"]) == 2
        err = capsys.readouterr().err
        assert err == "--design: error: unknown design 'bogus' (known: policy-routing, flat)\n", (argv, err)


def test_quiet_silences_messages_not_data(tmp_path, capsys):
    assert main(["render", str(INVENTORY), "--out", str(tmp_path / "out"), "-f", "json", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["-q", "validate", str(INVENTORY)]) == 0
    assert "valid" in capsys.readouterr().out


def test_counts_take_their_plural(tmp_path, capsys):
    assert main(["render", str(INVENTORY), "--out", str(tmp_path / "out"), "-f", "json", "--host", "web01"]) == 0
    assert capsys.readouterr().err == "1 file written, 0 unchanged\n"


def test_help_and_readme_list_every_exit_code(capsys):
    assert main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for code in ("0 success", "2 invalid input", "5 apply failed", "6 a plan left part of the change unscheduled"):
        assert code in text
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "| 6 | a plan leaves part of the change unscheduled" in readme
