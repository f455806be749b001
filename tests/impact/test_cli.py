"""The commands end to end: formats, files, exit codes, errors with file:line:col."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from netcfg.cli import main
from tests.impact.helpers import EXAMPLES

BEFORE = str(EXAMPLES / "change-gateway" / "before")
AFTER = str(EXAMPLES / "change-gateway" / "after")


def test_diff_text(capsys):
    assert main(["diff", BEFORE, AFTER]) == 0
    out = capsys.readouterr().out
    assert (
        "kvm03 (kvm-host, hot)\n"
        "  - route default via 192.0.2.65 metric 20 table main\n"
        "  - route default via 192.0.2.65 table 2\n"
        "  + route default via 192.0.2.94 metric 20 table main\n"
        "  + route default via 192.0.2.94 table 2\n"
    ) in out
    assert (
        "rt01 (router, disruptive)\n  - address 192.0.2.65/27 dev ethfe\n  + address 192.0.2.94/27 dev ethfe\n" in out
    )
    assert out.endswith("7 machines changed (0 added, 0 removed)\n")


def test_diff_json_lists_added_machines(capsys):
    before, after = (str(EXAMPLES / "add-vm" / side) for side in ("before", "after"))
    assert main(["diff", before, after, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["machines_added"] == ["web09"] and data["machines_removed"] == []
    (web09,) = data["hosts"]
    assert web09["state"] == "added" and "address 203.0.113.39/26 dev ethfe" in web09["added"]


def test_impact_formats(capsys):
    assert main(["impact", BEFORE, AFTER, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("decision", "digest", "design", "hosts_total", "hosts_touched", "fraction", "reasons", "hosts"):
        assert key in report
    for key in ("name", "kind", "segments", "change", "causes", "added", "removed", "evacuate"):
        assert key in report["hosts"][0]
    assert main(["impact", BEFORE, AFTER, "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("### netcfg impact: stagger")
    assert main(["impact", BEFORE, AFTER]) == 0
    table = capsys.readouterr().out
    assert "7 of 23 machines touched (30.4 %)" in table and "decision: stagger" in table
    # A blocked change previews with exit 0: only `check` gates.
    blocked = [str(EXAMPLES / "remove-network" / s) for s in ("before", "after")]
    assert main(["impact", *blocked, "--format", "json"]) == 0


def test_design_override_renders_both_sides_with_it(capsys):
    base, head = (str(EXAMPLES / "add-public-network" / s) for s in ("before", "after"))
    assert main(["impact", base, head, "--design", "flat", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["design"] == "flat" and report["hosts_touched"] == 2


def test_check_writes_both_files_atomically(tmp_path):
    out = tmp_path / "reports"
    code = main(
        [
            "check",
            "--base",
            BEFORE,
            "--inventory",
            AFTER,
            "--report-json",
            str(out / "r.json"),
            "--report-md",
            str(out / "r.md"),
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["r.json", "r.md"]  # no temp files left
    assert json.loads((out / "r.json").read_text())["decision"] == "stagger"
    md = (out / "r.md").read_text()
    assert "**7 of 23 machines touched (30.4 %)**" in md and "| `rt01` | router | disruptive |" in md


def test_markdown_folds_machines_beyond_twenty(tmp_path):
    base, head = (str(EXAMPLES / "add-public-network" / s) for s in ("before", "after"))
    md = tmp_path / "r.md"
    # The scenario touches 15; with its stale approval removed the summary is the same shape.
    assert main(["check", "--base", base, "--inventory", head, "--report-md", str(md)]) == 3
    text = md.read_text()
    assert "<details>" not in text and "(all 15;" in text
    assert "digest: " in text and "by: <your name>" in text


def test_invalid_head_exits_2_with_errors_in_summary(tmp_path, capsys):
    head = tmp_path / "head"
    shutil.copytree(AFTER, head)
    machines = head / "machines.yaml"
    machines.write_text(machines.read_text().replace("kind: vm, host: kvm01", "kind: vm, host: kvm99", 1))
    md, js = tmp_path / "s.md", tmp_path / "r.json"
    code = main(["check", "--base", BEFORE, "--inventory", str(head), "--report-md", str(md), "--report-json", str(js)])
    assert code == 2
    text = md.read_text()
    assert "invalid inventory" in text and f"{head}/machines.yaml:" in text and "kvm99" in text
    report = json.loads(js.read_text())
    assert report["decision"] == "invalid"
    # Every key of the contract is there (nothing analysed), and the errors.
    for key in ("digest", "design", "hosts_total", "hosts_touched", "fraction", "reasons", "hosts"):
        assert key in report
    assert report["hosts"] == [] and any("kvm99" in e for e in report["errors"])
    # A plan cannot be made from it.
    assert main(["plan", "--from-report", str(js), "--inventory", BEFORE]) == 2
    assert "does not load" in capsys.readouterr().err


def test_bad_approval_file_is_an_input_error_with_location(tmp_path, capsys):
    head = tmp_path / "head"
    shutil.copytree(AFTER, head)
    (head / "approvals").mkdir()
    (head / "approvals" / "x.yaml").write_text("digest: 1234\nby: alice\nreson: typo\n")
    (head / "approvals" / "y.yaml").write_text("digest: [unclosed\n")
    assert main(["check", "--base", BEFORE, "--inventory", str(head), "--report-md", str(tmp_path / "s.md")]) == 2
    err = capsys.readouterr().err
    assert f"{head}/approvals/x.yaml:1:9: error: 'digest' must be a non-empty string" in err
    assert f"{head}/approvals/x.yaml:3:1: error: unknown key 'reson'" in err
    assert f"{head}/approvals/y.yaml:2:1: error: invalid YAML" in err
    assert f"{head}/approvals/x.yaml:1:1: error: missing 'reason'" in err


def test_an_approval_nested_deeply_or_too_long_is_an_input_error(tmp_path, capsys):
    head = tmp_path / "head"
    shutil.copytree(AFTER, head)
    (head / "approvals").mkdir()
    (head / "approvals" / "deep.yaml").write_text("digest: " + "[" * 5000 + "]" * 5000 + "\n")
    (head / "approvals" / "long.yaml").write_text("x: [" + "0," * 10_000 + "0]\n")
    assert main(["check", "--base", BEFORE, "--inventory", str(head), "--report-md", str(tmp_path / "s.md")]) == 2
    err = capsys.readouterr().err
    assert f"{head}/approvals/deep.yaml:1:18: error: nests too deeply" in err  # the 10th bracket: the 11th level
    assert f"{head}/approvals/long.yaml: error: is longer than 16,384 characters: not read" in err


def test_an_approvals_yaml_error_quotes_its_values_short(tmp_path, capsys):
    head = tmp_path / "head"
    shutil.copytree(AFTER, head)
    (head / "approvals").mkdir()
    twice = f'digest: "{"S" * 3000}"\nby: alice\nreason: x\ndigest: "{"T" * 3000}"\n'
    (head / "approvals" / "x.yaml").write_text(twice)
    assert main(["check", "--base", BEFORE, "--inventory", str(head), "--report-md", str(tmp_path / "s.md")]) == 2
    err = capsys.readouterr().err
    assert f"{head}/approvals/x.yaml:4:1: error: invalid YAML: found duplicate key 'digest' with value 'TTTT" in err
    assert "S" * 41 not in err and "T" * 41 not in err


def test_markdown_summary_fits_a_pull_request_comment():
    from netcfg.impact.model import ChangeClass, Decision, HostDiff, HostState, Impact, TouchedHost, Verdict
    from netcfg.model.host import DesignName, Kind
    from netcfg.model.inventory import Reconfigure
    from netcfg.present.markdown import summary

    causes = tuple(f"network 198.51.{i}.0/24 added to segment fe" for i in range(40))

    def host(i: int) -> TouchedHost:
        diff = HostDiff(f"vm{i:05d}", Kind.VM, HostState.CHANGED, ("fe", "srv"), ("x",) * 40, (), False)
        return TouchedHost(diff, ChangeClass.HOT, causes, ())

    impact = Impact(
        Verdict(Decision.BLOCK, ("too many",)),
        "a" * 64,
        DesignName.POLICY_ROUTING,
        10_000,
        tuple(host(i) for i in range(10_000)),
        reconfigure=Reconfigure.LIVE,
    )
    text = summary(impact)
    assert len(text) < 65_536  # GitHub's limit for a comment
    assert "<details><summary>9980 more machines</summary>" in text
    assert "… and 9780 more: see the JSON report." in text
    assert "(+37 more)" in text


def test_unwritable_report_is_an_input_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code = main(["check", "--base", BEFORE, "--inventory", AFTER, "--report-json", str(blocker / "r.json")])
    assert code == 2
    assert f"{blocker}/r.json: error: cannot write" in capsys.readouterr().err


def test_check_keeps_its_exit_code_when_stdout_is_closed_early(tmp_path):
    # `netcfg check ... | head -1` must still exit 3 for a blocked change, not 1 ("a bug").
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    before, after = EXAMPLES / "add-public-network" / "before", EXAMPLES / "add-public-network" / "after"
    for args, code in (
        (["check", "--base", str(before), "--inventory", str(after)], 3),
        (["impact", str(before), str(after)], 0),
    ):
        proc = subprocess.Popen(
            [sys.executable, "-m", "netcfg", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=root
        )
        proc.stdout.close()  # before the interpreter has even started: every write fails
        assert proc.wait(timeout=120) == code, args


def test_check_quiet_still_prints_an_invalid_inventorys_errors(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("machines: [\n")
    code = main(["check", "--base", BEFORE, "-i", str(bad), "-q", "--report-md", str(tmp_path / "s.md")])
    assert code == 2
    assert f"{bad}:2:1: error: YAML syntax" in capsys.readouterr().err


def test_report_json_to_dev_stdout_redirected_to_a_file_keeps_both_outputs_whole(tmp_path):
    """`--report-json /dev/stdout > out`: the JSON and then the summary, one after the
    other; a second open of the file would write the JSON at an offset of its own and the
    summary over it."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "out.txt"
    with out.open("wb") as handle:
        code = subprocess.run(
            [sys.executable, "-m", "netcfg", "check", "--base", BEFORE, "-i", AFTER, "--report-json", "/dev/stdout"],
            stdout=handle,
            stderr=subprocess.DEVNULL,
            cwd=root,
        ).returncode
    text = out.read_text()
    report, end = json.JSONDecoder().raw_decode(text)
    assert code == 0 and report["decision"] == "stagger"
    assert "| machine | kind | change |" in text[end:]


def test_flows_a_change_moves_are_counted_and_dropping_any_blocks(tmp_path, capsys):
    """One machine of the bundled inventory moved to flat: some of its flows now cross
    a router, some are dropped (strict rp_filter, a router without a route): blocked
    whatever the change's size, with its own reason."""
    bundled = Path(__file__).resolve().parents[2] / "inventory"
    head = tmp_path / "head"
    shutil.copytree(bundled, head)
    web = head / "machines" / "vms-web.yaml"
    web.write_text(web.read_text().replace("  web01: {kind: vm,", "  web01: {kind: vm, design: flat,"))
    report_file = tmp_path / "report.json"
    assert main(["check", "--base", str(bundled), "-i", str(head), "--report-json", str(report_file)]) == 3
    report = json.loads(report_file.read_text())
    assert report["hosts_touched"] == 1
    assert report["flows_dropped"] > 0 and report["flows_changed"] > report["flows_dropped"]
    assert report["decision"] == "block"
    assert report["reasons"][0].startswith(f"{report['flows_dropped']} flow classes delivered before the change")
    flows = report["flows"]
    assert flows["changed"]["newly dropped"] == report["flows_dropped"]
    assert flows["changed"]["now through a router"] > 0
    examples = flows["examples"]
    assert examples[0]["change"] == "newly dropped" and "web01" in (examples[0]["source"], examples[0]["destination"])
    assert "**Flows**" in capsys.readouterr().out


def test_a_change_that_cannot_move_a_flow_is_not_followed(capsys):
    before, after = (str(EXAMPLES / "move-vm" / side) for side in ("before", "after"))
    assert main(["impact", before, after, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["flows_changed"] == 0 and report["flows_dropped"] == 0
    assert report["flows"]["evaluated"] is False


def test_a_machine_renumbered_out_of_its_peers_reach_is_blocked(tmp_path):
    """cust01-1 moves from rt01's public network to rt02's, which rt01 (the only router
    monitoring and backups reach it through) has no route to: one machine touched, but
    flows that were delivered are now dropped."""
    bundled = Path(__file__).resolve().parents[2] / "inventory"
    head = tmp_path / "head"
    shutil.copytree(bundled, head)
    customers = head / "machines" / "vms-customers.yaml"
    text = customers.read_text()
    assert "addresses: [203.0.113.29," in text
    customers.write_text(text.replace("addresses: [203.0.113.29,", "addresses: [198.51.100.60,"))
    report_file = tmp_path / "report.json"
    assert main(["check", "--base", str(bundled), "-i", str(head), "--report-json", str(report_file)]) == 3
    report = json.loads(report_file.read_text())
    assert report["hosts_touched"] == 1 and report["decision"] == "block"
    assert report["flows_dropped"] > 0 and "dropped after it" in report["reasons"][0]
    first = report["flows"]["examples"][0]
    assert "cust01-1" in (first["source"], first["destination"]) and "203.0.113.29" in first["before"]
