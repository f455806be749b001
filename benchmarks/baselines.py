"""The floor commands the benchmarks compare netcfg with, run as processes of their own.

python benchmarks/baselines.py compose DIR...   libyaml composing every YAML file
python benchmarks/baselines.py load DIR...      netcfg loading each inventory (no analysis)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's netcfg


def compose(directories: list[str]) -> None:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=False)
    for directory in directories:
        for path in sorted(Path(directory).rglob("*.y*ml")):
            yaml.compose(path.read_text(encoding="utf-8"))


def load(directories: list[str]) -> None:
    from netcfg.inventory.load import load_inventory

    for directory in directories:
        load_inventory(directory)


if __name__ == "__main__":
    {"compose": compose, "load": load}[sys.argv[1]](sys.argv[2:])
