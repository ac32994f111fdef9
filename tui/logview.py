"""The log view's widget: draws only the rows on screen, straight from the screen's bounded buffer.

A flood of lines costs a few list appends and one recount of the rows; drawing costs the visible
rows only, however many lines arrive or how long the buffer is (RichLog renders every line it is
given as it is written: at 2,000 lines a second that alone kept the event loop busy, and re-wrapping
its 10,000 lines took seconds). Wrapping folds each line at the view's width, cell by cell.
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque

from rich.cells import cell_len
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mlops_tui.backends.model import LogLine
from mlops_tui.tui.format import log_line_text, log_text, plain


class LogView(ScrollView, can_focus=True):
    """Rows of `lines` (a deque the owner fills); `highlight` is the buffer index to show reversed."""

    COMPONENT_CLASSES = {"log-view--source", "log-view--match"}

    def __init__(self, lines: deque[LogLine], **kwargs) -> None:
        super().__init__(**kwargs)
        self.lines = lines
        self.wrap = False
        self.highlight = -1
        self.source_width = 0
        self._starts: list[int] = []
        """With wrap: the first row of each line (prefix sums of the rows each line takes)."""
        self._strips: dict[tuple[int, int], Strip] = {}
        self._text_cells: deque[int] = deque(maxlen=lines.maxlen)
        """Cells each line's text takes, kept beside the buffer: counted once, when a line arrives."""

    # -- what changed ------------------------------------------------------------------------------

    def lines_changed(self, follow: bool, added: int = 0) -> None:
        """The buffer grew by `added` lines (or the width, wrap or highlight changed): recount the
        rows, keep following the end if asked. A pass over integers, not over the lines' text: each
        line's cells are counted once, when it arrives (the two deques drop their oldest together)."""
        if added:
            self._text_cells.extend(cell_len(log_text(line.text))
                                    for line in itertools.islice(self.lines, max(len(self.lines) - added, 0), None))
        if len(self._text_cells) != len(self.lines):  # the buffer was emptied (a new stream)
            self._text_cells.clear()
            self._text_cells.extend(cell_len(log_text(line.text)) for line in self.lines)
        self.source_width = min(max((cell_len(plain(line.source)) for line in itertools.islice(
            reversed(self.lines), 200)), default=0), 40)
        self._strips.clear()
        width = max(self.scrollable_content_region.width, 1)
        extra = self.source_width + 3
        if self.wrap:
            rows = [max(1, -(-(extra + cells) // width)) for cells in self._text_cells]
            self._starts = [0, *itertools.accumulate(rows)][:-1]
            self.virtual_size = Size(width, sum(rows))
        else:
            longest = max(self._text_cells, default=0) + extra
            self.virtual_size = Size(longest, len(self.lines))
        if follow:
            self.scroll_end(animate=False, immediate=True)
        self.refresh()

    def row_of(self, index: int) -> int:
        return self._starts[index] if self.wrap and index < len(self._starts) else index

    def on_resize(self) -> None:
        self.lines_changed(follow=False)

    # -- drawing -----------------------------------------------------------------------------------

    def _line_strip(self, index: int) -> Strip:
        key = (index, self.source_width)
        strip = self._strips.get(key)
        if strip is None:
            line = self.lines[index]
            source_style = self.get_component_rich_style("log-view--source", partial=True)
            text: Text = log_line_text(line.source, line.text, self.source_width, source_style)
            if index == self.highlight:
                text.stylize(self.get_component_rich_style("log-view--match", partial=True))
            strip = Strip(list(text.render(self.app.console, end="")))
            if len(self._strips) > 400:
                self._strips.clear()
            self._strips[key] = strip
        return strip

    def render_line(self, y: int) -> Strip:
        row = y + self.scroll_offset.y
        width = self.scrollable_content_region.width
        style = self.rich_style
        if self.wrap:
            index = bisect.bisect_right(self._starts, row) - 1
            if index < 0 or index >= len(self.lines):
                return Strip.blank(width, style)
            fold = row - self._starts[index]
            strip = self._line_strip(index).crop(fold * width, (fold + 1) * width)
        else:
            if row >= len(self.lines):
                return Strip.blank(width, style)
            x = self.scroll_offset.x
            strip = self._line_strip(row).crop(x, x + width)
        return strip.extend_cell_length(width, style) if strip.cell_length < width else strip

    def text_rows(self) -> list[str]:
        """What the view shows now, as plain text (for tests)."""
        return [self.render_line(y).text for y in range(self.size.height)]
