"""Whether both sides of a comparison hold the same inventory, byte for byte, found
without parsing it: a `check` on a pull request that leaves the inventory alone costs a
read of the files, not a load and a render of the fleet.

Only a certain answer counts. Anything unusual (a file that cannot be read, a policy
that cannot be found by its top-level key) answers "not known", and the caller runs
the full analysis, which reports whatever is wrong.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from netcfg.errors import InputError
from netcfg.inventory.disk import read_texts, yaml_files
from netcfg.inventory.load import read_policy
from netcfg.inventory.sources import Source, refuse_leaving_repository, revision_texts, tree_id
from netcfg.model.inventory import Policy

_POLICY_KEY = re.compile(r"^policy[ \t]*:", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class SameContent:
    files: int
    policy: Policy


def same_content(base: Source, head: Source) -> SameContent | None:
    """Both sides' files (approvals included) when identical, with the policy they
    declare; None when they differ or when it cannot be told cheaply."""
    if base.commit is not None and head.commit is not None:
        base_tree, head_tree = tree_id(base), tree_id(head)
        if base_tree is None or base_tree != head_tree:
            return None
    try:
        if base.commit is not None and head.path is not None:
            refuse_leaving_repository(head)  # the full analysis says why
        texts = _texts(head)
        # No files at all is a mistyped path, not an unchanged inventory: the full
        # analysis says so.
        if not texts or texts != _texts(base):
            return None
    except InputError:
        return None  # the full analysis reports it, with its location
    policy = _policy(texts)
    return SameContent(len(texts), policy) if policy is not None else None


def _texts(source: Source) -> dict[str, str] | None:
    """{path relative to the inventory: text} of every YAML file the loader reads."""
    if source.commit is not None:
        return revision_texts(source)
    assert source.path is not None
    if source.path.is_file():
        return {"": next(iter(read_texts([source.path]).values()))}
    if not source.path.is_dir():
        return None
    texts = read_texts(yaml_files(source.path))
    return {os.path.relpath(name, source.path): text for name, text in texts.items()}


def _policy(texts: dict[str, str]) -> Policy | None:
    """The policy, read from the one file that declares it at the top level; the
    default when no file mentions a policy at all; None when that cannot be told."""
    declaring = [name for name, text in texts.items() if _POLICY_KEY.search(text)]
    if not declaring:
        # Spelt another way (a flow mapping, a quoted key)? Then it is not known here.
        return None if any("policy" in text for text in texts.values()) else Policy()
    if len(declaring) > 1:
        return None
    return read_policy(declaring[0], texts[declaring[0]])
