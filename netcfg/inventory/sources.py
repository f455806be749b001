"""Where an inventory comes from (a directory or file on disk, or a git revision), and
loading it from there with the approvals stored beside it.

A git revision is read with real git, object by object, without touching the work
tree or the index (`git ls-tree` + `git cat-file --batch`), so `netcfg check --base
origin/main` works in a dirty checkout and in CI alike. Every subprocess gets a list of
arguments: no shell string is ever built from user data.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from netcfg.errors import InputError, Location, Problem
from netcfg.gc_tuning import rare_full_collections
from netcfg.inventory.approvals import APPROVALS_DIR, Approval, parse_approvals
from netcfg.inventory.load import load_inventory, load_inventory_texts
from netcfg.model.inventory import Inventory

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class Source:
    """One side of a comparison: `path` on disk, or `inventory_dir` at git `revision`."""

    path: Path | None = None
    revision: str | None = None  # as the user wrote it ("origin/main")
    commit: str | None = None  # the full commit id it resolved to
    inventory_dir: str = "inventory"
    cwd: Path = Path(".")

    @property
    def label(self) -> str:
        if self.path is not None:
            return str(self.path)
        return f"{self.revision}:{self.inventory_dir}"


def resolve(
    spec: str | os.PathLike[str] | None, *, inventory_dir: str = "inventory", cwd: str | os.PathLike[str] = "."
) -> Source:
    """An existing directory or file is read from disk; anything else must be a git
    revision; `None` means the working tree's `inventory_dir`."""
    base = Path(cwd)
    if spec is None:
        return Source(path=base / inventory_dir, inventory_dir=inventory_dir, cwd=base)
    candidate = Path(spec) if Path(spec).is_absolute() else base / spec
    if candidate.exists():
        return Source(path=candidate, inventory_dir=inventory_dir, cwd=base)
    commit = _rev_parse(str(spec), base)
    if commit is None:
        raise InputError(
            [
                Problem(
                    Location(str(spec)),
                    "neither an existing directory nor a git revision",
                    f"looked for a directory under {base} and ran git rev-parse there",
                )
            ]
        )
    return Source(revision=str(spec), commit=commit, inventory_dir=_git_relative(inventory_dir, base), cwd=base)


def _git_relative(inventory_dir: str, cwd: Path) -> str:
    # git pathspecs are relative to the directory git runs in; an absolute directory is
    # turned into one so `--inventory /abs/path/inventory` works from anywhere inside.
    if os.path.isabs(inventory_dir):
        return os.path.relpath(inventory_dir, cwd)
    return inventory_dir


def _git(args: list[str], cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        check=False,
        # A user's pager or locale must not leak into what we parse.
        env={**os.environ, "GIT_PAGER": "cat", "LC_ALL": "C"},
    )


def _rev_parse(revision: str, cwd: Path) -> str | None:
    if revision.startswith("-"):
        return None  # never let a "revision" become a git option
    try:
        done = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"], cwd)
    except FileNotFoundError:
        return None  # git is not installed: the argument cannot be a revision
    if done.returncode != 0:
        return None
    return done.stdout.decode().strip() or None


def read_texts(source: Source) -> dict[str, str]:
    """Every YAML file of the inventory at `source.revision`, keyed by its path relative
    to the inventory directory (approvals/ included: callers split them off)."""
    assert source.commit is not None
    # --full-name: paths from the repository's top, whatever directory git runs in (by
    # default ls-tree shows them relative to it, so from a subdirectory with
    # `--inventory ../inventory` they came out as `../x.yaml` and approvals/ was not
    # recognised as such).
    listing = _git(["ls-tree", "-r", "-z", "--full-name", source.commit, "--", source.inventory_dir], source.cwd)
    if listing.returncode != 0:
        raise InputError([Problem(Location(source.label), f"git ls-tree failed: {listing.stderr.decode().strip()}")])
    entries: list[tuple[str, str]] = []  # (blob id, path relative to the inventory dir)
    top = _git(["rev-parse", "--show-prefix"], source.cwd).stdout.decode().strip()
    full = os.path.normpath(os.path.join(top, source.inventory_dir)).replace(os.sep, "/")
    prefix = "" if full == "." else full.rstrip("/") + "/"
    for record in listing.stdout.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, kind, oid = meta.decode().split()
        path = raw_path.decode("utf-8", errors="surrogateescape")
        # Only regular files: symlinks (120000) and submodules (commit) are not inventory.
        if kind != "blob" or mode == "120000" or not path.endswith(YAML_SUFFIXES):
            continue
        # A single-file inventory is the file itself: "" (shown as just REV:file).
        relative = path[len(prefix) :] if path.startswith(prefix) else "" if path == full else path
        entries.append((oid, relative))
    if not entries:
        raise InputError(
            [Problem(Location(source.label), f"no YAML files under {source.inventory_dir!r} at {source.revision}")]
        )
    return dict(zip((p for _, p in entries), _cat_blobs([o for o, _ in entries], source.cwd), strict=True))


def _cat_blobs(oids: list[str], cwd: Path) -> list[str]:
    """The contents of many blobs in one `git cat-file --batch` call."""
    done = _git(["cat-file", "--batch"], cwd, stdin="".join(f"{o}\n" for o in oids).encode())
    if done.returncode != 0:
        raise InputError(f"git cat-file failed: {done.stderr.decode().strip()}")
    data, pos, texts = done.stdout, 0, []
    for _ in oids:
        header_end = data.index(b"\n", pos)
        _oid, _kind, size = data[pos:header_end].decode().split()
        start = header_end + 1
        end = start + int(size)
        texts.append(data[start:end].decode("utf-8", errors="replace"))
        pos = end + 1  # the newline git prints after every object
    return texts


def disk_texts(root: Path, subdir: str) -> Mapping[str, str]:
    """YAML files under `root/subdir` on disk, keyed by path relative to `root`."""
    folder = root / subdir
    if not folder.is_dir():
        return {}
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name.endswith(YAML_SUFFIXES)
    }


def load_source(source: Source) -> tuple[Inventory, tuple[Approval, ...]]:
    """The inventory of one side and the approvals stored with it."""
    if source.path is not None:
        inventory = load_inventory(source.path)
        if source.path.is_dir():
            return inventory, parse_approvals(disk_texts(source.path, APPROVALS_DIR), str(source.path))
        return inventory, ()
    texts = read_texts(source)
    prefix = APPROVALS_DIR + "/"
    approval_texts = {p: t for p, t in texts.items() if p.startswith(prefix) and "/" not in p[len(prefix) :]}
    # Keys name the file as git shows it ("origin/main:inventory/networks.yaml"), so
    # every error points at rev:path:line:col.
    inventory_texts = {
        f"{source.label}/{p}" if p else source.label: t for p, t in texts.items() if not p.startswith(prefix)
    }
    inventory = load_inventory_texts(inventory_texts, source=source.label)
    return inventory, parse_approvals(approval_texts, source.label)


def load_pair(base: Source, head: Source) -> tuple[Inventory, Inventory, tuple[Approval, ...]]:
    """Both sides, with every problem of both reported at once; the head's approvals."""
    problems: list[Problem] = []
    loaded = []
    with rare_full_collections():  # loading builds millions of small objects
        for side in (base, head):
            try:
                loaded.append(load_source(side))
            except InputError as error:
                problems.extend(error.problems)
    if problems:
        raise InputError(problems)
    (base_inv, _), (head_inv, approvals) = loaded
    return base_inv, head_inv, approvals
