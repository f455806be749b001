"""Inventories read from real git revisions, without touching the work tree."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from netcfg.cli import main
from netcfg.impact.analysis import analyse, unchanged
from tests.impact.helpers import EXAMPLES
from tests.requirements import needs

pytestmark = needs("git")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout


@pytest.fixture
def repo(tmp_path):
    """A repository whose HEAD holds the add-public-network 'before' inventory in
    inventory/ and whose work tree holds the 'after' one (uncommitted)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "test@example.org")
    git(repo, "config", "user.name", "test")
    git(repo, "config", "commit.gpgsign", "false")  # a developer's global signing must not apply
    shutil.copytree(EXAMPLES / "add-public-network" / "before", repo / "inventory")
    (repo / "README").write_text("not inventory\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    shutil.rmtree(repo / "inventory")
    shutil.copytree(EXAMPLES / "add-public-network" / "after", repo / "inventory")
    return repo


def test_check_against_head_reads_git_and_leaves_the_work_tree_alone(repo, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(repo)
    status_before = git(repo, "status", "--porcelain")
    out = tmp_path / "r.json"
    code = main(["check", "--base", "HEAD", "--report-json", str(out)])
    assert code == 3
    report = json.loads(out.read_text())
    assert report["decision"] == "block"
    assert report["hosts_touched"] == 15
    assert report["base"].startswith("HEAD:")
    assert "### netcfg check: **BLOCKED**" in capsys.readouterr().out  # no --report-md: stdout
    assert git(repo, "status", "--porcelain") == status_before


def test_two_revisions_and_a_subdirectory_cwd(repo, monkeypatch):
    git(repo, "add", "inventory")
    git(repo, "commit", "-q", "-m", "head")
    # Compare the two commits while the work tree holds something else entirely.
    shutil.rmtree(repo / "inventory")
    (repo / "sub").mkdir()
    analysis = analyse("HEAD~1", "HEAD", cwd=str(repo))
    assert analysis.impact.to_json()["hosts_touched"] == 15
    assert analysis.impact.to_json()["changes"][0]["where"].startswith("HEAD:inventory/networks.yaml:")
    # From a subdirectory the inventory directory is relative to it, as git sees it.
    sub = analyse("HEAD~1", "HEAD", cwd=str(repo / "sub"), inventory_dir="../inventory")
    assert sub.impact.digest == analysis.impact.digest
    # The same change read from directories has the same digest: layout-independent.
    from_dirs = analyse(str(EXAMPLES / "add-public-network" / "before"), str(EXAMPLES / "add-public-network" / "after"))
    assert from_dirs.impact.digest == analysis.impact.digest


def test_errors_in_a_revision_name_rev_path_line_col(repo, monkeypatch, tmp_path, capsys):
    networks = repo / "inventory" / "networks.yaml"
    networks.write_text(networks.read_text().replace("gateway: 192.0.2.65", "gateway: 192.0.2.300"))
    git(repo, "commit", "-q", "-am", "broken")
    shutil.rmtree(repo / "inventory")
    shutil.copytree(EXAMPLES / "add-public-network" / "after", repo / "inventory")
    monkeypatch.chdir(repo)
    md = tmp_path / "summary.md"
    code = main(["check", "--base", "HEAD", "--report-md", str(md), "--report-json", str(tmp_path / "r.json")])
    assert code == 2
    summary = md.read_text()
    assert "invalid inventory" in summary
    assert "HEAD:inventory/networks.yaml:3:" in summary
    assert json.loads((tmp_path / "r.json").read_text())["decision"] == "invalid"
    assert "HEAD:inventory/networks.yaml:3:" in capsys.readouterr().err


def commit_as(repo: Path, who: str, message: str) -> None:
    git(repo, "-c", f"user.name={who}", "-c", f"user.email={who}@example.org", "commit", "-q", "-m", message)


def test_approvals_are_read_from_the_head_revision(repo):
    blocked = analyse("HEAD", None, cwd=str(repo))
    approval = repo / "inventory" / "approvals" / "ok.yaml"
    approval.write_text(f"digest: {blocked.impact.digest}\nby: carol\nreason: reviewed\n")
    git(repo, "add", "inventory")
    commit_as(repo, "carol", "approved head")
    approved = analyse("HEAD~1", "HEAD", cwd=str(repo))
    assert approved.impact.digest == blocked.impact.digest
    assert approved.impact.to_json()["decision"] == "stagger"
    assert approved.impact.to_json()["approved_by"] == "carol"


def test_revision_read_from_inside_the_inventory_directory(repo, tmp_path):
    """From a directory inside the inventory (`--inventory ..` or `.`), git shows paths
    relative to it; approvals/ must still be recognised, and single files named plainly."""
    blocked = analyse("HEAD", None, cwd=str(repo))
    (repo / "inventory" / "approvals" / "ok.yaml").write_text(
        f"digest: {blocked.impact.digest}\nby: carol\nreason: ok\n"
    )
    git(repo, "add", "inventory")
    commit_as(repo, "carol", "approved head")
    for cwd, inventory_dir in ((repo / "inventory" / "approvals", ".."), (repo / "inventory", ".")):
        approved = analyse("HEAD~1", "HEAD", cwd=str(cwd), inventory_dir=inventory_dir)
        assert approved.impact.to_json()["decision"] == "stagger"
        assert approved.impact.to_json()["approved_by"] == "carol"
        assert approved.impact.to_json()["changes"][0]["where"].startswith(f"HEAD:{inventory_dir}/networks.yaml:")
    # A single-file inventory in a revision: errors name REV:file:line:col.
    (repo / "one").mkdir()
    (repo / "one" / "inv.yaml").write_text("segments: {x: {table: nope, priority: 1}}\n")
    git(repo, "add", "one")
    git(repo, "commit", "-q", "-m", "one file")
    with pytest.raises(Exception) as error:
        analyse("HEAD", "HEAD", cwd=str(repo / "one"), inventory_dir="inv.yaml")
    assert "HEAD:inv.yaml:1:" in str(error.value)
    assert "inv.yaml/inv.yaml" not in str(error.value)


def test_neither_directory_nor_revision_is_an_input_error(repo, monkeypatch, capsys):
    monkeypatch.chdir(repo)
    assert main(["impact", "no-such-rev"]) == 2
    assert "neither an existing directory nor a git revision" in capsys.readouterr().err


def test_option_like_revision_is_not_passed_to_git(repo, monkeypatch, capsys):
    monkeypatch.chdir(repo)
    assert main(["diff", "--", "--output=/tmp/x"]) == 2


def pull_request(repo: Path) -> None:
    """A branch `pr` off main whose commit (by mallory) adds the fleet-wide change."""
    git(repo, "checkout", "-q", "-b", "pr")
    git(repo, "add", "inventory")
    commit_as(repo, "mallory", "add a public network")


def test_a_pull_request_cannot_approve_itself(repo, monkeypatch, tmp_path):
    pull_request(repo)
    blocked = analyse("main", None, cwd=str(repo)).impact
    # The pull request adds an approval naming an approver: refused, its commit is mallory's.
    (repo / "inventory" / "approvals" / "self.yaml").write_text(
        f"digest: {blocked.digest}\nby: carol\nreason: looks fine to me\n"
    )
    git(repo, "add", "inventory")
    commit_as(repo, "mallory", "approve my own change")
    monkeypatch.chdir(repo)
    out = tmp_path / "r.json"
    assert main(["check", "--base", "main", "--report-json", str(out)]) == 3
    reasons = json.loads(out.read_text())["reasons"]
    assert any("names carol but was committed by mallory" in r for r in reasons), reasons
    # Read from the revision rather than the work tree: the same verdict.
    assert analyse("main", "pr", cwd=str(repo)).impact.decision == "block"


def test_an_approvers_commit_approves(repo, monkeypatch, tmp_path):
    pull_request(repo)
    blocked = analyse("main", None, cwd=str(repo)).impact
    (repo / "inventory" / "approvals" / "carol.yaml").write_text(
        f"digest: {blocked.digest}\nby: carol\nreason: reviewed the plan\n"
    )
    git(repo, "add", "inventory")
    commit_as(repo, "carol", "approve web09's network")
    monkeypatch.chdir(repo)
    out = tmp_path / "r.json"
    assert main(["check", "--base", "main", "--report-json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["decision"] == "stagger" and report["approved_by"] == "carol"
    assert any("(verified: carol <carol@example.org>" in r for r in report["reasons"])
    # Edited afterwards by the pull request's author: no longer carol's approval.
    approval = repo / "inventory" / "approvals" / "carol.yaml"
    approval.write_text(approval.read_text() + "# tweaked\n")
    git(repo, "add", "inventory")
    commit_as(repo, "mallory", "tweak")
    assert main(["check", "--base", "main", "--report-json", str(out)]) == 3


def test_an_uncommitted_approval_does_not_count_against_a_git_base(repo, monkeypatch, tmp_path):
    # A CI job could write it into the checkout: git cannot say who made it.
    blocked = analyse("HEAD", None, cwd=str(repo)).impact
    (repo / "inventory" / "approvals" / "carol.yaml").write_text(
        f"digest: {blocked.digest}\nby: carol\nreason: reviewed\n"
    )
    monkeypatch.chdir(repo)
    md = tmp_path / "s.md"
    assert main(["check", "--base", "HEAD", "--report-md", str(md)]) == 3
    assert "carol.yaml does not count: who added it cannot be verified: it is not committed" in md.read_text()
    # Between two directories there is no git to ask: the approver list alone applies.
    shutil.copytree(repo / "inventory", tmp_path / "head")
    before = str(EXAMPLES / "add-public-network" / "before")
    assert main(["check", "--base", before, "-i", str(tmp_path / "head"), "--report-md", str(md)]) == 0
    assert "unverified: read from a directory" in md.read_text()


def test_approvals_linked_from_outside_the_inventory_are_refused(repo, monkeypatch, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    shutil.move(repo / "inventory" / "approvals", elsewhere)
    (repo / "inventory" / "approvals").symlink_to(elsewhere)
    monkeypatch.chdir(repo)
    assert main(["check", "--base", "HEAD"]) == 2
    assert "approvals: error: is a symbolic link to a path outside the inventory" in capsys.readouterr().err


def test_a_submodule_inside_the_inventory_is_refused_not_skipped(repo, monkeypatch, capsys):
    # On disk its files would be read; from git they cannot be.
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{base},inventory/extra")
    git(repo, "commit", "-q", "-m", "a submodule")
    monkeypatch.chdir(repo)
    assert main(["impact", "HEAD~1", "HEAD"]) == 2
    assert "HEAD:inventory/extra: error: is a git submodule" in capsys.readouterr().err


def test_links_in_a_revision_are_read_as_on_disk(repo, monkeypatch, capsys):
    """A link to a directory outside the inventory is refused (it was skipped, files and
    all); links into hidden entries are followed, as on disk."""
    git(repo, "add", "inventory")
    git(repo, "commit", "-q", "-m", "head")
    inventory = repo / "inventory"
    (inventory / ".shared").mkdir()
    shutil.move(inventory / "machines.yaml", inventory / ".shared" / "machines.yaml")
    (inventory / "machines.yaml").symlink_to(Path(".shared", "machines.yaml"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a machine file behind a link into a hidden directory")
    monkeypatch.chdir(repo)
    assert main(["diff", "HEAD~1", "HEAD"]) == 0
    assert "no machine's configuration changes" in capsys.readouterr().out
    (repo / "elsewhere").mkdir()
    (repo / "elsewhere" / "more.yaml").write_text("machines: {}\n")
    (inventory / "more").symlink_to(Path("..", "elsewhere"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a directory behind a link out of the inventory")
    assert main(["diff", "HEAD~1", "HEAD"]) == 2
    assert "HEAD:inventory/more: error: is a symbolic link to a path outside the inventory" in capsys.readouterr().err


def test_a_head_inventory_leading_out_of_the_repository_is_refused(repo, monkeypatch, tmp_path, capsys):
    shutil.move(repo / "inventory", tmp_path / "outside")
    (repo / "inventory").symlink_to(tmp_path / "outside")
    monkeypatch.chdir(repo)
    assert main(["check", "--base", "HEAD"]) == 2
    assert "leads outside the git repository" in capsys.readouterr().err


def test_a_name_that_is_both_a_directory_and_a_revision_is_refused(repo, monkeypatch, capsys):
    # The pull request adds a directory called like the base revision.
    shutil.copytree(repo / "inventory", repo / "main")
    monkeypatch.chdir(repo)
    assert main(["check", "--base", "main"]) == 2
    err = capsys.readouterr().err
    assert "is both a directory" in err and "and a git revision (commit" in err
    assert "write ./main for the directory, or main^0 for the revision" in err
    assert main(["impact", "main^0", "HEAD"]) == 0  # the revision, said explicitly
    assert main(["impact", "./main"]) == 0  # the directory, said explicitly


def test_a_revision_name_git_reads_two_ways_is_refused(repo, monkeypatch, capsys):
    # A pull request's branch named like the remote-tracking base: git would warn and
    # pick the branch, comparing the pull request with itself.
    git(repo, "add", "inventory")
    commit_as(repo, "mallory", "head")
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD~1")
    git(repo, "branch", "origin/main", "HEAD")
    monkeypatch.chdir(repo)
    assert main(["check", "--base", "origin/main"]) == 2
    err = capsys.readouterr().err
    assert "is ambiguous in git: refs/heads/origin/main" in err and "refs/remotes/origin/main" in err
    assert main(["check", "--base", "refs/remotes/origin/main"]) == 3  # named in full: the real base


def test_a_revision_compared_with_itself_or_its_checkout_is_not_loaded(repo, monkeypatch):
    monkeypatch.chdir(repo)
    assert unchanged("HEAD") is None  # the work tree holds the 'after' inventory
    git(repo, "add", "inventory")
    git(repo, "commit", "-q", "-m", "head")
    assert unchanged("HEAD") is not None  # the work tree against its own commit
    assert unchanged("HEAD~1", "HEAD~1") is not None  # two revisions: the same tree
    assert unchanged("HEAD~1", "HEAD") is None
