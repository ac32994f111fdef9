"""A service's logs (`l`): every replica interleaved with its name, followed live.

The engine's lines arrive on a streaming thread and wait in a queue; a timer drains it at most
`DRAINS_PER_SECOND` times a second, so the screen redraws at most that often however fast the
service prints, and the buffer keeps the last `BUFFER_LINES` lines only. Every line is made safe by
`tui/format.py` (colour codes dropped, every other control character shown as \\xNN).

Keys: `p`/space pause or resume following, `/` search (typed on the screen itself, so that keys sent
together land in the query), `n`/`N` next and previous match, `w` wrap, `s` save the buffer to the
state directory, `c` next container, `o` one replica or all, `P` the crashed container's previous
instance, `a` how far back (5m, 1h, all), `esc` back.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timezone
from pathlib import Path

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from mlops_tui.backends.base import StreamsLogs
from mlops_tui.backends.model import LogLine, LogOptions, LogSources, ModelService
from mlops_tui.tui.format import log_text, plain
from mlops_tui.tui.keyline import KeyLine
from mlops_tui.tui.logview import LogView

BUFFER_LINES = 10_000
DRAINS_PER_SECOND = 10
SINCE_CHOICES = ((300, "last 5m"), (3600, "last 1h"), (None, "all"))


class LogScreen(Screen[None]):
    """One service's logs; `esc` goes back and stops the stream."""

    # Priority bindings run as the app receives the key, before it is passed down the focus chain
    # (the view, then the screen, then the app's own binding check): under a flood every hop of that
    # chain waited behind a drain and its frame. While `/` is typing, `check_action` declines them so
    # that every key reaches `on_key` as a letter of the query.
    BINDINGS = [
        Binding("escape", "back", "Back", priority=True),
        Binding("p,space", "pause", "Pause/follow", priority=True),
        Binding("slash", "search", "Search", priority=True),
        Binding("n", "next_match", "Next match", priority=True),
        Binding("N", "previous_match", "Previous match", show=False, priority=True),
        Binding("w", "wrap", "Wrap", priority=True),
        Binding("s", "save", "Save", priority=True),
        Binding("c", "container", "Container", priority=True),
        Binding("o", "replica", "One/all replicas", priority=True),
        Binding("P", "previous", "Previous (crashed)", show=False, priority=True),
        Binding("a", "since", "Since", priority=True),
    ]
    KEYS_WAIT_FOR_REPAINTS = False
    """Every key here acts at once on the screen's state (tui/keygate.py): none waits for a frame."""
    OWN_ACTIONS = frozenset(binding.action for binding in BINDINGS if isinstance(binding, Binding))

    def __init__(self, service: ModelService, streamer: StreamsLogs, save_dir: Path) -> None:
        super().__init__()
        self.service, self.streamer, self.save_dir = service, streamer, save_dir
        self.options = LogOptions()
        self.sources = LogSources()
        self.lines: deque[LogLine] = deque(maxlen=BUFFER_LINES)
        self._incoming: deque[LogLine] = deque(maxlen=BUFFER_LINES)
        """Filled by the streaming thread; deque append/popleft are atomic, so no lock is needed."""
        self._status = "connecting…"
        self._status_changed = True
        self._stop = threading.Event()
        self.paused = False
        self.wrap = False
        self.query_text: str | None = None
        """What `/` is typing now (None: not typing)."""
        self.search = ""
        self.matches: list[int] = []
        self.match = -1
        self.saved: Path | None = None
        self.dropped = 0
        self._since_index = 0

    def compose(self) -> ComposeResult:
        yield Static(id="logs-title", markup=False)
        yield LogView(self.lines, id="logs")
        yield Static(id="logs-status", markup=False)
        yield KeyLine()

    def on_mount(self) -> None:
        self.set_interval(1 / DRAINS_PER_SECOND, self.drain)
        self._load_sources()
        self._restart()

    def on_unmount(self) -> None:
        self._stop.set()

    # -- the stream --------------------------------------------------------------------------------

    def _load_sources(self) -> None:
        def load() -> None:
            try:
                sources = self.streamer.log_sources(self.service)
            except Exception as exc:  # the picker is a convenience: the stream says what is wrong
                self._set_status(f"could not list replicas: {exc}")
                return
            self.app.call_from_thread(self._sources_loaded, sources)

        threading.Thread(target=load, name="log sources", daemon=True).start()

    def _sources_loaded(self, sources: LogSources) -> None:
        self.sources = sources
        self._show_title()

    def _restart(self) -> None:
        """(Re)open the stream with the current options; the buffer starts over."""
        self._stop.set()
        self._stop = stop = threading.Event()
        self.lines.clear()
        self._incoming.clear()
        self.query_one(LogView).lines_changed(follow=True)
        self.matches, self.match = [], -1
        self._set_status("connecting…")
        self._show_title()
        service, options, incoming = self.service, self.options, self._incoming

        def run() -> None:
            try:
                self.streamer.stream_logs(service, options, incoming.append, self._status_from(stop), stop)
            except Exception as exc:
                if not stop.is_set():
                    self._set_status(f"log stream failed: {exc}")
                return
            if not stop.is_set():
                self._set_status("end of log" if not options.follow or options.previous else "stream ended")

        threading.Thread(target=run, name=f"logs {service.key.name}", daemon=True).start()

    def _status_from(self, stop: threading.Event):
        def on_status(message: str) -> None:
            if not stop.is_set():  # a stream being replaced says nothing more
                self._set_status(message)
        return on_status

    def _set_status(self, message: str) -> None:
        self._status = message
        self._status_changed = True

    def drain(self) -> None:
        """Move what arrived since the last drain onto the screen: one redraw for the whole batch."""
        batch: list[LogLine] = []
        incoming = self._incoming
        while incoming:
            batch.append(incoming.popleft())
        if batch:
            if len(batch) > BUFFER_LINES:
                batch = batch[-BUFFER_LINES:]
            overflow = max(0, len(self.lines) + len(batch) - BUFFER_LINES)
            self.lines.extend(batch)
            if self.search:
                self._shift_matches(overflow)
                waiting = self.match < 0  # searched before any line matched: the first to arrive is shown
                self._find_in(batch, len(self.lines) - len(batch))
                if waiting and self.matches:
                    self.match = 0
                    self._show_match()
                self.query_one(LogView).highlight = self.matches[self.match] if self.matches else -1
            self.query_one(LogView).lines_changed(follow=not self.paused, added=len(batch))
        if batch or self._status_changed:
            self._status_changed = False
            self._show_status()

    # -- what the screen says ----------------------------------------------------------------------

    def _show_title(self) -> None:
        key = self.service.key
        replica = self.options.replica or f"all {len(self.sources.replicas) or ''} replicas".replace("  ", " ")
        parts = [f"Logs of {key.name}", key.namespace, replica]
        if self.options.container or self.sources.containers:
            parts.append(f"container {self.options.container or self.sources.containers[0]}")
        parts.append("previous instance" if self.options.previous else SINCE_CHOICES[self._since_index][1])
        self.query_one("#logs-title", Static).update(Text(" · ".join(plain(p) for p in parts if p)))

    def status_line(self) -> str:
        parts = [self._status or ("paused" if self.paused else "following")]
        if self._status and self.paused:
            parts.append("paused")
        parts.append(f"{len(self.lines)} lines")
        if self.query_text is not None:
            parts.append(f"search: {self.query_text}▏")
        elif self.search:
            where = f"{self.match + 1}/{len(self.matches)}" if self.matches else "no match"
            parts.append(f"/{self.search}: {where}")
        parts.append("wrap" if self.wrap else "no wrap")
        if self.saved is not None:
            parts.append(f"saved to {self.saved}")
        return " · ".join(parts)

    def _show_status(self) -> None:
        # One row whatever it says (the CSS fixes its height): no layout pass on every drain.
        self.query_one("#logs-status", Static).update(Text(plain(self.status_line()), no_wrap=True), layout=False)

    # -- keys --------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.query_text is None or action not in self.OWN_ACTIONS

    def on_key(self, event: events.Key) -> None:
        """While `/` is typing, every key goes to the query (n, w, s... are letters of it)."""
        if self.query_text is None:
            return
        event.stop()
        event.prevent_default()
        if event.key == "escape":
            self.query_text = None
            self.refresh_bindings()
        elif event.key == "enter":
            self.search, self.query_text = self.query_text, None
            self.refresh_bindings()
            self._search()
        elif event.key == "backspace":
            self.query_text = self.query_text[:-1]
        elif event.is_printable and event.character:
            self.query_text += event.character
        self._show_status()

    def action_back(self) -> None:
        self._stop.set()
        self.dismiss(None)

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self.query_one(LogView).scroll_end(animate=False, immediate=True)
        self._show_status()

    def action_search(self) -> None:
        self.query_text = ""
        self.refresh_bindings()
        self._show_status()

    def _search(self) -> None:
        self.matches, self.match = [], -1
        self.query_one(LogView).highlight = -1
        if self.search:
            self._find_in(list(self.lines), 0)
        if self.matches:
            self.match = len(self.matches) - 1  # the newest first, as `less` from the end searches back
            self._show_match()
        self._show_status()

    def _find_in(self, lines: list[LogLine], offset: int) -> None:
        needle = self.search.lower()
        self.matches += [offset + i for i, line in enumerate(lines)
                         if needle in line.text.lower() or needle in line.source.lower()]

    def _shift_matches(self, dropped: int) -> None:
        if dropped:
            kept = [m - dropped for m in self.matches if m >= dropped]
            self.match = max(-1, self.match - (len(self.matches) - len(kept)))
            self.matches = kept

    def action_next_match(self) -> None:
        self._step_match(1)

    def action_previous_match(self) -> None:
        self._step_match(-1)

    def _step_match(self, step: int) -> None:
        if not self.matches:
            self._show_status()
            return
        self.match = (self.match + step) % len(self.matches)
        self._show_match()
        self._show_status()

    def current_match(self) -> LogLine | None:
        return self.lines[self.matches[self.match]] if self.matches and self.match >= 0 else None

    def _show_match(self) -> None:
        """Stop following and bring the matching line to the middle of the view."""
        if not self.paused:
            self.action_pause()
        view = self.query_one(LogView)
        view.highlight = self.matches[self.match]
        view.lines_changed(follow=False)
        view.scroll_to(y=max(0, view.row_of(view.highlight) - view.size.height // 2), animate=False, immediate=True)

    def action_wrap(self) -> None:
        self.wrap = not self.wrap
        view = self.query_one(LogView)
        view.wrap = self.wrap
        view.lines_changed(follow=not self.paused)
        self._show_status()

    def action_save(self) -> None:
        """The buffer as plain text (what the screen shows, without colour) in the state directory."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        path = self.save_dir / f"{self.service.key.name}-{stamp}.log"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8") as out:
                for line in list(self.lines):
                    when = line.time.isoformat() + " " if line.time else ""
                    out.write(f"{when}{plain(line.source)} | {log_text(line.text)}\n")
        except OSError as exc:
            self.app.notify(plain(f"could not save the logs: {exc}"), severity="error")
            return
        self.saved = path
        self.app.notify(plain(f"saved {len(self.lines)} lines to {path}"))
        self._show_status()

    def _change(self, **changes: object) -> None:
        from dataclasses import replace

        self.options = replace(self.options, **changes)  # type: ignore[arg-type]
        self._restart()

    def action_container(self) -> None:
        containers = self.sources.containers
        if len(containers) < 2:
            self.app.notify("this service's pods run one container", severity="warning")
            return
        current = self.options.container or containers[0]
        self._change(container=containers[(containers.index(current) + 1) % len(containers)]
                     if current in containers else containers[0])

    def action_replica(self) -> None:
        replicas = ("", *self.sources.replicas)
        current = self.options.replica if self.options.replica in replicas else ""
        self._change(replica=replicas[(replicas.index(current) + 1) % len(replicas)])

    def action_previous(self) -> None:
        if not self.sources.previous:
            self.app.notify("this engine keeps no previous instance of a container", severity="warning")
            return
        self._change(previous=not self.options.previous)

    def action_since(self) -> None:
        self._since_index = (self._since_index + 1) % len(SINCE_CHOICES)
        self._change(since_seconds=SINCE_CHOICES[self._since_index][0])
