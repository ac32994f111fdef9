"""A DataTable that is kept in step with a keyed mapping of rows by diffing, never rebuilt.

Rebuilding (clear + add) loses the operator's cursor and scroll and repaints everything; here only
stale rows are removed, changed cells updated and new rows appended, inside one batch.

Changed cells repaint only their own row. DataTable's `update_cell` bumps one counter that is part
of every cached cell, row and line, and refreshes the whole widget, so any update, even far off
screen, re-rendered and re-sent every visible line on the next frame: under churn on 5,000 services
that was most of the main thread's time, what delayed key presses (bench/churn.py), and ~14 KB per
frame over SSH (bench/ssh_cost.py). Here a visible row's cells are written into the table's data and
only that row is refreshed; an off-screen row's cells are written without any refresh, and the
caches are invalidated only when such a row comes into view (the `render_lines` check).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey


class KeyedTable(DataTable):
    """A DataTable whose rows are identified by string keys and synced with `sync_rows`."""

    def __init__(self, columns: Sequence[tuple], **kwargs) -> None:
        """`columns`: (key, label) or (key, label, fixed width); fixed widths suit short,
        fixed-format cells (state words, counts) and keep the layout from jittering."""
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._column_keys = [column[0] for column in columns]
        self._column_labels = [column[1] for column in columns]
        self._column_widths = [column[2] if len(column) > 2 else None for column in columns]
        self._shown: dict[str, tuple[Text, ...]] = {}
        self._offscreen_changed: set[str] = set()
        """Rows changed without a repaint, since table update count `_offscreen_count`."""
        self._offscreen_count = -1

    def on_mount(self) -> None:
        for key, label, width in zip(self._column_keys, self._column_labels, self._column_widths, strict=True):
            self.add_column(label, key=key, width=width)

    @property
    def shown_keys(self) -> list[str]:
        return list(self._shown)

    def cells(self, key: str) -> tuple[Text, ...] | None:
        return self._shown.get(key)

    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:
            return None
        return row_key.value

    def sync_rows(self, rows: Mapping[str, tuple[Text, ...]], *, keep_order: bool = False) -> int:
        """Make the table show exactly `rows` (in their order for new rows). Returns cells touched.

        With `keep_order` (small tables whose order means something, like alerts by severity) a
        change of order re-lays the rows, keeping the cursor on the same key.
        """
        if keep_order:
            after_sync = [k for k in self._shown if k in rows] + [k for k in rows if k not in self._shown]
            if list(rows) != after_sync:
                return self._relay(rows)
        return self.apply_changes(rows, [k for k in self._shown if k not in rows])

    def _wider(self, column_key: str, value: Text) -> bool:
        """Re-measure a column only when a cell outgrew it: DataTable re-measures a column over
        every row, which under churn on thousands of rows costs more than everything else."""
        column = self.columns.get(column_key)  # type: ignore[call-overload]
        if column is None:
            return True
        if column.width and not column.auto_width:
            return False
        return cell_len(value.plain) > column.content_width

    def apply_changes(self, upserts: Mapping[str, tuple[Text, ...]], removed: Iterable[str] = ()) -> int:
        """Remove `removed`, add or update `upserts` (only the cells that differ): O(changes),
        not O(table). `sync_rows` is this with every row."""
        touched = 0
        with self.app.batch_update():
            for key in removed:
                if self._shown.pop(key, None) is not None:
                    self.remove_row(key)
                    touched += 1
            for key, cells in upserts.items():
                old = self._shown.get(key)
                if old is None:
                    self.add_row(*cells, key=key)
                    touched += len(cells)
                elif old is not cells and old != cells:
                    for column, before, after in zip(self._column_keys, old, cells, strict=True):
                        if before != after:
                            self._set_cell(key, column, after)
                            touched += 1
                    self._repaint_row(key)
                else:
                    continue
                self._shown[key] = cells
        return touched

    def _set_cell(self, key: str, column: str, value: Text) -> None:
        if self._wider(column, value):  # the column grows: everything moves, repaint it all
            self.update_cell(key, column, value, update_width=True)
        else:
            self._data[RowKey(key)][ColumnKey(column)] = value  # what update_cell stores, without its repaint

    def _repaint_row(self, key: str) -> None:
        """Once per changed row: redraw its line if it is on screen, else only note it."""
        row = self.get_row_index(key)
        if self._on_screen(row):
            self._update_count += 1  # as update_cell does: cached renders of the old value are not used
            self.refresh_row(row)  # but only this row's line is redrawn and sent, not the whole table
            return
        if self._offscreen_count != self._update_count:  # the table was re-rendered since: start afresh
            self._offscreen_changed.clear()
            self._offscreen_count = self._update_count
        self._offscreen_changed.add(key)

    def _on_screen(self, row_index: int) -> bool:
        """Whether the row is in (or one row around) the visible window: rows are one line high."""
        top = round(self.scroll_offset.y)
        return top - 1 <= row_index <= top + self.size.height

    def render_lines(self, crop: Region) -> list[Strip]:
        if self._offscreen_changed:
            if self._offscreen_count != self._update_count:  # re-rendered since: nothing stale is cached
                self._offscreen_changed.clear()
            elif any(self._on_screen(self.get_row_index(k)) for k in self._offscreen_changed if k in self._shown):
                self._update_count += 1  # a row changed while off screen is now visible: drop the caches
                self._offscreen_changed.clear()
        return super().render_lines(crop)

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """DataTable measures new rows' widths on idle, but its cell cache is not keyed on width: a
        frame drawn before the measure (a loaded machine) would go on being drawn with the cells cut
        to the old widths. When a width moved, drop those renders and repaint once."""
        widths = [column.content_width for column in self.columns.values()]
        super()._update_dimensions(new_rows)
        if widths != [column.content_width for column in self.columns.values()]:
            self._update_count += 1
            self.refresh()

    def _relay(self, rows: Mapping[str, tuple[Text, ...]]) -> int:
        selected = self.selected_key()
        with self.app.batch_update():
            self.clear()
            self._shown = {}
            for key, cells in rows.items():
                self.add_row(*cells, key=key)
                self._shown[key] = cells
            if selected in self._shown:
                self.move_cursor(row=list(self._shown).index(selected))
        return sum(len(c) for c in rows.values())
