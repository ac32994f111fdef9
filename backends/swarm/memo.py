"""Reuse what was translated from an engine object that did not change since the last translation.

A Swarm of 2,000 services and 10,000 tasks is re-read in full every few seconds and re-translated
after every event; translating it all again took about a second (of the GIL the screen needs too).
Between two reads almost every object is unchanged, so each result is kept under the object's own
JSON bytes (what dockerd sent; `orjson` writes them back in a few milliseconds) and reused while the
bytes are the same. An object a partial refresh did not read again is the same Python object, so its
bytes are remembered by identity as well (`read_again` drops that for what was just read).

Generations: what one translation did not use is forgotten at its end, so the memo holds only what
the engine still has.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import orjson

T = TypeVar("T")

_MISSING = object()


class Memo:
    def __init__(self) -> None:
        self._old: dict[Hashable, Any] = {}
        self._new: dict[Hashable, Any] = {}
        self._old_ids: dict[int, tuple[Any, bytes | None]] = {}
        self._new_ids: dict[int, tuple[Any, bytes | None]] = {}
        self.hits = self.misses = 0
        """Results reused and computed since the memo was made (tests and the benchmark read them)."""

    def key(self, obj: Any) -> bytes | None:
        """The object's JSON bytes, or None when it has none (then nothing is cached for it)."""
        ident = id(obj)
        seen = self._new_ids.get(ident) or self._old_ids.get(ident)
        if seen is not None and seen[0] is obj:  # the pair holds obj: its id cannot be reused meanwhile
            self._new_ids[ident] = seen
            return seen[1]
        try:
            raw: bytes | None = orjson.dumps(obj)
        except (TypeError, ValueError):  # not JSON (a test's odd object): translated each time
            raw = None
        self._new_ids[ident] = (obj, raw)
        return raw

    def read_again(self, objects: Any) -> None:
        """These objects were just read from the engine: key them by their bytes, not by identity
        (a client may hand back the same dict, changed in place)."""
        for obj in objects:
            self._new_ids.pop(id(obj), None)
            self._old_ids.pop(id(obj), None)

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """compute() once per key and generation; an exception is raised each time, never kept."""
        value = self._new.get(key, _MISSING)
        if value is _MISSING:
            value = self._old.get(key, _MISSING)
            if value is _MISSING:
                value = compute()
                self.misses += 1
            else:
                self.hits += 1
            self._new[key] = value
        else:
            self.hits += 1
        return value

    def end(self) -> None:
        """One translation done: forget what it did not use."""
        self._old, self._new = self._new, {}
        self._old_ids, self._new_ids = self._new_ids, {}
