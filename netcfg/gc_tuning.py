"""Garbage-collector tuning for the bulk phases: loading, rendering, diffing.

Those phases build millions of small, long-lived objects and almost no cycles; with
Python's defaults every full collection walks all of them again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

FULL_COLLECTION_EVERY = 1_000  # gen-1 collections between full ones (Python's default: 10)


@contextmanager
def rare_full_collections() -> Iterator[None]:
    """Make full (generation 2) garbage collections rare for the duration.

    Loading, rendering and diffing build millions of small objects; every full
    collection walks all of them, both inventories included. Measured at 10,000
    machines: loading both sides takes 5.2 s with Python's defaults, 1.9 s with rare full
    collections (1.7 s with the collector off, but then the YAML parser's cyclic garbage
    triples peak memory; young collections still reclaim it here)."""
    old = gc.get_threshold()
    gc.set_threshold(old[0], old[1], max(old[2], FULL_COLLECTION_EVERY))
    try:
        yield
    finally:
        gc.set_threshold(*old)


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep every object alive now out of all collections for the duration (gc.freeze):
    for work on loaded inventories, which live to its end. At 100,000 machines one full
    collection during the analysis walked both of them for 2.2 s and freed nothing."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def collector_off() -> Iterator[None]:
    """No collections for the duration: for an apply, whose config, plan and read-back
    live to its end and hold no cycles. Young collections would only walk them again:
    3 % of a fresh apply of 1,000 pairs."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
