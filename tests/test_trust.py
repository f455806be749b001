"""Regression tests of the trust boundaries (README "Trust boundaries"), one per class
of hole an adversarial pass found: reading beyond the inventory, writing beyond the
job, output that breaks out of its format, input that crashed instead of exit 2, and
inventories that validate but can never be applied."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from netcfg import limits
from netcfg.cli import main

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
BEFORE = EXAMPLES / "add-public-network" / "before"
AFTER = EXAMPLES / "add-public-network" / "after"
NETCFG = Path(sys.executable).parent / "netcfg"


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "inventory", tmp_path / "inventory")
    return tmp_path / "inventory"


def errors(capsys) -> str:
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err, err
    return err


# --- reading: nothing outside the inventory, nothing unreadable skipped -----------------


def test_a_symlink_out_of_the_inventory_is_refused_and_its_content_never_shown(inventory, tmp_path, capsys):
    secret = tmp_path / "token"
    secret.write_text("machines: {ghp_SECRETTOKEN: {kind: vm}}\n")
    (inventory / "stolen.yaml").symlink_to(secret)
    assert main(["validate", str(inventory)]) == 2
    err = errors(capsys)
    assert f"{inventory}/stolen.yaml: error: is a symbolic link to a path outside the inventory" in err
    md, report = tmp_path / "s.md", tmp_path / "r.json"
    assert (
        main(
            [
                "check",
                "--base",
                str(inventory),
                "--inventory",
                str(inventory),
                "--report-md",
                str(md),
                "--report-json",
                str(report),
            ]
        )
        == 2
    )
    assert "SECRETTOKEN" not in md.read_text() + report.read_text() + errors(capsys)


def test_a_symlink_whose_target_cannot_be_read_is_refused_not_a_crash(inventory, capsys):
    # /proc/1/cwd cannot be read by anyone but init's owner (in a container, not even
    # by root): resolving it raised PermissionError, exit 1.
    (inventory / "c").symlink_to("/proc/1/cwd")
    assert main(["validate", str(inventory)]) == 2
    assert f"{inventory}/c: error: is a symbolic link to a path outside the inventory" in errors(capsys)


def test_a_symlink_inside_the_inventory_is_read(inventory, capsys):
    (inventory / "machines").rename(inventory.parent / "elsewhere")
    (inventory / "more").mkdir()
    shutil.move(str(inventory.parent / "elsewhere"), str(inventory / "more" / "machines"))
    (inventory / "machines").symlink_to(inventory / "more" / "machines")
    assert main(["validate", str(inventory)]) == 0, errors(capsys)


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0, reason="needs root and setpriv")
def test_an_unreadable_directory_is_an_error_not_zero_machines(inventory, tmp_path):
    (inventory / "machines").chmod(0)
    try:
        # Root reads anything: drop the capabilities that let it ignore permissions.
        done = subprocess.run(
            ["setpriv", "--bounding-set=-dac_override,-dac_read_search", str(NETCFG), "validate", str(inventory)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
    finally:
        (inventory / "machines").chmod(0o755)
    assert done.returncode == 2, done.stderr
    assert f"{inventory}/machines: error: cannot read the directory: Permission denied" in done.stderr


def test_a_socket_named_like_yaml_is_an_error(inventory, capsys):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(inventory / "odd.yaml"))
        assert main(["validate", str(inventory)]) == 2
    assert "odd.yaml: error: is not a regular file" in errors(capsys)


def test_error_messages_quote_a_short_escaped_excerpt(tmp_path, capsys):
    (tmp_path / "inv.yaml").write_text('segments:\n  fe: {table: "' + "x\\u001b[31m" * 500 + '", priority: 20}\n')
    assert main(["validate", str(tmp_path / "inv.yaml")]) == 2
    err = errors(capsys)
    assert "\x1b" not in err and "x\\x1b[31m" in err and "…" in err
    assert max(len(line) for line in err.splitlines()) < 200


# --- writing: only inside the job, devices in place --------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a device node")
def test_a_report_to_a_device_leaves_the_device_alone(tmp_path):
    # A null device of our own (what /dev/null is), so a regression cannot break the
    # machine's own /dev/null.
    device = tmp_path / "null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    assert (
        main(
            [
                "check",
                "--base",
                str(BEFORE),
                "--inventory",
                str(AFTER),
                "--report-json",
                str(device),
                "--report-md",
                str(device),
            ]
        )
        == 3
    )
    assert stat.S_ISCHR(os.stat(device).st_mode)


def test_a_report_to_a_fifo_is_written_into_it(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    assert (
        main(
            [
                "check",
                "--base",
                str(BEFORE),
                "--inventory",
                str(AFTER),
                "--report-json",
                str(fifo),
                "--report-md",
                str(tmp_path / "s.md"),
            ]
        )
        == 3
    )
    assert json.loads(reader.communicate(timeout=30)[0])["decision"] == "block"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def _check_writing(report: str, md: str = "s.md") -> int:
    return main(["check", "--base", str(BEFORE), "--inventory", str(AFTER), "--report-json", report, "--report-md", md])


def test_a_report_path_that_is_a_link_is_replaced_never_written_through(tmp_path, monkeypatch):
    # A pull request commits `netcfg-report.json -> /some/file` where CI writes its
    # report: the link is replaced by the report, the file it named stays as it was.
    monkeypatch.chdir(tmp_path)
    victim = tmp_path / "elsewhere" / "precious"
    victim.parent.mkdir()
    victim.write_text("precious")
    Path("netcfg-report.json").symlink_to(victim)
    Path("netcfg-summary.md").symlink_to(victim)
    assert _check_writing("netcfg-report.json", "netcfg-summary.md") == 3
    assert victim.read_text() == "precious"
    assert not Path("netcfg-report.json").is_symlink() and not Path("netcfg-summary.md").is_symlink()
    assert json.loads(Path("netcfg-report.json").read_text())["decision"] == "block"


def test_a_report_link_to_a_fifo_is_replaced_not_written_into(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fifo = tmp_path / "elsewhere.fifo"
    os.mkfifo(fifo)
    Path("r.json").symlink_to(fifo)
    assert _check_writing("r.json") == 3  # writing into the FIFO would wait for a reader
    assert json.loads(Path("r.json").read_text())["decision"] == "block"


def test_a_report_link_into_another_process_is_replaced(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("r.json").symlink_to("/proc/1/fd/1")
    assert _check_writing("r.json") == 3
    assert not Path("r.json").is_symlink()


def test_a_report_under_a_directory_link_leading_out_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "job").mkdir()
    monkeypatch.chdir(tmp_path / "job")
    (tmp_path / "outside").mkdir()
    Path("reports").symlink_to(tmp_path / "outside")
    assert _check_writing("reports/r.json") == 2
    assert "reports: error: is a symbolic link out of the working directory" in errors(capsys)
    assert not (tmp_path / "outside" / "r.json").exists()
    Path("inside").mkdir()
    Path("here").symlink_to("inside")  # a link staying in the job is a directory like another
    assert _check_writing("here/r.json") == 3
    assert (tmp_path / "job" / "inside" / "r.json").exists()


def test_a_report_to_dev_stdout_is_still_written_through(tmp_path):
    done = subprocess.run(
        [str(NETCFG), "check", "--base", str(BEFORE), "--inventory", str(AFTER), "--report-json", "/dev/fd/1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 3, done.stderr
    assert json.JSONDecoder().raw_decode(done.stdout)[0]["decision"] == "block"


def _report(tmp_path: Path, base: Path, head: Path) -> dict:
    report = tmp_path / "r.json"
    main(
        [
            "check",
            "--base",
            str(base),
            "--inventory",
            str(head),
            "--report-json",
            str(report),
            "--report-md",
            "/dev/null",
        ]
    )
    return json.loads(report.read_text())


def test_machines_a_change_adds_do_not_dilute_its_own_fraction(tmp_path):
    """A pull request padding the head with machines it does not touch (no interfaces)
    must not bring its touched fraction under max_fraction: the fraction is of the
    smaller fleet of base and head."""
    base, head = tmp_path / "base", tmp_path / "head"
    shutil.copytree(BEFORE, base)
    policy = base / "policy.yaml"
    policy.write_text(policy.read_text().replace("max_fraction: 0.5", "max_fraction: 0.25"))
    shutil.copytree(base, head)
    networks = head / "networks.yaml"
    networks.write_text(
        networks.read_text() + '  - {prefix: "2001:db8:21::/64", segment: srv, gateway: "2001:db8:21::1"}\n'
    )
    machines = head / "machines.yaml"
    machines.write_text(
        machines.read_text().replace(
            'srv: {addresses: [10.20.0.1, "2001:db8:20::1"]}',
            'srv: {addresses: [10.20.0.1, "2001:db8:20::1", "2001:db8:21::1"]}',
        )
    )

    first = _report(tmp_path, base, head)
    assert first["decision"] == "block" and any("above max_fraction" in r for r in first["reasons"]), first["reasons"]
    (head / "pad.yaml").write_text(
        "machines:\n" + "".join(f"  pad{i}: {{kind: physical, interfaces: {{}}}}\n" for i in range(40))
    )
    padded = _report(tmp_path, base, head)
    assert padded["decision"] == "block", padded["reasons"]
    assert any("of 23 machines touched" in r and "above max_fraction" in r for r in padded["reasons"]), padded[
        "reasons"
    ]
    # The report says what was judged: a reader comparing `fraction` with max_fraction
    # reaches the seatbelt's verdict, not a figure diluted by the padding.
    assert padded["hosts_total"] == 63 and padded["fleet"] == 23
    assert padded["fraction"] == round(padded["hosts_touched"] / 23, 6) > 0.25


def _edited(tmp_path: Path, name: str, *edits: tuple[str, str]) -> Path:
    """BEFORE with kvm01's fe address changed (a disruptive change under restart and a
    live one under live alike), and `edits` to machines.yaml."""
    inventory = tmp_path / name
    shutil.copytree(BEFORE, inventory)
    machines = inventory / "machines.yaml"
    text = machines.read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    machines.write_text(text)
    return inventory


READDRESS_KVM01 = ("fe: {addresses: [203.0.113.11]}", "fe: {addresses: [203.0.113.14]}")


def test_moving_vms_off_a_hypervisor_the_change_restarts_blocks(tmp_path):
    # The inventory says kvm01's VMs are on kvm02 now; nothing moved them, and the plan
    # (head placement) would restart kvm01 with its VMs still running there.
    head = _edited(tmp_path, "head", READDRESS_KVM01, ("host: kvm01,", "host: kvm02,"))
    report = _report(tmp_path, BEFORE, head)
    assert report["decision"] == "block"
    assert any("it moves 4 VMs (app01, db01, web01, web05)" in r for r in report["reasons"]), report["reasons"]


def test_renaming_a_hypervisor_blocks_and_the_report_evacuates_nothing_the_plan_does_not(tmp_path):
    head = _edited(tmp_path, "head", READDRESS_KVM01)
    machines = head / "machines.yaml"
    machines.write_text(machines.read_text().replace("kvm01", "kvm01x"))
    report = _report(tmp_path, BEFORE, head)
    assert report["decision"] == "block"
    assert any("it moves 4 VMs" in r for r in report["reasons"]), report["reasons"]
    # kvm01x is new to the inventory: the plan rolls it out hot, the report agrees.
    assert report["totals"]["evacuate"] == 0 and all(h["evacuate"] == [] for h in report["hosts"])


@pytest.mark.parametrize(
    "edit",
    [
        ("web01: {kind: vm, host: kvm01,", "web01x: {kind: vm, host: kvm02,"),  # renamed as it moves
        ("web01: {kind: vm, host: kvm01, memory_gib: 16, dirty_mib_s: 40, service: web,", "web01: {kind: physical,"),
    ],
)
def test_a_vm_leaving_a_restarted_hypervisor_under_another_name_or_kind_blocks(tmp_path, edit):
    # Matched by name alone, web01 renamed (or made physical) passed, and kvm01 was
    # evacuated without it.
    report = _report(tmp_path, BEFORE, _edited(tmp_path, "head", READDRESS_KVM01, edit))
    assert report["decision"] == "block"
    assert any("it moves" in r and "web01" in r for r in report["reasons"]), report["reasons"]


def test_moving_a_vm_between_hypervisors_the_change_leaves_alone_does_not_block(tmp_path):
    head = _edited(tmp_path, "head", ("web01: {kind: vm, host: kvm01,", "web01: {kind: vm, host: kvm02,"))
    assert _report(tmp_path, BEFORE, head)["decision"] == "pass"


SMALL = """\
segments:
  fe: {table: 2, priority: 20}
networks:
  - {prefix: 192.0.2.0/24, segment: fe, gateway: 192.0.2.1}
machines:
  rt1: {kind: router, interfaces: {fe: {addresses: [192.0.2.1]}}}
  web01: {kind: physical, interfaces: {fe: {addresses: [192.0.2.10]}}}
  web02: {kind: physical, interfaces: {fe: {addresses: [192.0.2.11]}}}
"""


def small(tmp_path: Path, text: str = SMALL, name: str = "inv.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_render_never_writes_or_deletes_through_a_link_in_out(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["render", str(small(tmp_path)), "--out", str(out), "-f", "json"]) == 0
    # The json/ directory becomes a link to someone else's files, named like ours.
    outside = tmp_path / "outside"
    (out / "json").rename(outside)
    (out / "json").symlink_to(outside)
    before = {p.name: p.read_text() for p in outside.iterdir()}
    # web02 leaves the inventory: its file is stale, and behind the link.
    inventory = small(
        tmp_path, SMALL.replace("  web02: {kind: physical, interfaces: {fe: {addresses: [192.0.2.11]}}}\n", "")
    )
    assert main(["render", str(inventory), "--out", str(out), "-f", "json"]) == 2
    assert "is a symbolic link: netcfg writes only inside its output directory" in errors(capsys)
    assert {p.name: p.read_text() for p in outside.iterdir()} == before


def test_an_output_directory_that_is_a_link_leading_out_is_refused(tmp_path, monkeypatch, capsys):
    # A pull request commits `out` as a link to the runner's files; CI renders into out/.
    inventory = small(tmp_path)
    (tmp_path / "job").mkdir()
    monkeypatch.chdir(tmp_path / "job")
    (tmp_path / "outside").mkdir()
    Path("out").symlink_to(tmp_path / "outside")
    for args in (
        ["render", str(inventory), "--out", "out", "-f", "json"],
        ["render", str(inventory), "--out", "out/deeper", "-f", "json"],
        ["synth", "--machines", "10", "--networks", "4", "--out", "out"],
    ):
        assert main(args) == 2
        assert "out: error: is a symbolic link out of the working directory: not written through" in errors(capsys)
    assert list((tmp_path / "outside").iterdir()) == []
    Path("inside").mkdir()
    Path("here").symlink_to("inside")  # a link staying in the job is a directory like another
    assert main(["render", str(inventory), "--out", "here", "-f", "json"]) == 0
    assert (tmp_path / "job" / "inside" / "json").is_dir()


def test_a_file_in_out_that_is_a_link_is_not_written_through(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "json").mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (out / "json" / "web01.json").symlink_to(victim)
    assert main(["render", str(small(tmp_path)), "--out", str(out), "-f", "json"]) == 2
    assert "is a symbolic link: netcfg does not write through it" in errors(capsys)
    assert victim.read_text() == "keep me\n"


def test_output_names_cannot_collide(tmp_path, capsys):
    text = SMALL + "  web01.6: {kind: physical, interfaces: {fe: {addresses: [192.0.2.12]}}}\n"
    assert main(["validate", str(small(tmp_path, text))]) == 2
    assert "machine 'web01.6' would write iproute2/web01.6.batch, which is the IPv6 file of machine 'web01'" in errors(
        capsys
    )


def test_markdown_and_html_escape_every_inventory_string(tmp_path, capsys):
    # A key an attacker controls goes into the error summary: it must stay inside its fence.
    text = SMALL.replace("  web02:", '  "```</details><img src=x onerror=alert(1)>":')
    md = tmp_path / "s.md"
    assert (
        main(
            [
                "check",
                "--base",
                str(small(tmp_path)),
                "--inventory",
                str(small(tmp_path, text, "head.yaml")),
                "--report-md",
                str(md),
            ]
        )
        == 2
    )
    summary = md.read_text()
    fence = next(line for line in summary.splitlines() if line.startswith("```"))
    assert len(fence) > 3  # longer than the backticks inside
    body = summary.split(fence)[1]
    assert body.count("```") and fence not in body
    # In the text of a pass/stagger summary, the same string is escaped, not HTML.
    from netcfg.present.markdown import _cell

    assert "<" not in _cell("</details><b>x</b>") and "\\|" in _cell("a|b")


def test_rich_markup_in_inventory_strings_is_shown_as_text(tmp_path, capsys):
    text = SMALL + "  vm1: {kind: physical, description: x, interfaces: {fe: {addresses: [192.0.2.30]}}}\n"
    base = small(tmp_path)
    head = small(tmp_path, text.replace("description: x", 'description: "[bold]x[/]"'), "head.yaml")
    assert main(["impact", str(base), str(head)]) == 0
    assert main(["who-uses", "192.0.2.0/24", "--inventory", str(head)]) == 0
    errors(capsys)


# --- input that crashed: now exit 2 -------------------------------------------------------


def test_huge_integers_are_input_errors(tmp_path, capsys):
    for key in ("table", "priority"):
        text = SMALL.replace(f"{key}: {2 if key == 'table' else 20}", f"{key}: {'9' * 300}")
        assert main(["validate", str(small(tmp_path, text))]) == 2
        assert "an integer of more than 20 digits" in errors(capsys)


def test_deeply_nested_yaml_is_an_input_error_not_a_crash(tmp_path):
    path = small(tmp_path, "machines: " + "[" * 100_000 + "]" * 100_000 + "\n")
    done = subprocess.run([str(NETCFG), "validate", str(path)], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    # Where the 101st level opens: the file's mapping is the first, so the 100th bracket
    # (the brackets start at column 11).
    assert f"{path}:1:110: error: YAML nesting deeper than 100 levels" in done.stderr


def test_a_yaml_file_of_too_many_values_is_refused_before_it_is_composed(tmp_path, monkeypatch, capsys):
    """`0,` repeated is one value every two bytes: 16 MiB composed to 2 GB."""
    from netcfg import limits

    monkeypatch.setattr(limits, "YAML_VALUES", 1000)
    dense = small(tmp_path, "x: [" + "0," * 1000 + "0]\n", "dense.yaml")
    assert main(["validate", str(dense)]) == 2
    assert "dense.yaml: error: more than 1,000 YAML values in one file: not read" in errors(capsys)
    # Commas and colons that are no values (a comment, a quoted string) only cost a count.
    text = SMALL.replace("segments:", "# " + ", :" * 1000 + "\nsegments:", 1)
    assert main(["validate", str(small(tmp_path, text, "commented.yaml"))]) == 0


def test_a_corrupt_lab_state_file_is_an_input_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NETCFG_RUN_DIR", str(tmp_path))
    (tmp_path / "lab-x.json").write_text('{"name": "x", "machines": 5}')
    assert main(["lab", "check", "--name", "x"]) == 2
    assert "the lab state file is damaged" in errors(capsys)
    (tmp_path / "lab-x.json").write_text('{"name": "x", "inventory": "i", "machines": {}, "namespaces": []}')
    assert main(["lab", "check", "--name", "x"]) == 2
    assert "the lab state file is damaged (no 'design')" in errors(capsys)
    (tmp_path / "lab-x.json").write_text("{" * 50_000)
    assert main(["lab", "down", "--name", "x"]) == 2
    errors(capsys)


def test_an_unwritable_synth_out_is_an_input_error(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["synth", "--machines", "50", "--networks", "5", "--out", str(tmp_path / "file" / "sub")]) == 2
    assert "cannot write" in errors(capsys)


def test_a_template_that_never_ends_is_stopped(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(limits, "TEMPLATE_SECONDS", 1.0)
    (tmp_path / "tpl" / "json").mkdir(parents=True)
    for body in (
        "{{ 'x' * 10**10 }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    ):
        (tmp_path / "tpl" / "json" / "host.json.j2").write_text(body)
        assert (
            main(
                [
                    "render",
                    str(small(tmp_path)),
                    "--out",
                    str(tmp_path / "out"),
                    "-f",
                    "json",
                    "--templates",
                    str(tmp_path / "tpl"),
                ]
            )
            == 2
        )
        assert "template error" in errors(capsys)


# --- validation gaps ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "what"),
    [
        ("169.254.0.0/16", "link-local"),
        ("224.0.0.0/24", "multicast"),
        ("127.0.0.0/8", "loopback"),
        ("0.0.0.0/0", "unspecified"),
        ("240.0.0.0/8", "reserved"),
        ("fe80::/64", "link-local"),
        ("ff02::/16", "multicast"),
        ("::1/128", "loopback"),
    ],
)
def test_networks_that_can_never_be_applied_are_refused(tmp_path, capsys, prefix, what):
    text = SMALL + f'  - {{prefix: "{prefix}", segment: fe}}\n'.replace("  - ", "  - ", 1)
    text = SMALL.replace("networks:\n", f'networks:\n  - {{prefix: "{prefix}", segment: fe}}\n')
    assert main(["validate", str(small(tmp_path, text))]) == 2
    assert what in errors(capsys)


def test_a_gateway_that_is_the_machines_own_address_is_refused(tmp_path, capsys):
    text = SMALL.replace(
        "web01: {kind: physical, interfaces: {fe: {addresses: [192.0.2.10]}}}",
        "web01: {kind: physical, interfaces: {fe: {addresses: [192.0.2.1]}}}",
    )
    text = text.replace("  rt1: {kind: router, interfaces: {fe: {addresses: [192.0.2.1]}}}\n", "")
    assert main(["validate", str(small(tmp_path, text))]) == 2
    assert "has address 192.0.2.1, the gateway of its network 192.0.2.0/24" in errors(capsys)


FLAT_WITHOUT_BACKEND_GATEWAY = """\
policy: {design: flat}
segments:
  fe: {table: 2, priority: 20}
  be: {table: 3, priority: 30}
networks:
  - {prefix: 192.0.2.0/24, segment: fe, gateway: 192.0.2.1}
  - {prefix: 10.0.0.0/24, segment: be}
machines:
  rt1: {kind: router, interfaces: {fe: {addresses: [192.0.2.1]}}}
  web01: {kind: physical, interfaces: {fe: {addresses: [192.0.2.10]}, be: {addresses: [10.0.0.10]}}}
"""


def test_another_design_is_checked_for_what_it_needs_before_rendering(tmp_path, capsys):
    # Valid under flat (one default route, via fe); policy-routing also needs be's gateway.
    inventory = small(tmp_path, FLAT_WITHOUT_BACKEND_GATEWAY)
    web02 = "  web02: {kind: physical, interfaces: {fe: {addresses: [192.0.2.11]}, be: {addresses: [10.0.0.11]}}}\n"
    head = small(tmp_path, FLAT_WITHOUT_BACKEND_GATEWAY + web02, "head.yaml")
    assert main(["validate", str(inventory)]) == 0
    assert main(["render", str(inventory), "--out", str(tmp_path / "out"), "-f", "json"]) == 0
    needed = "needs an IPv4 default route via network 10.0.0.0/24, which has no gateway"
    errors(capsys)
    for command in (
        ["render", str(inventory), "--out", str(tmp_path / "pr"), "--design", "policy-routing"],
        ["show", "web01", "-i", str(inventory), "--design", "policy-routing"],
        ["impact", str(inventory), str(head), "--design", "policy-routing"],
    ):
        assert main(command) == 2, command
        assert needed in errors(capsys), command
    assert not (tmp_path / "pr").exists()


def test_json_nested_too_deep_is_an_input_error(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    plan.write_text("[" * (limits.NESTING + 1) + "]" * (limits.NESTING + 1))
    assert main(["simulate", str(plan)]) == 2
    assert f"the plan nests deeper than {limits.NESTING} levels" in errors(capsys)


def test_control_characters_in_inventory_values_are_refused(tmp_path, capsys):
    text = SMALL.replace("web02: {kind: physical,", 'web02: {kind: physical, description: "\\e[31mred\\e[0m",')
    assert main(["validate", str(small(tmp_path, text))]) == 2
    err = errors(capsys)
    assert "holds a control character" in err and "\x1b" not in err


def test_file_names_in_errors_cannot_drive_a_terminal(tmp_path, capsys):
    path = tmp_path / "inv\x1b[2J.yaml"
    path.write_text("segments: [\n")
    assert main(["validate", str(path)]) == 2
    err = errors(capsys)
    assert "inv\\x1b[2J.yaml" in err and "\x1b" not in err


def test_markdown_neither_mentions_nor_links(tmp_path):
    from netcfg.present.markdown import _cell

    cell = _cell("ping @security-team at https://evil.example or www.evil.example")
    assert "@security" not in cell and "https://" not in cell and "www." not in cell
    assert cell.replace("\u2060", "") == "ping @security-team at https://evil.example or www.evil.example"
