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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from netcfg import limits
from netcfg.errors import InputError
from netcfg.gc_tuning import rare_full_collections
from netcfg.inventory.approvals import APPROVALS_DIR, Approval, Origin, parse_approvals
from netcfg.inventory.disk import YAML_SUFFIXES, utf8_text, yaml_files
from netcfg.inventory.disk import read_texts as read_files
from netcfg.inventory.load import Checks, read_inventory, read_inventory_texts, work_beside_checks
from netcfg.model.inventory import Inventory
from netcfg.problems import Location, Problem
from netcfg.progress import Progress, silent

R = TypeVar("R")


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
    commit = _rev_parse(str(spec), base)
    if candidate.exists() and commit is not None:
        # A pull request adding a directory `origin/main` must not make `--base
        # origin/main` compare the head with itself: a name that is both is refused.
        what = "directory" if candidate.is_dir() else "file"
        raise InputError(
            [
                Problem(
                    Location(str(spec)),
                    f"is both a {what} ({candidate}) and a git revision (commit {commit[:12]})",
                    f"write ./{spec} for the {what}, or {spec}^0 for the revision",
                )
            ]
        )
    if candidate.exists():
        return Source(path=candidate, inventory_dir=inventory_dir, cwd=base)
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
    # No pager, and paths as bytes: nothing of a user's configuration changes what we parse.
    return subprocess.run(
        ["git", "--no-pager", "-c", "core.quotepath=off", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        check=False,
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
    _refuse_ambiguous(revision, cwd)
    return done.stdout.decode().strip() or None


def _refuse_ambiguous(revision: str, cwd: Path) -> None:
    """git resolves a name that is, say, both a local branch and a remote-tracking one
    with only a warning; a pull request could add a branch `origin/main` to be compared
    with: such a name is an input error naming every reading."""
    names = [
        f"refs/{revision}",
        f"refs/tags/{revision}",
        f"refs/heads/{revision}",
        f"refs/remotes/{revision}",
        f"refs/remotes/{revision}/HEAD",
    ]
    listing = _git(["for-each-ref", "--format=%(refname) %(objectname)", *names], cwd).stdout.decode()
    found = {ref: commit for ref, _, commit in (line.partition(" ") for line in listing.splitlines()) if ref in names}
    if len(set(found.values())) > 1:
        readings = ", ".join(f"{ref} (commit {commit[:12]})" for ref, commit in sorted(found.items()))
        raise InputError(
            [Problem(Location(revision), f"is ambiguous in git: {readings}", "name the one you mean in full")]
        )


def tree_id(source: Source) -> str | None:
    """The git object id of the inventory at `source`'s commit: equal ids, equal files."""
    top = _git(["rev-parse", "--show-prefix"], source.cwd).stdout.decode().strip()
    path = os.path.normpath(os.path.join(top, source.inventory_dir)).replace(os.sep, "/")
    done = _git(["rev-parse", "--verify", "--quiet", f"{source.commit}:{'' if path == '.' else path}"], source.cwd)
    return done.stdout.decode().strip() or None if done.returncode == 0 else None


def revision_texts(source: Source) -> dict[str, str]:
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
    top = _git(["rev-parse", "--show-prefix"], source.cwd).stdout.decode().strip()
    full = os.path.normpath(os.path.join(top, source.inventory_dir)).replace(os.sep, "/")
    prefix = "" if full == "." else full.rstrip("/") + "/"
    blobs: dict[str, str] = {}  # path from the top -> blob id, of regular files (hidden ones too)
    links: dict[str, str] = {}  # path from the top -> blob id of the link's target text
    problems: list[Problem] = []

    def hidden(path: str) -> bool:
        relative = path[len(prefix) :] if path.startswith(prefix) else ""
        return any(part.startswith(".") for part in relative.split("/"))

    for record in listing.stdout.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, kind, oid = meta.decode().split()
        path = raw_path.decode("utf-8", errors="surrogateescape")
        if kind == "commit" and not hidden(path):
            # Its files are another repository's: on disk they would be read, here they
            # cannot be, and skipping them would judge a change without them.
            where = Location(f"{source.revision}:{path}")
            problems.append(Problem(where, "is a git submodule: its files are not in this repository, not read"))
        elif kind == "blob":
            (links if mode == "120000" else blobs)[path] = oid
    # Hidden entries are skipped as on disk, but a link may lead into one, as on disk.
    read = {path: oid for path, oid in blobs.items() if not hidden(path)}
    targets = dict(zip(links, _cat_blobs(list(links.values()), source.cwd, source), strict=True)) if links else {}
    for path in sorted(p for p in links if not hidden(p)):
        target = _link_target(path, targets, prefix, full)
        where = Location(f"{source.revision}:{path}")
        if target is None:
            problems.append(Problem(where, "is a symbolic link to a path outside the inventory: not read"))
            continue
        if target in blobs:
            if path.endswith(YAML_SUFFIXES):
                read[path] = blobs[target]
            continue
        inner = {p[len(target) :]: o for p, o in blobs.items() if p.startswith(target + "/")}
        if inner and hidden(target):
            # A link to a hidden directory: read under the link's name, as on disk (a
            # link to a directory that is read anyway adds nothing, as on disk).
            read.update({path + p: o for p, o in inner.items() if "/." not in p})
        elif not inner and path.endswith(YAML_SUFFIXES):
            problems.append(Problem(where, "is a broken symbolic link: not read"))
    entries: list[tuple[str, str]] = []  # (blob id, path relative to the inventory dir)
    for path in sorted(read):
        if path.endswith(YAML_SUFFIXES):
            # A single-file inventory is the file itself: "" (shown as just REV:file).
            relative = path[len(prefix) :] if path.startswith(prefix) else "" if path == full else path
            entries.append((read[path], relative))
    if problems:
        raise InputError(problems)
    if not entries:
        raise InputError(
            [Problem(Location(source.label), f"no YAML files under {source.inventory_dir!r} at {source.revision}")]
        )
    texts = _cat_blobs([o for o, _ in entries], source.cwd, source, [p for _, p in entries])
    return dict(zip((p for _, p in entries), texts, strict=True))


def _link_target(path: str, targets: Mapping[str, str], prefix: str, full: str) -> str | None:
    """Where the link at `path` leads, links on the way followed (paths from the
    repository's top); None when that is outside the inventory."""
    for _ in range(40):  # the kernel's own limit on links followed
        target = os.path.normpath(os.path.join(os.path.dirname(path), targets[path])).replace(os.sep, "/")
        if not ((target + "/").startswith(prefix) or target == full) or target.startswith("../"):
            return None
        if target not in targets:
            return target
        path = target
    return None


def _cat_blobs(oids: list[str], cwd: Path, source: Source, names: list[str] | None = None) -> list[str]:
    """The UTF-8 contents of many blobs in one `git cat-file --batch` call; a blob too
    large or not UTF-8 is an input error naming it (`names`, relative paths)."""
    done = _git(["cat-file", "--batch"], cwd, stdin="".join(f"{o}\n" for o in oids).encode())
    if done.returncode != 0:
        raise InputError(f"git cat-file failed: {done.stderr.decode().strip()}")
    data, pos, texts = done.stdout, 0, []
    problems = []
    for n, _ in enumerate(oids):
        header_end = data.index(b"\n", pos)
        _oid, _kind, size = data[pos:header_end].decode().split()
        start = header_end + 1
        end = start + int(size)
        name = f"{source.label}/{names[n]}" if names and names[n] else source.label
        if end - start > limits.YAML_FILE_BYTES:
            problems.append(Problem(Location(name), f"is larger than {limits.YAML_FILE_BYTES >> 20} MiB: not read"))
            texts.append("")
        else:
            try:
                texts.append(utf8_text(data[start:end], name))
            except InputError as error:
                problems.extend(error.problems)
                texts.append("")
        pos = end + 1  # the newline git prints after every object
    if problems:
        raise InputError(problems)
    return texts


def disk_texts(root: Path, subdir: str) -> Mapping[str, str]:
    """YAML files under `root/subdir` on disk, keyed by path relative to `root`."""
    folder = root / subdir
    if not folder.is_dir():
        return {}
    texts = read_files(yaml_files(folder, inside=root))
    return {str(Path(p).relative_to(root)): text for p, text in texts.items()}


@dataclass(frozen=True, slots=True)
class _Side:
    """One side read, its inventory's checks not run yet (read_inventory)."""

    inventory: Inventory | None  # None: it could not be read at all (`failed` says why)
    checks: Checks | None
    approvals: tuple[Approval, ...] = ()
    failed: tuple[Problem, ...] = ()
    approval_problems: tuple[Problem, ...] = ()

    @property
    def readable(self) -> bool:
        """Whether every file read: then the checks are worth running beside other work."""
        return self.checks is not None and not self.checks.read_problems

    def problems(self) -> list[Problem]:
        """Its problems, the checks run: those of the inventory, else of its approvals
        (as load_inventory would have raised before they were read)."""
        if self.checks is None:
            return list(self.failed)
        return self.checks() or list(self.approval_problems)


def _read_side(source: Source, from_git: bool) -> _Side:
    """The inventory of one side and the approvals stored with it, each with who last
    changed it when it comes from git: read from a revision, or (`from_git`) from a
    directory compared with a revision, whose committed approvals git can vouch for."""
    try:
        if source.path is not None:
            inventory, checks = read_inventory(source.path)
        else:
            texts = revision_texts(source)
            prefix = APPROVALS_DIR + "/"
            approval_texts: Mapping[str, str] = {
                p: t for p, t in texts.items() if p.startswith(prefix) and "/" not in p[len(prefix) :]
            }
            # Keys name the file as git shows it ("origin/main:inventory/networks.yaml"),
            # so every error points at rev:path:line:col.
            inventory_texts = {
                f"{source.label}/{p}" if p else source.label: t for p, t in texts.items() if not p.startswith(prefix)
            }
            inventory, checks = read_inventory_texts(inventory_texts, source.label, ())
    except InputError as error:
        return _Side(None, None, failed=tuple(error.problems))
    try:
        if source.path is None:
            assert source.commit is not None
            origins = commit_origins(source.cwd, source.commit, {p: _repo_path(source, p) for p in approval_texts})
            approvals = parse_approvals(approval_texts, source.label, origins)
        elif source.path.is_dir():
            approval_texts = disk_texts(source.path, APPROVALS_DIR)
            origins = worktree_origins(source.path, approval_texts) if from_git else {}
            approvals = parse_approvals(approval_texts, str(source.path), origins)
        else:
            approvals = ()
    except InputError as error:
        return _Side(inventory, checks, approval_problems=tuple(error.problems))
    return _Side(inventory, checks, approvals)


def _repo_path(source: Source, relative: str) -> str:
    """The path of a file of the inventory directory, from the repository's top."""
    top = _git(["rev-parse", "--show-prefix"], source.cwd).stdout.decode().strip()
    return os.path.normpath(os.path.join(top, source.inventory_dir, relative)).replace(os.sep, "/")


def commit_origins(cwd: Path, commit: str, paths: Mapping[str, str]) -> dict[str, Origin]:
    """Who last changed each file ({key: path from the repository's top}) in the history
    of `commit`: the author of the commit that added (or last edited) it."""
    shallow = _git(["rev-parse", "--is-shallow-repository"], cwd).stdout.decode().strip() == "true"
    origins = {}
    for key, path in paths.items():
        done = _git(["log", "-1", "--format=%H%x00%an%x00%ae", commit, "--", f":(top,literal){path}"], cwd)
        fields = done.stdout.decode("utf-8", errors="replace").strip().split("\0")
        if done.returncode != 0 or len(fields) != 3:
            origins[key] = Origin(unverifiable="git log could not tell who added it")
            continue
        found, name, email = fields
        # In a shallow clone the oldest commit seems to add every file: it proves nothing.
        why = "the clone is shallow (fetch the whole history: git fetch --unshallow)" if shallow else ""
        origins[key] = Origin(found, name, email, why)
    return origins


def worktree_origins(directory: Path, texts: Mapping[str, str]) -> dict[str, Origin]:
    """Origins of approval files read from a git work tree compared with a git base (a
    pull request's checkout): a file committed unchanged has the author of the commit
    that last changed it; one git cannot vouch for (uncommitted, edited, untracked,
    ignored) does not count, or a pull request could approve itself by writing a file
    its CI job never committed."""
    if not texts:
        return {}
    top = _git(["rev-parse", "--show-toplevel"], directory)
    if top.returncode != 0:
        return {key: Origin(unverifiable="it is not in a git work tree") for key in texts}
    root = Path(top.stdout.decode().strip()).resolve()
    head = _rev_parse("HEAD", root)
    paths, origins = {}, {}
    for key in texts:
        relative = os.path.relpath((directory / key).resolve(), root)
        tracked = _git(["ls-files", "--error-unmatch", "--", f":(literal){relative}"], root).returncode == 0
        clean = _git(["diff", "--quiet", "HEAD", "--", f":(literal){relative}"], root).returncode == 0
        if head and tracked and clean:
            paths[key] = relative
        else:
            origins[key] = Origin(unverifiable="it is not committed (git status shows it changed or untracked)")
    return origins | (commit_origins(root, head, paths) if head and paths else {})


def refuse_leaving_repository(head: Source) -> None:
    """A head directory compared with a git base is read from the repository's work
    tree: one that is a link leading out of it is refused, a pull request must not make
    CI read another directory of the runner."""
    assert head.path is not None
    top = _git(["rev-parse", "--show-toplevel"], head.cwd)
    if top.returncode != 0:
        return  # not run in a repository: the base's rev-parse already failed
    root = os.path.realpath(top.stdout.decode().strip())
    real = os.path.realpath(head.path)
    if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
        raise InputError([Problem(Location(str(head.path)), f"leads outside the git repository ({root}): not read")])


def load_pair_beside(
    base: Source,
    head: Source,
    work: Callable[[Inventory, Inventory, tuple[Approval, ...]], R],
    jobs: int = 1,
    progress: Progress = silent,
) -> R:
    """`work(base, head, the head's approvals)`. With `jobs` > 1, each side's checks run
    in a forked worker beside the main work: the base's while the head is read, the
    head's beside `work`, which then runs on an inventory not checked yet and counts only
    once it is. Every problem of both sides is raised first (InputError), as if the
    checks had run before anything else; then `work`'s own error."""
    from netcfg import forked  # not for the commands that only read (its ctypes)

    if base.revision is not None and head.path is not None:
        refuse_leaving_repository(head)
    # A head in the work tree compared with a git base is a pull request's checkout
    # (what CI runs): its approvals are authenticated by git too.
    from_git = base.revision is not None
    with rare_full_collections():  # reading builds millions of small objects
        progress(f"reading {base.label}")
        base_side = _read_side(base, from_git)

        def read_head() -> _Side:
            progress(f"reading {head.label}")
            return _read_side(head, from_git)

        parallel = jobs > 1 and forked.can_fork()
        if parallel and base_side.readable:
            head_side, base_problems = forked.beside(read_head, base_side.problems, "inventory check")
        else:
            base_problems = base_side.problems()
            head_side = read_head()
    if base_problems or not head_side.readable:
        raise InputError(base_problems + head_side.problems())
    assert base_side.inventory is not None and head_side.inventory is not None
    attempt = partial(work, base_side.inventory, head_side.inventory, head_side.approvals)
    return work_beside_checks(attempt, head_side.problems, parallel)
