"""Parsed stylesheets (and colour palettes) kept between starts.

Textual tokenizes and parses every stylesheet at each start: for the dashboard's first frame that is
about 50 M instructions (bench/first_frame_instructions.py), the same work each time for the same text.
`CachedStylesheet` looks each parse up by everything the parse reads (the CSS text, where it came
from, its priority and scope, the theme's variables) in one file under the user's cache directory; a
miss is parsed as Textual parses it, and the file is rewritten after the first frame. The themes'
palettes (TOML) are kept the same way (`ParsedStore.recall`): importing and running the TOML parser
costs as much as drawing a pane.

The file is a pickle, so only a file the user owns, that no one else may write, in a directory no
one else may write, is read; one written by another Textual or Python is never read (its name and
header say which made it). Anything wrong with it (missing, corrupt, foreign) costs one parse, as if
there were no cache: a start never fails for it.
"""

from __future__ import annotations

import os
import pickle
import stat
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import textual
from textual.css.stylesheet import Stylesheet

PARSER_FILES = ("css/parse.py", "css/tokenize.py", "css/model.py", "css/styles.py", "css/_styles_builder.py")
"""Textual's modules whose code shapes a parse: an upgrade rewrites them, and the cache starts over."""


T = TypeVar("T")

ParseKey = tuple[Any, ...]
"""A stylesheet's: (css, read_from, is_default_rules, tie_breaker, scope, the variables as sorted pairs);
another text's: (what it is, the text)."""


def _textual_identity() -> str:
    """Which Textual made a parse (from its files, not `textual.__version__`: that reads the package
    metadata, which costs more than the parse it would save)."""
    root = Path(textual.__file__).parent
    parts = [str(root)]
    for name in PARSER_FILES:
        try:
            info = (root / name).stat()
        except OSError:
            parts.append(f"{name}:missing")
            continue
        parts.append(f"{name}:{info.st_size}:{info.st_mtime_ns}")
    return "\n".join(parts)


def _trusted(handle_stat: os.stat_result, folder: Path) -> bool:
    """The user's own file, in the user's own folder, neither writable by anyone else."""
    if not hasattr(os, "getuid"):  # no owners to compare (Windows): the per-user cache folder is the guard
        return True
    try:
        folder_stat = folder.stat()
    except OSError:
        return False
    uid = os.getuid()
    return all(s.st_uid == uid and not s.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
               for s in (handle_stat, folder_stat))


class ParsedStore:
    """The parses of one start, read from and written back to one file. `save` runs on a worker
    thread while a screen opening may add a parse: the lock keeps the two apart."""

    def __init__(self, folder: Path | None) -> None:
        tag = f"{sys.implementation.cache_tag}-pickle{pickle.HIGHEST_PROTOCOL}"
        self.path = folder / f"stylesheets-{tag}.pickle" if folder is not None else None
        self._identity = ""
        self._known: dict[ParseKey, Any] | None = None
        self._used: dict[ParseKey, Any] = {}
        self._added = False
        self._lock = threading.Lock()

    def get(self, key: ParseKey) -> Any:
        parsed = self._load().get(key)
        if parsed is not None:
            with self._lock:
                self._used[key] = parsed
        return parsed

    def put(self, key: ParseKey, parsed: Any) -> None:
        with self._lock:
            self._used[key] = parsed
            self._added = True

    def recall(self, kind: str, text: str, parse: Callable[[str], T]) -> T:
        """`parse(text)`, kept under (kind, text): parsed again only when the text changes. A parse that
        raises is never kept (the next start reports the error afresh)."""
        key = (kind, text)
        parsed = self.get(key)
        if parsed is None:
            parsed = parse(text)
            self.put(key, parsed)
        return parsed

    @property
    def changed(self) -> bool:
        """A parse was added since the file was read: `save` has something to write."""
        return self._added

    def _load(self) -> dict[ParseKey, Any]:
        if self._known is None:
            self._known = {}
            self._identity = _textual_identity()
            if self.path is not None:
                self._known = self._read(self.path)
        return self._known

    def _read(self, path: Path) -> dict[ParseKey, Any]:
        try:
            with path.open("rb") as handle:
                if not _trusted(os.fstat(handle.fileno()), path.parent):
                    return {}
                identity, parses = pickle.load(handle)
        except Exception:  # missing, unreadable, corrupt, or from a Textual whose classes changed
            return {}
        if identity != self._identity or not isinstance(parses, dict):
            return {}
        return parses

    def save(self) -> None:
        """Write this start's parses (only these: a parse no start uses any more is dropped), atomically.
        Errors are ignored: the cache is an optimisation, never a reason to fail."""
        if self.path is None or not self._added:
            return
        self._load()
        with self._lock:
            parses, self._added = dict(self._used), False
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".stylesheets-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    pickle.dump((self._identity, parses), handle, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except Exception:
            with self._lock:
                self._added = True  # still unsaved


class CachedStylesheet(Stylesheet):
    """Textual's stylesheet, with each parse looked up in a `ParsedStore` first."""

    def __init__(self, *, variables: dict[str, str] | None = None, store: ParsedStore) -> None:
        super().__init__(variables=variables)
        self.store = store
        self._variables_seen: dict[str, str] | None = None
        self._variables_key: tuple[tuple[str, str], ...] = ()

    def _parse_rules(self, css: str, read_from: Any, is_default_rules: bool = False, tie_breaker: int = 0,
                     scope: str = "") -> list:
        key = self._key(css, read_from, is_default_rules, tie_breaker, scope)
        rules = self.store.get(key)
        if rules is None:
            rules = super()._parse_rules(css, read_from, is_default_rules, tie_breaker, scope)
            if not any(rule.errors for rule in rules):  # an invalid stylesheet is reported afresh each time
                self.store.put(key, rules)
        return rules

    def _key(self, css: str, read_from: Any, is_default_rules: bool, tie_breaker: int, scope: str) -> ParseKey:
        if self._variables is not self._variables_seen:  # `set_variables` swaps the whole dict
            self._variables_seen = self._variables
            self._variables_key = tuple(sorted(self._variables.items()))
        # One variables tuple shared by every key: pickled once, however many parses use it.
        return (css, read_from, is_default_rules, tie_breaker, scope, self._variables_key)
