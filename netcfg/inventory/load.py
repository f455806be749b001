"""Placeholder: the loader lands in the next commit."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from netcfg.inventory.model import Inventory


def load_inventory(path: str | Path) -> Inventory:
    raise NotImplementedError


def load_inventory_texts(texts: Mapping[str, str], source: str = "") -> Inventory:
    raise NotImplementedError
