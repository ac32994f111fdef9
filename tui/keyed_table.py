"""A table of rows identified by string keys, kept in step by diffing and drawn on Textual's Line API.

It is ours end to end: rows, their order, the cursor, the column widths and the render cache are
fields of this class, and Textual is used only through its public Line API (`ScrollView`,
`render_line`, `refresh_line`, `virtual_size`, `Strip`, component classes). The DataTable subclass it
replaces wrote into `DataTable._data` and bumped its private `_update_count` to stay fast under churn:
a Textual release that changed either would have shown stale cells without an error.

What keeps it cheap under churn (bench/churn.py, bench/ssh_cost.py): a changed row drops its own
cached line and, only if it is on screen, asks for that one line to be repainted (`refresh_line`);
a change to a row off screen costs no repaint at all. Lines are cached by row key and checked
against the row's content version, the column layout and its cursor/hover state, so a line is never
drawn from a stale cache, and scrolling reuses the lines already drawn.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal, NamedTuple

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

Cells = tuple[Text, ...]
SortKey = Callable[[str, Cells], Any]

RERANK_DELAY = 2.0
"""Rows whose sort value moved are re-ranked together, at most this often (seconds)."""
"""Orders rows: called with a row's key and cells, rows are shown in ascending order of the result
(anything comparable, a tuple for several criteria)."""

FITTED_WIDTH_CAP = 40
"""A fitted column grows with its widest cell up to this many cells, then cuts cells with an ellipsis:
one 253-character name must not push every other column off screen."""

HEADER_HEIGHT = 1
CELL_PADDING = 1
"""Blank cells either side of each column's text."""

SORT_MARKS = {False: "▲", True: "▼"}
"""After the sorted column's label: ascending, descending."""


def elide_middle(text: Text, width: int) -> Text:
    """`text` cut to `width` cells by its middle: its start, `…`, its end (styles kept)."""
    tail = (width - 1) // 2
    head = width - 1 - tail
    cut = text[:head]
    cut.append("…")
    cut.append_text(text[len(text.plain) - tail:])
    return cut  # wide characters may overshoot: the caller's truncate brings it to `width`


def fit(columns: Sequence[Column], natural: Sequence[int], room: int | None) -> tuple[list[int], list[int]]:
    """(the columns shown, each column's width, 0 if hidden) for cells of `natural` widths in `room`
    cells (None: room for all, as in wide mode). Kept columns are all shown, cut rather than dropped:
    the widest first down to their floors, a `last_cut` column only after the others; short of room
    even then, every floor shrinks in proportion. The others are shown, in order, where room is left."""
    widths = list(natural)
    shown = list(range(len(columns)))
    if room is not None:
        kept = [i for i, c in enumerate(columns) if c.keep]
        budget = room - 2 * CELL_PADDING * len(kept)
        if sum(natural[i] for i in kept) > budget:
            squeezable = [i for i in kept if columns[i].width is None]
            budget -= sum(natural[i] for i in kept if columns[i].width is not None)
            wanted = [natural[i] for i in squeezable]
            floors = [min(n, columns[i].floor) for n, i in zip(wanted, squeezable, strict=True)]
            last = [n for n, i in enumerate(squeezable) if columns[i].last_cut]
            others_first = [wanted[n] if n in last else f for n, f in enumerate(floors)]
            scaled = [max(1, f * budget // sum(floors)) for f in floors] if sum(floors) else floors
            fits = (squeeze(wanted, others_first, budget) or _cut_last(wanted, floors, last, budget)
                    or squeeze(wanted, scaled, budget) or scaled)
            for i, width in zip(squeezable, fits, strict=True):
                widths[i] = width
            shown = kept
        else:
            left, shown = budget - sum(natural[i] for i in kept), []
            for i, column in enumerate(columns):
                if column.keep:
                    shown.append(i)
                elif natural[i] + 2 * CELL_PADDING <= left:
                    shown.append(i)
                    left -= natural[i] + 2 * CELL_PADDING
    hidden = set(range(len(columns))) - set(shown)
    return shown, [0 if i in hidden else width for i, width in enumerate(widths)]


def _cut_last(wanted: list[int], floors: list[int], last: list[int], budget: int) -> list[int] | None:
    """The others at their floors, the `last` columns given what is left (down to their own floors);
    None when that does not fit either."""
    cut = squeeze([wanted[n] for n in last], [floors[n] for n in last],
                  budget - sum(f for n, f in enumerate(floors) if n not in last))
    if cut is None:
        return None
    widths = list(floors)
    for n, width in zip(last, cut, strict=True):
        widths[n] = width
    return widths


class Descending:
    """Wraps a sort value so that it orders in reverse (larger first) inside a sort key tuple, the
    rest of the tuple still ascending: `(Descending(weight), name)`."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: Descending) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Descending) and bool(self.value == other.value)

    def __hash__(self) -> int:
        return hash(self.value)


class Column(NamedTuple):
    """One column of a table (a NamedTuple: tables are declared at import, before the first frame,
    and a dataclass costs ~4 M instructions to build there)."""

    key: str
    label: str
    width: int | None = None
    """Fixed width in cells (state words, counts: keeps the layout from jittering), or None: fitted."""
    cap: int = FITTED_WIDTH_CAP
    """The most cells a fitted column takes (wide mode lifts it)."""
    keep: bool = True
    """Always shown, elided rather than dropped when the table is short of room; the others are shown
    only where room is left after these (wide mode shows every column)."""
    floor: int = 8
    """How narrow a fitted, kept column is elided to before the others give up more room."""
    last_cut: bool = False
    """Cut (to its floor) only once the other kept columns are at theirs: the column read first."""
    elide: Literal["end", "middle"] = "end"
    """Where a cell too wide for its column loses its text: "middle" keeps both ends (names that
    differ only by a suffix, `…-predictor-00002`, `model @prod-a`, still read differently)."""

    @classmethod
    def of(cls, spec: Sequence) -> Column:
        """(key, label) or (key, label, fixed width): the tuples `tui/format.py` declares."""
        return cls(spec[0], spec[1], spec[2] if len(spec) > 2 else None)


def columns(specs: Iterable[Sequence], *, optional: Iterable[str] = (), floors: Mapping[str, int] | None = None,
            middle: Iterable[str] = (), last_cut: str | None = None) -> tuple[Column, ...]:
    """`Column`s from the (key, label[, width]) tuples `tui/format.py` declares, with how each pane
    wants them fitted: `optional` columns give way, `floors`, `middle`-elided columns, the one column
    cut `last_cut`."""
    optional, middle, floors = set(optional), set(middle), floors or {}
    return tuple(c._replace(keep=c.key not in optional, floor=floors.get(c.key, c.floor), last_cut=c.key == last_cut,
                         elide="middle" if c.key in middle else "end")
                 for c in map(Column.of, specs))


def squeeze(natural: Sequence[int], floors: Sequence[int], budget: int) -> list[int] | None:
    """Widths no wider than `natural` and no narrower than `floors` that fit in `budget` cells, taken
    from the widest columns first (the highest level L with every width min(natural, max(floor, L))
    fitting); None when even the floors do not fit."""
    def widths(level: int) -> list[int]:
        return [min(n, max(f, level)) for n, f in zip(natural, floors, strict=True)]

    if sum(widths(0)) > budget:
        return None
    low, high = 0, max(natural, default=0)
    while low < high:  # the highest level that fits
        middle = (low + high + 1) // 2
        low, high = (middle, high) if sum(widths(middle)) <= budget else (low, middle - 1)
    return widths(low)


class KeyedTable(ScrollView, can_focus=True):
    """Rows keyed by strings, synced with `sync_rows`/`apply_changes`; a cursor that follows its row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "cursor_home", "First row", show=False),
        Binding("end", "cursor_end", "Last row", show=False),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
    ]

    COMPONENT_CLASSES = {"keyed-table--header", "keyed-table--cursor", "keyed-table--hover"}
    """Styled by the theme's TCSS (themes/app.tcss): no colour is chosen here."""

    DEFAULT_CSS = """
    KeyedTable {
        height: auto;
        max-height: 100%;
        overflow: auto auto;
    }
    """

    class _RowMessage(Message):
        def __init__(self, table: KeyedTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> KeyedTable:
            return self.table

    class RowHighlighted(_RowMessage):
        """The cursor moved onto another row (`key` None: the table is empty)."""

    class RowSelected(_RowMessage):
        """The operator chose the row under the cursor (enter, or a click on the highlighted row)."""

        key: str

    def __init__(self, columns: Sequence[Sequence | Column], *, sort_key: SortKey | None = None, **kwargs) -> None:
        """`columns`: (key, label) or (key, label, fixed width), or `Column`s. `sort_key`: see `order_by`."""
        super().__init__(**kwargs)
        self._table_columns = [c if isinstance(c, Column) else Column.of(c) for c in columns]
        self._fitted = [i for i, c in enumerate(self._table_columns) if c.width is None]
        self._width_counts: dict[int, Counter[int]] = {i: Counter() for i in self._fitted}
        """Per fitted column, how many rows have a cell of each width: the widest present, kept in
        step row by row, so a column follows the rows there are now (grows and shrinks) at the cost
        of the rows that changed, never a re-measure of every row."""
        self._cell_widths: dict[str, tuple[int, ...]] = {}
        self._shown = list(range(len(self._table_columns)))
        """The columns drawn, in order: the kept ones and those the width left room for."""
        self._column_widths = [c.width if c.width is not None else cell_len(c.label) for c in self._table_columns]
        """Each column's drawn width (0: not shown); every line, header included, is drawn from this."""
        self._naturals: list[int] | None = None
        """`_natural_widths`, as last computed (None: to compute again)."""
        self._fitted_to: tuple | None = None
        """What the layout was computed from (natural widths, room, wide, sort mark): a line is never
        drawn from a layout computed for another width."""
        self._wide = False
        self._sort_column: str | None = None
        self._sort_descending = False
        self._cells_by_key: dict[str, Cells] = {}
        self._row_order: list[str] = []
        self._row_index: dict[str, int] = {}
        self._row_versions: dict[str, int] = {}
        """Bumped when a row's cells change: part of its cached line's signature."""
        self._version_counter = 0
        self._layout_version = 0
        """Bumped when column widths change: every cached line is then stale."""
        self._line_cache: dict[str, tuple[tuple, Strip]] = {}
        self._header_line_cache: tuple[int, Strip] | None = None
        self._part_styles: dict[str, Style] = {}
        self._cursor_key: str | None = None
        self._hover_key: str | None = None
        self._sort_key = sort_key
        self._sort_values: dict[str, Any] = {}
        """Each row's sort value as last ranked: rows are re-ranked only when one of them moves."""
        self._rerank_timer: Timer | None = None

    # -- what callers read ---------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._row_order)

    @property
    def shown_keys(self) -> list[str]:
        """Row keys in the order they are shown."""
        return list(self._row_order)

    @property
    def cursor_row(self) -> int | None:
        """The cursor's row index, None when the table is empty."""
        return self._row_index.get(self._cursor_key) if self._cursor_key is not None else None

    @property
    def column_widths(self) -> list[int]:
        """Each column's drawn width in cells, padding excluded (0: not shown), in declared order."""
        self._fit_layout()
        return list(self._column_widths)

    @property
    def shown_columns(self) -> list[str]:
        """The keys of the columns drawn, in order."""
        self._fit_layout()
        return [self._table_columns[i].key for i in self._shown]

    @property
    def wide(self) -> bool:
        """Every column shown at its full width, the table scrolling sideways (k9s's wide mode)."""
        return self._wide

    @wide.setter
    def wide(self, wide: bool) -> None:
        self._wide = wide
        self._naturals = None
        self._fit_layout()

    @property
    def sort_column(self) -> tuple[str | None, bool]:
        """(the column the header marks as sorted, descending)."""
        return self._sort_column, self._sort_descending

    def cells(self, key: str) -> Cells | None:
        return self._cells_by_key.get(key)

    def get_row(self, key: str) -> list[Text]:
        return list(self._cells_by_key[key])

    def selected_key(self) -> str | None:
        return self._cursor_key

    # -- keeping rows in step ------------------------------------------------------------------

    def sync_rows(self, rows: Mapping[str, Cells], *, keep_order: bool = False) -> int:
        """Make the table show exactly `rows` (in their order for new rows). Returns cells touched.

        With `keep_order` (small tables whose order means something, like alerts by severity) the
        rows are shown in the order of `rows`; the cursor stays on its key whatever moves.
        """
        touched = self.apply_changes(rows, [key for key in self._cells_by_key if key not in rows])
        if keep_order and self._sort_key is None and list(rows) != self._row_order:
            self._reorder(list(rows))
        return touched

    def apply_changes(self, upserts: Mapping[str, Cells], removed: Iterable[str] = ()) -> int:
        """Remove `removed`, add or update `upserts` (cells compared, unchanged rows skipped):
        O(changes), not O(table). Repaints only changed rows that are on screen."""
        gone = [key for key in removed if key in self._cells_by_key]
        first_moved = self._remove(gone) if gone else None
        added, changed, touched = self._store(upserts)
        if added:
            appended_at = self._append(added)
            first_moved = appended_at if first_moved is None else first_moved
        if self._sort_key is not None and added:
            self._rerank()  # new rows (the first sync, a cleared filter) take their place at once
        elif self._sort_key is not None and self._rank_moved(changed):
            self._rerank_soon()
        if not self._fit_layout():  # a new layout repaints the whole view itself
            for key in changed:
                self._refresh_row(key)
            if first_moved is not None:
                self._refresh_from(first_moved)
        if gone or added:
            self._size_to_content()
        if self._cursor_key is None and self._row_order:
            self._place_first_cursor()
        return touched + len(gone)

    def _store(self, upserts: Mapping[str, Cells]) -> tuple[list[str], list[str], int]:
        """Keep the rows that are new or differ: (new keys, changed keys, cells that differ)."""
        added: list[str] = []
        changed: list[str] = []
        touched = 0
        for key, cells in upserts.items():
            old = self._cells_by_key.get(key)
            if old is cells:
                continue
            # Compared once, cell by cell: what differs is counted and only it is measured.
            differ = [i for i, cell in enumerate(cells) if old is None or i >= len(old) or not _same(old[i], cell)]
            if old is not None and not differ and len(old) == len(cells):
                continue
            (added if old is None else changed).append(key)
            touched += len(differ)
            self._cells_by_key[key] = cells
            self._count_widths(key, cells, None if old is None else set(differ))
            self._row_versions[key] = self._version_counter
            self._version_counter += 1
            self._line_cache.pop(key, None)  # never drawn again from what it showed before
        return added, changed, touched

    def _append(self, added: list[str]) -> int:
        """New rows go below the others; returns the index of the first."""
        start = len(self._row_order)
        self._row_order.extend(added)
        self._row_index.update((key, start + i) for i, key in enumerate(added))
        return start

    def order_by(self, sort_key: SortKey | None, column: str | None = None, descending: bool = False) -> None:
        """Keep rows sorted by `sort_key(key, cells)` (None: insertion order, as `sync_rows` left it);
        the cursor stays on its row. `column`, `descending`: what the header marks (▲/▼); the order
        itself is `sort_key`'s."""
        self._sort_key = sort_key
        self._sort_column, self._sort_descending = column, descending
        self._naturals = None
        self._fit_layout()
        if sort_key is not None:
            self._reorder(self._sorted(sort_key))

    def _sorted(self, sort_key: SortKey) -> list[str]:
        rows = self._cells_by_key
        self._sort_values = {key: sort_key(key, rows[key]) for key in self._row_order}
        return sorted(self._row_order, key=self._sort_values.__getitem__)

    def _rerank_soon(self) -> None:
        """Re-rank at most every `RERANK_DELAY`: under churn (a fleet scaling hundreds of services)
        rows change rank many times a second, and sorting thousands of rows and repainting the view
        each time took the main thread from 7 % to 19 % (bench/churn.py). Cells update at once; a row
        reaches its new place within the delay, with the others that moved meanwhile."""
        if not self.is_mounted:
            self._rerank()
        elif self._rerank_timer is None:
            self._rerank_timer = self.set_timer(RERANK_DELAY, self._rerank)

    def _rerank(self) -> None:
        self._rerank_timer = None
        if self._sort_key is not None:
            self._reorder(self._sorted(self._sort_key))

    def _rank_moved(self, changed: list[str]) -> bool:
        """Whether a changed row's sort value moved: a row whose cells change but whose rank does not
        (a replica count ticking, a version rolling) keeps its place, and the table is not re-sorted."""
        sort_key = self._sort_key
        assert sort_key is not None
        rows = self._cells_by_key
        return any(self._sort_values.get(key) != sort_key(key, rows[key]) for key in changed)

    def clear(self) -> None:
        self.apply_changes({}, list(self._row_order))

    def _remove(self, gone: list[str]) -> int:
        """Drop rows; returns the first index whose row changed (rows below it moved up)."""
        gone_set = set(gone)
        first = min(self._row_index[key] for key in gone)
        if self._cursor_key in gone_set:
            self._cursor_key = self._neighbour(self._row_index[self._cursor_key], gone_set)
            self._post_highlighted()
        if self._hover_key in gone_set:
            self._hover_key = None
        for key in gone:
            self._uncount_widths(key)
            del self._cells_by_key[key], self._row_versions[key], self._row_index[key]
            self._line_cache.pop(key, None)
        self._row_order = [key for key in self._row_order if key not in gone_set]
        self._reindex(first)
        return first

    def _neighbour(self, index: int, gone: set[str]) -> str | None:
        """Where the cursor goes when its row is removed: the next row that stays (the one that
        takes its place on screen), else the nearest one above; not back to the top."""
        below = (key for key in self._row_order[index + 1:] if key not in gone)
        above = (key for key in reversed(self._row_order[:index]) if key not in gone)
        return next(below, None) or next(above, None)

    def _reorder(self, order: list[str]) -> None:
        """Show the same rows in `order`; the cursor keeps its key, so it moves with its row."""
        if order == self._row_order:
            return
        first = next(i for i, (a, b) in enumerate(zip(order, self._row_order, strict=True)) if a != b)
        self._row_order = order
        self._reindex(first)
        self._refresh_from(first)
        self._scroll_to_cursor()

    def _reindex(self, start: int) -> None:
        for index in range(start, len(self._row_order)):
            self._row_index[self._row_order[index]] = index

    def _place_first_cursor(self) -> None:
        """The first rows arrived: the cursor starts on the top one. Rows coming and going later
        never scroll the view (an operator who scrolled away with the wheel stays where they are)."""
        self._cursor_key = self._row_order[0]
        self._refresh_row(self._cursor_key)
        self._post_highlighted()

    # -- column widths: one layout, computed in one place, for the header and every row ------

    def _count_widths(self, key: str, cells: Cells, differ: set[int] | None) -> None:
        """Count the row's fitted cells' widths; `differ`: the only columns whose cells changed."""
        old = self._cell_widths.get(key)
        if old is None or differ is None:
            self._uncount_widths(key)
            widths = tuple(cell_len(cells[i].plain) if i < len(cells) else 0 for i in self._fitted)
            self._cell_widths[key] = widths
            for i, width in zip(self._fitted, widths, strict=True):
                self._width_counts[i][width] += 1
            self._naturals = None
            return
        new = list(old)
        for n, i in enumerate(self._fitted):
            if i in differ:
                width = cell_len(cells[i].plain) if i < len(cells) else 0
                if width != old[n]:
                    self._uncount(i, old[n])
                    self._width_counts[i][width] += 1
                    new[n] = width
                    self._naturals = None
        self._cell_widths[key] = tuple(new)

    def _uncount_widths(self, key: str) -> None:
        for i, width in zip(self._fitted, self._cell_widths.pop(key, ()), strict=False):  # none: a new row
            self._uncount(i, width)

    def _uncount(self, column: int, width: int) -> None:
        counts = self._width_counts[column]
        counts[width] -= 1
        if not counts[width]:
            del counts[width]
        self._naturals = None

    def _label(self, column: Column) -> str:
        return column.label + SORT_MARKS[self._sort_descending] if column.key == self._sort_column else column.label

    def _natural_widths(self) -> list[int]:
        """Each column's width for the rows present: fixed, or its widest cell or label (capped
        unless wide). Kept until a count, the sort mark or wide mode changes: every line drawn asks."""
        if self._naturals is not None:
            return self._naturals
        widths = []
        for i, column in enumerate(self._table_columns):
            if column.width is not None:
                widths.append(column.width)
                continue
            widest = max(cell_len(self._label(column)), max(self._width_counts[i], default=0))
            widths.append(widest if self._wide else min(widest, column.cap))
        self._naturals = widths
        return widths

    def _room(self) -> int | None:
        """Cells across the table has for its columns (its vertical scrollbar excluded); None before
        it is laid out."""
        width = self.scrollable_content_region.width if self.is_mounted else 0
        return width or None

    def _fit_layout(self) -> bool:
        """Fit the columns to the rows present and the room there is: kept columns first, elided
        (widest first) rather than dropped; other columns where room is left; in wide mode every
        column at full width. Returns whether the layout changed (the whole view is then repainted:
        every column right of one that moved shifts)."""
        natural, room = self._natural_widths(), self._room()
        fitted_to = (tuple(natural), room, self._wide, self._sort_column, self._sort_descending)
        if fitted_to == self._fitted_to:
            return False
        self._fitted_to = fitted_to
        self._header_line_cache = None  # the sort mark may have moved even where no width did
        self.refresh(Region(0, 0, self.size.width, HEADER_HEIGHT))
        shown, widths = fit(self._table_columns, natural, None if self._wide else room)
        if (shown, widths) == (self._shown, self._column_widths):
            return False
        self._shown, self._column_widths = shown, widths
        self._layout_version += 1
        self._header_line_cache = None
        self._size_to_content()
        self.refresh()
        return True

    def _size_to_content(self) -> None:
        width = sum(self._column_widths[i] + 2 * CELL_PADDING for i in self._shown)
        self.virtual_size = Size(width, len(self._row_order) + HEADER_HEIGHT)

    # -- repainting only what changed ---------------------------------------------------------

    def _visible_rows(self) -> range:
        """Row indexes on screen: the header covers the first line, rows scroll under it."""
        top = self.scroll_offset.y
        return range(top, top + max(self.size.height - HEADER_HEIGHT, 0))

    def _refresh_row(self, key: str) -> None:
        index = self._row_index.get(key)
        if index is not None and index in self._visible_rows():
            self.refresh_line(index + HEADER_HEIGHT)

    def _refresh_from(self, first: int) -> None:
        """Rows from `first` down moved: repaint those on screen, nothing if all are below it."""
        visible = self._visible_rows()
        start = max(first, visible.start)
        if start < visible.stop:
            self.refresh_lines(start + HEADER_HEIGHT, visible.stop - start)

    def notify_style_update(self) -> None:
        """The theme or a pseudo-class (focus) changed: every cached line may be drawn differently."""
        super().notify_style_update()
        self._part_styles.clear()
        self._line_cache.clear()
        self._header_line_cache = None

    # -- drawing -------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        # The room can change without a Resize (the vertical scrollbar comes and goes with the rows,
        # and the whole view is repainted then): checked with the header, the top line of every full
        # repaint, so no line is drawn for a width the table no longer has (~40 µs: not every line).
        if y == 0:
            self._fit_layout()
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self._style("")
        if y < HEADER_HEIGHT:
            line = self._header_line()
        else:
            index = scroll_y + y - HEADER_HEIGHT
            if index >= len(self._row_order):
                return Strip.blank(width, base)
            line = self._row_line(self._row_order[index])
        return line.crop_extend(scroll_x, scroll_x + width, base)

    def _row_line(self, key: str) -> Strip:
        cursor, hover = key == self._cursor_key, key == self._hover_key
        signature = (self._row_versions[key], self._layout_version, cursor, hover)
        cached = self._line_cache.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        # As DataTable draws them: the row under the mouse is tinted beneath the cells' own colours,
        # the cursor is drawn over them (its colours are chosen to contrast with its background).
        base = self._style("") + self._style("keyed-table--hover") if hover and not cursor else self._style("")
        line = self._draw(self._cells_by_key[key], base, self._style("keyed-table--cursor") if cursor else None)
        self._line_cache[key] = (signature, line)
        return line

    def _header_line(self) -> Strip:
        if self._header_line_cache is None or self._header_line_cache[0] != self._layout_version:
            labels = tuple(Text(self._label(column)) for column in self._table_columns)
            header = self._style("") + self._style("keyed-table--header")
            self._header_line_cache = (self._layout_version, self._draw(labels, header, None, header=True))
        return self._header_line_cache[1]

    def _draw(self, cells: Cells, base: Style, over: Style | None, header: bool = False) -> Strip:
        """One row: each cell cut (…) or padded to its column's width, padded either side; the
        cells' own styles sit on `base`, and `over` (the cursor) on top of both."""
        console = self.app.console
        pad = Segment(" " * CELL_PADDING, base + over if over else base)
        segments: list[Segment] = []
        for i in self._shown:
            cell, width = cells[i] if i < len(cells) else Text(), self._column_widths[i]
            text = cell.copy() if "\n" not in cell.plain else Text(cell.plain.replace("\n", " "), style=cell.style)
            text.no_wrap = True
            if not header and self._table_columns[i].elide == "middle" and cell_len(text.plain) > width > 2:
                text = elide_middle(text, width)
            text.truncate(width, overflow="ellipsis", pad=True)
            own = cell.style if isinstance(cell.style, Style) else console.get_style(cell.style, default=Style())
            # Text.render emits spans only (a Text's own style is for console rendering): the cell's
            # style, over the row's, becomes the first span; spans inside the cell stay above it.
            text.style = ""
            text.stylize_before(base + own)
            if over:
                text.stylize(over)
            segments.append(pad)
            segments.extend(text.render(console))
            segments.append(pad)
        # One segment per run of equal style: the terminal is sent a style code for every segment,
        # so this is what a repainted line costs over SSH (bench/ssh_cost.py).
        return Strip(segments, sum(self._column_widths[i] + 2 * CELL_PADDING for i in self._shown)).simplify()

    def _style(self, component: str) -> Style:
        """A component's style, or the table's own for "". Kept until the styles change: `rich_style`
        walks every ancestor (about a tenth of drawing an empty line). Textual tells each node of a
        change to its own or an ancestor's styles (`notify_style_update`), and keeps its own component
        styles on that promise."""
        style = self._part_styles.get(component)
        if style is None:
            # Not partial: colours such as the cursor's "auto" foreground are resolved against
            # its background here, as DataTable does.
            style = self.rich_style if not component else self.get_component_rich_style(component)
            self._part_styles[component] = style
        return style

    # -- the cursor ----------------------------------------------------------------------------

    def move_cursor(self, *, row: int) -> None:
        """Put the cursor on the row at index `row` (clamped) and scroll it into view."""
        if not self._row_order:
            return
        self._set_cursor(self._row_order[max(0, min(row, len(self._row_order) - 1))])

    def move_cursor_to_key(self, key: str) -> None:
        if key in self._row_index:
            self._set_cursor(key)

    def _set_cursor(self, key: str) -> None:
        if key == self._cursor_key:
            self._scroll_to_cursor()
            return
        old, self._cursor_key = self._cursor_key, key
        if old is not None:
            self._refresh_row(old)
        self._scroll_to_cursor()
        self._refresh_row(key)
        self._post_highlighted()

    def _scroll_to_cursor(self) -> None:
        """Scroll the least that shows the cursor's row below the header."""
        index = self.cursor_row
        rows_on_screen = self.size.height - HEADER_HEIGHT
        if index is None or rows_on_screen <= 0:
            return
        top = self.scroll_offset.y
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + rows_on_screen:
            self.scroll_to(y=index - rows_on_screen + 1, animate=False)

    def _post_highlighted(self) -> None:
        self.post_message(self.RowHighlighted(self, self._cursor_key))

    def _step(self, rows: int) -> None:
        index = self.cursor_row
        if index is not None:
            self.move_cursor(row=index + rows)

    def on_resize(self, _event: events.Resize) -> None:
        self._fit_layout()
        self._scroll_to_cursor()

    def action_cursor_up(self) -> None:
        self._step(-1)

    def action_cursor_down(self) -> None:
        self._step(+1)

    def action_page_up(self) -> None:
        self._step(-max(self.size.height - HEADER_HEIGHT, 1))

    def action_page_down(self) -> None:
        self._step(+max(self.size.height - HEADER_HEIGHT, 1))

    def action_cursor_home(self) -> None:
        self.move_cursor(row=0)

    def action_cursor_end(self) -> None:
        self.move_cursor(row=len(self._row_order) - 1)

    def action_scroll_right(self) -> None:
        """Sideways a column at a time, so a column is never shown cut at the left edge."""
        x = self.scroll_offset.x
        self.scroll_to(x=next((start for start in self._column_starts() if start > x), self.max_scroll_x),
                       animate=False)

    def action_scroll_left(self) -> None:
        x = self.scroll_offset.x
        self.scroll_to(x=max((start for start in self._column_starts() if start < x), default=0), animate=False)

    def _column_starts(self) -> list[int]:
        starts, x = [], 0
        for i in self._shown:
            starts.append(x)
            x += self._column_widths[i] + 2 * CELL_PADDING
        return starts

    def action_select_cursor(self) -> None:
        if self._cursor_key is not None:
            self.post_message(self.RowSelected(self, self._cursor_key))

    # -- the mouse -----------------------------------------------------------------------------

    def _key_at(self, event: events.MouseEvent) -> str | None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < HEADER_HEIGHT:
            return None
        index = self.scroll_offset.y + offset.y - HEADER_HEIGHT
        return self._row_order[index] if 0 <= index < len(self._row_order) else None

    def on_click(self, event: events.Click) -> None:
        """A click highlights a row; a click on the highlighted row selects it (as enter does), so
        one stray click never opens anything."""
        key = self._key_at(event)
        if key is None:
            return
        event.stop()
        if key == self._cursor_key:
            self.action_select_cursor()
        else:
            self._set_cursor(key)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._set_hover(self._key_at(event))

    def on_leave(self, _event: events.Leave) -> None:
        self._set_hover(None)

    def _set_hover(self, key: str | None) -> None:
        if key == self._hover_key:
            return
        old, self._hover_key = self._hover_key, key
        for row in (old, key):
            if row is not None:
                self._refresh_row(row)


def _same(old: object, new: object) -> bool:
    """Two cells draw alike: rich's `Text.__eq__` ignores the whole text's style (a cell's colour),
    so a row restyled for a new theme would otherwise keep the old theme's colour on screen."""
    if isinstance(old, Text) and isinstance(new, Text):
        return old.plain == new.plain and old.style == new.style and old.spans == new.spans
    return old == new
