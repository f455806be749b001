"""How big a YAML text is, measured before it is composed: composing recurses per level
of nesting (the C composer crashes the process past some 20,000) and takes about 250
bytes of memory per value. The inventory's loader and the approvals' use these."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from netcfg import limits


def _parse(text: str) -> Iterator[Event]:
    """The C parser's events: a flat stream, however deep the text nests."""
    return YAML(typ="safe", pure=False).parse(text)


# Quoted scalars on one line, and comments: they may hold brackets that nest nothing.
# A quote opens a scalar only where a scalar can start (after a space, a flow
# indicator or ':'); the lookbehinds follow the first character so the scan is fast.
_QUOTED_OR_COMMENT = re.compile(r'"(?<=[\s\[{,:?-]")[^"\\\n]*"|\'(?<=[\s\[{,:?-]\')[^\'\n]*\'|#(?<=\s#)[^\n]*')
# Every printable ASCII character but the brackets: deleted to leave the brackets.
_KEEP_BRACKETS = {c: None for c in range(32, 127) if chr(c) not in "[]{}"} | {ord("\t"): None, ord("\r"): None}
_NOT_BRACKET = re.compile(r"[^\[\]{}\n]+")
_PAIR = re.compile(r"\[\]|\{\}")


def too_deep(text: str, limit: int = limits.NESTING) -> tuple[int, int] | None:
    """Where a YAML text first nests collections deeper than `limit` (the line and
    column where that collection starts, from 1), or None. The C
    composer recurses per level and crashes the process past some 20,000 levels, so
    this runs first. The usual file is decided at C speed: with quoted scalars and
    comments set aside, every flow collection closes on the line it opens on (each
    pass removes one level of empty bracket pairs). Anything else (a collection over
    several lines, quotes that span lines, deep indentation, "- - -") is measured
    exactly with the parser's events, which nest no call stack."""
    if " " * limit not in text and "- - " not in text:
        stripped = _QUOTED_OR_COMMENT.sub("", text)
        if "'" not in stripped and '"' not in stripped:
            brackets = stripped.translate(_KEEP_BRACKETS)
            if not brackets.isascii():
                brackets = _NOT_BRACKET.sub("", brackets)
            for _ in range(limit):
                brackets, removed = _PAIR.subn("", brackets)
                if not removed:
                    break
            if not brackets.strip("\n"):
                return None
    depth = 0
    try:
        for event in _parse(text):
            if isinstance(event, (SequenceStartEvent, MappingStartEvent)):
                depth += 1
                if depth > limit:
                    return event.start_mark.line + 1, event.start_mark.column + 1
            elif isinstance(event, (SequenceEndEvent, MappingEndEvent)):
                depth -= 1
    except YAMLError:
        return None  # composing reports the syntax error with its location
    return None


def too_many_values(text: str) -> bool:
    """Whether a YAML text holds more than limits.YAML_VALUES values, decided before it
    is composed (composing is what takes the memory). Every value but the first follows
    one of these characters, so their count bounds the values at C speed; only a text
    over that bound is counted exactly, with the parser's events, stopping at the limit."""
    bound = 1 + sum(text.count(c) for c in ",:-\n[{") + text.count(":")
    if bound <= limits.YAML_VALUES:
        return False
    values = 0
    try:
        for event in _parse(text):
            if isinstance(event, (ScalarEvent, SequenceStartEvent, MappingStartEvent, AliasEvent)):
                values += 1
                if values > limits.YAML_VALUES:
                    return True
    except YAMLError:
        return False  # composing reports the syntax error with its location
    return False
