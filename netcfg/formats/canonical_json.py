"""The canonical JSON of a HostConfig, fast enough for a fleet.

Sorted keys, two-space indent: exactly `json.dumps(config.to_dict(), sort_keys=True,
indent=2)`, but assembled from per-rule and per-route fragments rendered once per
distinct entry: json's indenting encoder is pure Python, and re-encoding the same few
hundred segment rules for each of 10,000 machines would dominate the render time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any

from netcfg.model.entries import WHOLE_PART, PerPart, parts_of
from netcfg.model.host import HostConfig


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)


class HostJson:
    """Canonical JSON of HostConfigs, with entry fragments cached by identity (see
    registry.Templates for why identity)."""

    def __init__(self) -> None:
        self._by_id: dict[int, str] = {}
        self._by_value: dict[object, str] = {}
        # A shared part's fragments joined once (model/entries.py).
        self._part: PerPart[object, str] = PerPart(lambda part: ",\n".join(self._fragments(part)), WHOLE_PART)
        self._alive: list[object] = []  # keeps cached ids from being reused

    def _fragment(self, entry: object) -> str:
        text = self._by_value.get(entry)
        if text is None:
            # Entries sit two levels deep: four spaces before each of their lines.
            fields = asdict(entry)  # type: ignore[call-overload]
            text = "    " + _dumps(fields).replace("\n", "\n    ")
            self._by_value[entry] = text
        self._by_id[id(entry)] = text
        self._alive.append(entry)
        return text

    def _fragments(self, entries: Sequence[object]) -> list[str]:
        parts = list(map(self._by_id.get, map(id, entries)))
        if None in parts:
            return [p or self._fragment(e) for p, e in zip(parts, entries, strict=True)]
        return parts  # type: ignore[return-value]  # no None left in it

    def _list(self, entries: Sequence[object]) -> str:
        if not entries:
            return "[]"
        return "[\n" + ",\n".join(map(self._part, parts_of(entries))) + "\n  ]"

    def __call__(self, value: Any) -> str:
        if not isinstance(value, HostConfig):
            return _dumps(value)
        head = replace(value, routes=(), rules=()).to_dict()
        # "routes" and "rules" sort after every other key: append them to the rest.
        del head["routes"], head["rules"]
        text = _dumps(head)[: -len("\n}")]
        return f'{text},\n  "routes": {self._list(value.routes)},\n  "rules": {self._list(value.rules)}\n}}'
