"""The inventory digest: what the inventory says, not how it is written or where from."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from netcfg.inventory.digest import inventory_digest
from netcfg.inventory.load import load_inventory
from netcfg.inventory.sources import load_pair_beside, resolve

REPO = Path(__file__).resolve().parents[2]


def test_comments_layout_and_file_split_do_not_change_it(tmp_path):
    original = inventory_digest(load_inventory(REPO / "inventory"))
    copy = tmp_path / "inv"
    shutil.copytree(REPO / "inventory", copy)
    policy = copy / "policy.yaml"
    policy.write_text(
        "# a comment nobody had before\n\n"
        + policy.read_text().replace("design: policy-routing", "design:   policy-routing")
    )
    (copy / "machines" / "physical.yaml").rename(copy / "physical-moved.yaml")
    assert inventory_digest(load_inventory(copy)) == original


def test_any_value_changes_it(tmp_path):
    original = inventory_digest(load_inventory(REPO / "inventory"))
    copy = tmp_path / "inv"
    shutil.copytree(REPO / "inventory", copy)
    policy = copy / "policy.yaml"
    policy.write_text(policy.read_text().replace("soak_s: 300", "soak_s: 301"))
    changed = inventory_digest(load_inventory(copy))
    assert changed != original and len(changed) == 64


def test_a_git_revision_and_its_checkout_have_the_same_digest(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "inventory", repo / "inventory")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "inventory"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True)
    revision = resolve("HEAD", cwd=repo)
    from_git = load_pair_beside(revision, revision, lambda base, head, approvals: head)
    assert inventory_digest(from_git) == inventory_digest(load_inventory(repo / "inventory"))
