"""The log view's widget: draws only the rows on screen, straight from the screen's bounded buffer.

A flood of lines costs, per drain, work proportional to the lines that arrived, never to the buffer:
each line's cells (and, wrapping, its rows) are counted once when it arrives and kept beside the
buffer; the totals are C-level sums; the rows' start offsets for wrapping are rebuilt only when a
frame needs them. Drawing costs the visible rows only, and a row already drawn is reused while it
stays on screen (its strip is keyed by the line's absolute number, which survives the buffer
dropping its oldest lines). Following moves the scroll offset directly: no after-refresh callback,
so nothing is left in the queues between two drains for the key gate to wait on.

(RichLog renders every line it is given as it is written: at 2,000 lines a second that alone kept
the event loop busy, and re-wrapping its 10,000 lines took seconds.)
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mlops_tui.backends.model import LogLine
from mlops_tui.tui.format import log_line_text, log_text, plain

STRIP_CACHE = 400
"""Rows kept drawn (a few screens' worth; emptied when it grows past this)."""


class LogView(ScrollView, can_focus=True):
    """Rows of `lines` (a deque the owner fills); `highlight` is the buffer index to show reversed."""

    COMPONENT_CLASSES = {"log-view--source", "log-view--match"}

    def __init__(self, lines: deque[LogLine], **kwargs) -> None:
        super().__init__(**kwargs)
        self.lines = lines
        self.wrap = False
        self.highlight = -1
        self.source_width = 0
        self.first = 0
        """The absolute number of `lines[0]` (how many lines the buffer has dropped since it was emptied)."""
        self._text_cells: deque[int] = deque(maxlen=lines.maxlen)
        """Cells each line's text takes, kept beside the buffer (the two deques drop their oldest together)."""
        self._rows: deque[int] = deque(maxlen=lines.maxlen)
        """With wrap: the rows each line takes at `_fold` (width, prefix cells)."""
        self._fold = (0, 0)
        self._starts: list[int] | None = None
        """With wrap: the first row of each line, rebuilt lazily (None: stale)."""
        self._strips: dict[tuple[int, int, bool], Strip] = {}
        self._base_style = Style()
        self._source_style = Style()
        self._match_style = Style()

    # -- what changed ------------------------------------------------------------------------------

    def lines_changed(self, follow: bool, added: int = 0) -> None:
        """The buffer grew by `added` lines (or the width, wrap or highlight changed): recount the
        rows, keep following the end if asked, else keep the lines on screen where they are."""
        lines = self.lines
        before = len(self._text_cells)
        dropped = before + added - len(lines)
        dropped_rows = 0
        recount = False
        if added and 0 <= dropped <= before:  # the usual drain: count only what arrived
            fresh = list(itertools.islice(lines, len(lines) - added, None))
            dropped_rows = sum(itertools.islice(self._rows, dropped)) if self.wrap else dropped
            self.first += dropped
            self._text_cells.extend(cell_len(log_text(line.text)) for line in fresh)
            self.source_width = max(self.source_width, min(max(
                (cell_len(plain(line.source)) for line in fresh[-200:]), default=0), 40))
        elif before != len(lines) or added:  # a new stream (the buffer was emptied), or more than it holds
            recount = True
            self.first = self.first + max(dropped, 0) if lines else 0
            self._strips.clear()
            self._text_cells.clear()
            self._text_cells.extend(cell_len(log_text(line.text)) for line in lines)
            self.source_width = min(max((cell_len(plain(line.source)) for line in itertools.islice(
                reversed(lines), 200)), default=0), 40)
        width = max(self.scrollable_content_region.width, 1)
        extra = self.source_width + 3
        if self.wrap:
            if recount or self._fold != (width, extra) or len(self._rows) + added != len(self._text_cells) + dropped:
                self._fold = (width, extra)
                self._rows.clear()
                self._rows.extend(max(1, -(-(extra + cells) // width)) for cells in self._text_cells)
            else:
                self._rows.extend(max(1, -(-(extra + cells) // width))
                                  for cells in itertools.islice(self._text_cells, len(self._text_cells) - added, None))
            self._starts = None
            self._set_virtual_size(Size(width, sum(self._rows)))
        else:
            self._fold = (0, 0)
            self._set_virtual_size(Size(max(self._text_cells, default=0) + extra, len(lines)))
        if follow:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        elif dropped_rows:  # paused: the lines being read stay put while the oldest are dropped
            self.scroll_to(y=max(0, self.scroll_offset.y - dropped_rows), animate=False, immediate=True)
        if len(self._strips) > STRIP_CACHE:
            self._strips.clear()
        self.refresh()

    def _set_virtual_size(self, size: Size) -> None:
        """Grow the scrollable area without a layout pass of the whole screen (`virtual_size` is a
        layout reactive: while the buffer fills, or wrapped, it changes on every drain, and the
        screen's layout and full repaint were most of a frame's cost). The view's own size comes from
        the CSS (`1fr`), so only a scrollbar appearing or going needs the layout."""
        if size == self.virtual_size:
            return
        scrollbars = (self.show_horizontal_scrollbar, self.show_vertical_scrollbar)
        self.set_reactive(LogView.virtual_size, size)
        self._scroll_update(size)
        if (self.show_horizontal_scrollbar, self.show_vertical_scrollbar) != scrollbars:
            self.refresh(layout=True)

    def row_of(self, index: int) -> int:
        if not self.wrap:
            return index
        starts = self._row_starts()
        return starts[index] if index < len(starts) else index

    def on_resize(self) -> None:
        self.lines_changed(follow=False)

    # -- drawing -----------------------------------------------------------------------------------

    def _row_starts(self) -> list[int]:
        if self._starts is None:
            self._starts = [0, *itertools.accumulate(self._rows)][:-1]
        return self._starts

    def render_lines(self, crop: Region) -> list[Strip]:
        # The styles are looked up once a frame, not once a row (a walk up the DOM each time).
        self._base_style = self.rich_style
        self._source_style = self.get_component_rich_style("log-view--source", partial=True)
        self._match_style = self.get_component_rich_style("log-view--match", partial=True)
        return super().render_lines(crop)

    def _line_strip(self, index: int) -> Strip:
        key = (self.first + index, self.source_width, index == self.highlight)
        strip = self._strips.get(key)
        if strip is None:
            line = self.lines[index]
            text: Text = log_line_text(line.source, line.text, self.source_width, self._source_style)
            if index == self.highlight:
                text.stylize(self._match_style)
            strip = self._strips[key] = Strip(list(text.render(self.app.console, end="")))
        return strip

    def render_line(self, y: int) -> Strip:
        row = y + self.scroll_offset.y
        width = self.scrollable_content_region.width
        style = self._base_style
        if self.wrap:
            starts = self._row_starts()
            index = bisect.bisect_right(starts, row) - 1
            if index < 0 or index >= len(self.lines):
                return Strip.blank(width, style)
            fold = row - starts[index]
            strip = self._line_strip(index).crop(fold * width, (fold + 1) * width)
        else:
            if row >= len(self.lines):
                return Strip.blank(width, style)
            x = self.scroll_offset.x
            strip = self._line_strip(row).crop(x, x + width)
        return strip.extend_cell_length(width, style) if strip.cell_length < width else strip

    def text_rows(self) -> list[str]:
        """What the view shows now, as plain text (for tests)."""
        self._base_style = self.rich_style
        return [self.render_line(y).text for y in range(self.size.height)]
