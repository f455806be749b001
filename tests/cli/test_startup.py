"""A command loads what it uses: help and the commands that never touch a namespace do not
pay for the apply path, and help does not pay for the inventory's readers either."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

INVENTORY = Path(__file__).resolve().parents[2] / "inventory"
APPLY_PATH = ("netcfg.kernel.settled", "netcfg.kernel.netlink", "netcfg.kernel.codec", "ctypes")
READERS = ("netaddr", "ruamel.yaml", "jinja2", "netcfg.model.inventory")
PROBE = """
import json, sys
from netcfg.cli import main
try:
    main(sys.argv[2:])
except SystemExit:
    pass
print(json.dumps([m for m in json.loads(sys.argv[1]) if m in sys.modules]), file=sys.stderr)
"""


def loaded(watched: tuple[str, ...], *args: str) -> list[str]:
    """Which of `watched` a whole `netcfg ARGS` process imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(watched), *args], capture_output=True, text=True, check=False
    )
    return json.loads(done.stderr.splitlines()[-1])


@pytest.mark.parametrize("args", [["--help"], ["apply", "--help"], ["synth", "--help"], ["status", "--help"]])
def test_help_loads_neither_the_apply_path_nor_the_readers(args):
    assert loaded(APPLY_PATH + READERS, *args) == []


def test_a_command_that_touches_no_namespace_loads_nothing_of_apply():
    # The inventory's model among the watched: the run did load what it uses.
    watched = (*APPLY_PATH, "netcfg.model.inventory")
    assert loaded(watched, "--quiet", "validate", str(INVENTORY)) == ["netcfg.model.inventory"]


def test_apply_from_a_file_loads_neither_the_parser_nor_pathlib(tmp_path):
    # The form automation runs on every host. pathlib (with urllib and ipaddress behind
    # it) was 8 ms of it; typer and rich 0.1 s.
    config = tmp_path / "web1.json"
    config.write_text(
        json.dumps(
            {
                "name": "web1",
                "kind": "physical",
                "design": "policy-routing",
                "forwarding": False,
                "interfaces": [{"name": "eth0", "segment": "srv", "bridge": False, "addresses": ["192.0.2.10/24"]}],
                "rules": [],
                "routes": [],
            }
        )
    )
    # A namespace that does not exist: the run reaches the apply and stops there (exit 2).
    # hashlib loads OpenSSL; the digests take CPython's own SHA-256.
    watched = ("typer", "rich", "pathlib", "hashlib", *READERS, "netcfg.kernel.apply")
    args = ("apply", "--from", str(config), "--netns", "netcfg-test-no-such-namespace")
    assert loaded(watched, *args) == ["netcfg.kernel.apply"]


def test_apply_turns_the_collector_back_on_however_it_ends(tmp_path):
    from netcfg.cli import main

    config = tmp_path / "web1.json"
    config.write_text("{}")
    assert main(["apply", "--from", str(config), "--netns", "netcfg-test-no-such-namespace"]) == 2
    assert gc.isenabled()
    gc.disable()
    try:
        main(["apply", "--from", str(config), "--netns", "netcfg-test-no-such-namespace"])
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()
