"""Approvals: YAML files in the inventory's `approvals/` naming the digest they unblock.

    digest: 3f1c...   # sha256 of the change, as `netcfg check` prints it
    by: alice         # who approved
    reason: new public network for the shop, applied hot; reviewed the plan

Parsed with ruamel's safe loader and checked strictly; every problem names
file:line:col, like the inventory's own errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from netcfg.errors import InputError, quote
from netcfg.inventory.yaml_size import too_deep
from netcfg.problems import Location, Problem

APPROVALS_DIR = "approvals"
_KEYS = ("digest", "by", "reason")
APPROVAL_CHARACTERS = 16_384  # three short values
APPROVAL_NESTING = 10
_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True, order=True)
class Origin:
    """Who last changed an approval file, when it was read from git."""

    commit: str = ""  # empty: read from a directory, nothing to authenticate it by
    author_name: str = ""
    author_email: str = ""
    unverifiable: str = ""  # why git could not tell (a shallow clone): it does not count

    def made_by(self, who: str) -> bool:
        """Whether the commit's author is `who` (their name, or their e-mail address)."""
        return who == self.author_name or who.lower() == self.author_email.lower()

    def __str__(self) -> str:
        return f"{self.author_name} <{self.author_email}> in commit {self.commit[:12]}"


@dataclass(frozen=True, slots=True, order=True)
class Approval:
    file: str
    digest: str
    by: str
    reason: str
    location: Location
    origin: Origin = Origin()


def parse_approvals(
    texts: Mapping[str, str], source: str = "", origins: Mapping[str, Origin] | None = None
) -> tuple[Approval, ...]:
    """Approvals from {path: yaml text}, each with its origin from `origins` (same keys;
    absent: read from a directory); paths are shown prefixed with `source`."""
    problems: list[Problem] = []
    approvals: list[Approval] = []
    for path in sorted(texts):
        shown = f"{source}/{path}" if source else path
        approval = _parse_one(shown, texts[path], problems)
        if approval is not None:
            approvals.append(replace(approval, origin=(origins or {}).get(path, Origin())))
    if problems:
        raise InputError(problems)
    return tuple(approvals)


def _parse_one(shown: str, text: str, problems: list[Problem]) -> Approval | None:
    if len(text) > APPROVAL_CHARACTERS:
        # The round-trip loader is pure Python: 600 KB of YAML took it 30 s and 440 MB.
        problems.append(Problem(Location(shown), f"is longer than {APPROVAL_CHARACTERS:,} characters: not read"))
        return None
    deep = too_deep(text, APPROVAL_NESTING)
    if deep:
        # The round-trip loader recurses per level, and slowly: measured first, with the C parser.
        problems.append(Problem(Location(shown, *deep), "nests too deeply: an approval is three values"))
        return None
    yaml = YAML(typ="rt")  # round-trip loader: safe, and it keeps line/column marks
    try:
        data = yaml.load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        message = getattr(error, "problem", None) or str(error)
        # ruamel quotes the values it found (a duplicate key's, both of them) whole.
        message = re.sub(r'"([^"]*)"', lambda m: quote(m.group(1)), " ".join(str(message).split()))
        problems.append(Problem(Location(shown, line, col), f"invalid YAML: {message}"))
        return None
    if not isinstance(data, CommentedMap):
        problems.append(Problem(Location(shown, 1, 1), "an approval is a mapping with digest, by, reason"))
        return None

    def at(key: str | None, value: bool = True) -> Location:
        """Where the value of `key` is (or the key itself, or the mapping)."""
        if key is not None and key in data:
            line, col = data.lc.value(key) if value else data.lc.key(key)
            return Location(shown, line + 1, col + 1)
        return Location(shown, data.lc.line + 1, data.lc.col + 1)

    found_problem = False
    for key in data:
        if key not in _KEYS:
            problems.append(Problem(at(key, value=False), f"unknown key {quote(key)}", "expected digest, by, reason"))
            found_problem = True
    values: dict[str, str] = {}
    for key in _KEYS:
        value = data.get(key)
        if value is None:
            problems.append(Problem(at(None), f"missing {key!r}"))
            found_problem = True
        elif not isinstance(value, str) or not value.strip():
            problems.append(Problem(at(key), f"{key!r} must be a non-empty string", "quote it"))
            found_problem = True
        elif not value.isprintable():
            problems.append(Problem(at(key), f"{key!r} holds a control character", "write printable text"))
            found_problem = True
        else:
            values[key] = value.strip()
    digest = values.get("digest", "").lower()
    if "digest" in values and not _DIGEST.fullmatch(digest):
        problems.append(Problem(at("digest"), "digest must be 64 hexadecimal characters (sha256)"))
        found_problem = True
    if found_problem:
        return None
    return Approval(shown, digest, values["by"], values["reason"], at("digest"))
