"""The object screen (`d` describe, `y` YAML/JSON): one service's or GPU node's object as its backend
rendered it (kubectl describe / get -o yaml, docker inspect --pretty / inspect), read-only.

The text is shown in a read-only `TextArea`: it never parses markup or escapes, so every byte the
cluster sent is shown as it is; it scrolls, selects and copies like any text. `/` searches (`n`/`N`
next and previous match), `s` saves it to a file, `m` shows or hides the managed fields (YAML), `d`
and `y` switch between the two views, `esc` closes the search and then the screen.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static, TextArea
from textual.widgets.text_area import Selection

from mlops_tui.backends.model import ObjectText
from mlops_tui.tui.format import plain
from mlops_tui.tui.keyline import KeyLine

View = Literal["describe", "yaml"]
Loader = Callable[[View, bool], ObjectText]
"""Reads the object now (in a thread): the view and whether to show the managed fields."""


def find_all(text: str, query: str) -> list[tuple[int, int]]:
    """(line, column) of every case-insensitive match of `query` in `text`, in reading order."""
    if not query:
        return []
    pattern = re.compile(re.escape(query), re.IGNORECASE)
    return [(number, match.start()) for number, line in enumerate(text.split("\n"))
            for match in pattern.finditer(line)]


def file_name(title: str, fmt: str, when: datetime) -> str:
    """A file name from the object's title ('Deployment ml-prod/bert on prod-a' ->
    'Deployment_ml-prod_bert_on_prod-a-20261201T103000Z.yaml'): nothing a cluster sends can leave the
    directory or hide the file."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", title).strip("._")[:120] or "object"
    return f"{stem}-{when.strftime('%Y%m%dT%H%M%SZ')}.{ {'yaml': 'yaml', 'json': 'json'}.get(fmt, 'txt') }"


class ObjectScreen(Screen[None]):
    """One object's text, read-only. `esc` goes back."""

    # The ids make the keymap move `d` and `y` with the app's describe and yaml keys.
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next match"),
        Binding("N", "previous_match", "Previous match"),
        Binding("s", "save", "Save to file"),
        Binding("m", "managed_fields", "Managed fields"),
        Binding("d", "show('describe')", "Describe", id="describe"),
        Binding("y", "show('yaml')", "YAML/JSON", id="yaml"),
    ]

    def __init__(self, name: str, load: Loader, view: View, save_dir: Path,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        super().__init__()
        self.object_name = name
        """What the object is, as the dashboard names it, until the backend's title arrives."""
        self._load = load
        self.view: View = view
        self.managed_fields = False
        self.save_dir = save_dir
        self._clock = clock
        self.shown: ObjectText | None = None
        """The text on screen (None while it is being read or when it could not be read)."""
        self.query_text = ""
        self._matches: list[tuple[int, int]] = []
        self._match = -1

    def compose(self) -> ComposeResult:
        yield Static(Text(f"{self.object_name}: reading…"), id="object-title", markup=False)
        yield TextArea("", read_only=True, soft_wrap=False, id="object-body")
        search = Input(placeholder="search (enter: find, esc: close)", id="object-search")
        search.display = False
        yield search
        yield Static("", id="object-status", markup=False)
        yield KeyLine()

    def on_mount(self) -> None:
        self.query_one("#object-body", TextArea).focus()
        self.reload()

    # -- reading -----------------------------------------------------------------------------------

    @work(exclusive=True, group="object", exit_on_error=False, name="reading the object")
    async def reload(self) -> None:
        view, managed = self.view, self.managed_fields
        body = self.query_one("#object-body", TextArea)
        self._status(f"reading the {'description' if view == 'describe' else 'object'}…")
        try:
            shown = await asyncio.to_thread(self._load, view, managed)
        except Exception as exc:
            self.shown = None
            body.load_text(f"could not read it: {exc}")
            self._title(f"{self.object_name}: could not read it")
            self._status("")
            return
        if (view, managed) != (self.view, self.managed_fields):
            return  # the operator asked for another view while this one was read: that read follows
        self.shown = shown
        body.load_text(shown.body)
        note = f"{shown.hidden} · m shows them" if shown.hidden else ""
        self._title(f"{shown.title} · {'describe' if view == 'describe' else shown.format}"
                    + (f" · {note}" if note else ""))
        self._status("")
        if self.query_text:
            # A search typed while the text was being read runs now, from the top.
            body.move_cursor((0, 0))
            self._find(self.query_text)

    def _title(self, text: str) -> None:
        self.query_one("#object-title", Static).update(Text(plain(text)))

    def _status(self, text: str) -> None:
        self.query_one("#object-status", Static).update(Text(plain(text)))

    # -- search ------------------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_text = event.value
        search = self.query_one("#object-search", Input)
        search.display = False
        self.query_one("#object-body", TextArea).focus()
        if self.shown is not None:
            self._find(event.value)

    def _find(self, query: str) -> None:
        body = self.query_one("#object-body", TextArea)
        self._matches = find_all(body.text, query)
        if not self._matches:
            self._match = -1
            self._status(f"no match for {query!r}")
            return
        # The first match at or after the cursor, as a pager's search does.
        here = body.cursor_location
        self._match = next((i for i, at in enumerate(self._matches) if at >= here), 0)
        self._select()

    def _select(self) -> None:
        body = self.query_one("#object-body", TextArea)
        line, column = self._matches[self._match]
        body.selection = Selection((line, column), (line, column + len(self.query_text)))
        body.scroll_cursor_visible(center=True)
        self._status(f"match {self._match + 1} of {len(self._matches)} for {self.query_text!r}")

    def _step(self, step: int) -> None:
        if not self.query_text:
            self._status("nothing searched yet: / searches")
            return
        if not self._matches:
            self._find(self.query_text)
            return
        self._match = (self._match + step) % len(self._matches)
        self._select()

    # -- actions -----------------------------------------------------------------------------------

    def action_search(self) -> None:
        search = self.query_one("#object-search", Input)
        search.display = True
        search.value = ""
        search.focus()

    def action_next_match(self) -> None:
        self._step(1)

    def action_previous_match(self) -> None:
        self._step(-1)

    def action_show(self, view: View) -> None:
        if view != self.view:
            self.view = view
            self.reload()

    def action_managed_fields(self) -> None:
        if self.view != "yaml" or (self.shown is not None and self.shown.format != "yaml"):
            self._status("managed fields are a Kubernetes YAML thing: y shows the YAML")
            return
        self.managed_fields = not self.managed_fields
        self.reload()

    def action_save(self) -> None:
        shown = self.shown
        if shown is None:
            self._status("nothing to save yet")
            return
        path = self.save_dir / file_name(shown.title, shown.format, self._clock())
        try:
            self.save_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(shown.body, encoding="utf-8")
        except OSError as exc:
            self._status(f"could not save: {exc}")
            return
        self._status(f"saved to {path}")

    def action_back(self) -> None:
        search = self.query_one("#object-search", Input)
        if search.display:
            search.display = False
            self.query_one("#object-body", TextArea).focus()
            return
        self.dismiss(None)
