"""Base and head with the same files: check, diff and impact answer without loading."""

from __future__ import annotations

import json
import shutil

import pytest

from netcfg.cli import main
from netcfg.impact.analysis import unchanged
from netcfg.impact.model import Decision
from tests.impact.helpers import REPO


@pytest.fixture
def twins(tmp_path):
    """The bundled inventory twice, in two directories."""
    shutil.copytree(REPO / "inventory", tmp_path / "base")
    shutil.copytree(REPO / "inventory", tmp_path / "head")
    return tmp_path / "base", tmp_path / "head"


def test_same_files_are_reported_without_loading(twins, tmp_path):
    base, head = twins
    # Nonsense in both: only a load would see it, so a pass proves nothing was loaded.
    for side in twins:
        (side / "zz-extra.yaml").write_text("machines:\n  ghost: {kind: vm, host: nowhere}\n")
    impact = unchanged(str(base), str(head))
    assert impact is not None
    assert impact.decision is Decision.PASS
    assert impact.hosts_total is None and impact.hosts == ()
    files = len(list(head.rglob("*.yaml")))
    assert impact.reasons == (
        f"base and head hold the same {files} files, byte for byte: nothing changes"
        " (nothing was loaded, so nothing was validated either: netcfg validate does that)",
    )


def test_one_byte_anywhere_means_a_full_analysis(twins):
    base, head = twins
    networks = head / "networks.yaml"
    networks.write_text(networks.read_text() + "# a comment\n")
    assert unchanged(str(base), str(head)) is None
    (head / "networks.yaml").write_text((base / "networks.yaml").read_text())
    (head / "approvals").mkdir(exist_ok=True)
    (head / "approvals" / "x.yaml").write_text("# nothing\n")
    assert unchanged(str(base), str(head)) is None  # approvals are part of the content


def test_the_design_and_policy_of_the_files_are_reported(twins):
    base, head = twins
    impact = unchanged(str(base), str(head), design="flat")
    assert impact is not None and impact.design.value == "flat"
    # An empty change's digest still depends on the design and policy it is judged under.
    assert impact.digest != unchanged(str(base), str(head)).digest


def test_a_policy_it_cannot_find_by_its_key_falls_back_to_the_full_analysis(twins):
    base, head = twins
    for side in twins:
        policy = side / "policy.yaml"
        text = policy.read_text()
        policy.write_text(text.replace("policy:", '"policy":', 1))
    assert unchanged(str(base), str(head)) is None


def test_check_cli_writes_the_report_of_nothing(twins, tmp_path, capsys):
    base, head = twins
    report = tmp_path / "r.json"
    code = main(["check", "--base", str(base), "--inventory", str(head), "--report-json", str(report)])
    assert code == 0
    data = json.loads(report.read_text())
    assert (data["decision"], data["hosts_touched"], data["hosts_total"], data["hosts"]) == ("pass", 0, None, [])
    assert "no machine touched" in capsys.readouterr().out
    assert main(["diff", str(base), str(head), "--format", "json"]) == 0
    assert main(["impact", str(base), str(head)]) == 0


def test_two_sides_without_any_file_are_not_the_same_inventory(tmp_path, capsys):
    (tmp_path / "e1").mkdir()
    (tmp_path / "e2").mkdir()
    assert unchanged(str(tmp_path / "e1"), str(tmp_path / "e2")) is None
    assert main(["check", "--base", str(tmp_path / "e1"), "-i", str(tmp_path / "e2")]) == 2  # a mistyped -i
    assert "no inventory files" in capsys.readouterr().err


def test_files_are_compared_by_their_names_also_from_dot(twins, monkeypatch):
    """`-i .` named the files without their first two characters: a base holding the same
    texts under other names passed for the same inventory."""
    base, head = twins
    monkeypatch.chdir(head)
    assert unchanged(str(base), ".") is not None
    (base / "policy.yaml").rename(base / "policy2.yaml")
    assert unchanged(str(base), ".") is None


def test_a_head_leading_out_of_the_repository_is_refused_also_when_unchanged(tmp_path, monkeypatch, capsys):
    import subprocess

    repo = tmp_path / "repo"
    shutil.copytree(REPO / "inventory", repo / "inventory")
    for args in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "b"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    shutil.move(repo / "inventory", tmp_path / "outside")
    (repo / "inventory").symlink_to(tmp_path / "outside")
    monkeypatch.chdir(repo)
    assert main(["check", "--base", "HEAD"]) == 2
    assert "leads outside the git repository" in capsys.readouterr().err
