"""Pause CPython's cyclic collector around one big JSON parse, shared by every backend's threads."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = True


@contextmanager
def gc_paused() -> Iterator[None]:
    """Big parses allocate millions of containers, and CPython's cyclic GC, triggered by allocation
    counts, rescans them again and again: the parse turns super-linear (the reflector row of
    bench/RESULTS.md is measured with the GC paused).

    Counted, so overlapping parses in several reflector threads re-enable it only at the end."""
    global _gc_holders, _gc_was_enabled
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.enable()
