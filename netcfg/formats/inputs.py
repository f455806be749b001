"""What a machine's rendered files depend on, as one key per machine, so `netcfg render`
can skip the machines whose inputs are the same as in the run that wrote the files.

The key covers everything rendering reads: the machine's HostConfig, the formats, the
iproute2 `create_links` switch, and the code that turns one into the other (netcfg's
version, the format modules, the model, the default templates, and a user's templates
directory). A shared part of the rules or routes (model/entries.py) is digested once
per run, however many machines carry it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import netcfg
from netcfg.errors import InputError
from netcfg.inventory.disk import read_texts, yaml_files
from netcfg.model.entries import parts_of
from netcfg.model.host import HostConfig

_PACKAGE = Path(netcfg.__file__).resolve().parent
_CODE = ("formats", "model", "templates")  # what decides a file's text, besides its config


def fingerprint(formats: Iterable[str], templates: Path | None, create_links: bool) -> bytes:
    """The digest of every input shared by all machines of a render run."""
    digest = hashlib.sha256(f"netcfg {netcfg.__version__}\0{','.join(formats)}\0{create_links}\0".encode())
    for folder in _CODE:
        _digest_tree(digest, _PACKAGE / folder, suffixes=(".py", ".j2"))
    if templates is not None:
        digest.update(b"\0user templates\0")
        # Every file: a template may include, import or extend any name beside it.
        _digest_tree(digest, templates, suffixes=None)
    return digest.digest()


def run_key(inventory: Path, shared: bytes, settings: str) -> str | None:
    """The key of a whole render run: the inventory's bytes (every YAML file under it),
    all of netcfg's code (designs and loader decide the configs too), the run's shared
    inputs (`fingerprint`) and its other `settings`. The same key as a finished run
    means the same files, without loading anything. None when the inventory cannot be
    read cheaply: the full run reports why."""
    try:
        texts = read_texts([inventory] if inventory.is_file() else yaml_files(inventory))
    except (InputError, OSError):
        return None
    digest = hashlib.sha256(shared + b"\0" + settings.encode() + b"\0")
    _digest_tree(digest, _PACKAGE, suffixes=(".py", ".j2"))
    root = len(str(inventory))
    for name, text in sorted(texts.items()):
        digest.update(f"\0{name[root:]}\0{text}".encode())
    return digest.hexdigest()


def _digest_tree(digest: hashlib._Hash, root: Path, suffixes: tuple[str, ...] | None) -> None:
    for path in sorted(root.rglob("*")):
        if (suffixes is None or path.suffix in suffixes) and path.is_file():
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")


class InputKeys:
    """Per machine, the hex digest of its inputs under one run's fingerprint."""

    def __init__(self, shared: bytes) -> None:
        self._shared = shared
        self._parts: dict[int, bytes] = {}
        self._alive: list[object] = []  # keeps digested parts' ids from being reused

    def __call__(self, config: HostConfig) -> str:
        digest = hashlib.sha256(self._shared)
        head = (config.name, config.kind, config.design, config.interfaces, config.forwarding)
        digest.update(repr(head).encode())
        for entries in (config.rules, config.routes):
            digest.update(b"\0")
            for part in parts_of(entries):
                digest.update(self._part(part))
        return digest.hexdigest()

    def _part(self, part: tuple[object, ...]) -> bytes:
        found = self._parts.get(id(part))
        if found is None:
            found = self._parts[id(part)] = hashlib.sha256(repr(part).encode()).digest()
            self._alive.append(part)
        return found
