"""The services table under churn: a change to a row far off screen costs no repaint, the operator
who scrolls to that row sees its new value (never a stale one), and the cursor stays on the row the
operator put it on whatever the cluster adds, removes or re-orders."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult
from textual.message import Message
from textual.scroll_view import ScrollView

from mlops_tui.tui import keyed_table
from mlops_tui.tui.keyed_table import FITTED_WIDTH_CAP, RERANK_DELAY, KeyedTable
from tests.tui.conftest import until

COLUMNS = (("name", "NAME", 12), ("ready", "READY", 8))


def rows(n: int, ready: dict[int, str] | None = None) -> dict[str, tuple[Text, ...]]:
    ready = ready or {}
    return {f"svc-{i:03d}": (Text(f"svc-{i:03d}"), Text(ready.get(i, "3/3"))) for i in range(n)}


class TableApp(App[None]):
    def __init__(self, columns=COLUMNS, css: str = "") -> None:
        self.CSS = css
        super().__init__()
        self.columns = columns
        self.heard: list[Message] = []

    def compose(self) -> ComposeResult:
        yield KeyedTable(self.columns)

    def on_keyed_table_row_highlighted(self, message: KeyedTable.RowHighlighted) -> None:
        self.heard.append(message)

    def on_keyed_table_row_selected(self, message: KeyedTable.RowSelected) -> None:
        self.heard.append(message)


def screen_lines(app: App) -> list[str]:
    """What the table shows, line by line (rendered the way the terminal gets it)."""
    table = app.query_one(KeyedTable)
    return [strip.text for strip in table.render_lines(table.region.reset_offset)]


def change(table: KeyedTable, i: int, ready: str) -> None:
    """The cluster changed service i's READY cell."""
    table.apply_changes({f"svc-{i:03d}": rows(i + 1, {i: ready})[f"svc-{i:03d}"]})


async def table_of_200(app: App, pilot) -> KeyedTable:
    """200 services in a table 10 rows high, drawn."""
    table = app.query_one(KeyedTable)
    table.sync_rows(rows(200))
    await until(pilot, lambda: shows(app, "svc-000"))
    return table


def shows(app: App, *words: str) -> bool:
    """Some line on screen holds all of `words`."""
    return any(all(word in line for word in words) for line in screen_lines(app))


def count_drawn_lines(table: KeyedTable) -> list[int]:
    """From now on, the table's lines Textual asks to draw (what a repaint costs and sends)."""
    drawn: list[int] = []
    original = table.render_line
    table.render_line = lambda y: (drawn.append(y), original(y))[1]  # type: ignore[method-assign]
    return drawn


async def test_an_off_screen_change_repaints_nothing_and_shows_once_scrolled_into_view():
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = await table_of_200(app, pilot)
        repaints = []
        original = table.refresh
        table.refresh = lambda *a, **k: (repaints.append(1), original(*a, **k))[1]  # type: ignore[method-assign]

        change(table, 150, "1/3")
        await pilot.pause()
        assert repaints == []  # row 150 is far below the 10 visible rows
        assert table.get_row("svc-150")[1].plain == "1/3"  # but the table holds the new value

        change(table, 2, "0/3")
        await pilot.pause()
        assert repaints  # a visible row repaints as before
        assert shows(app, "svc-002", "0/3")

        table.move_cursor(row=150)
        await until(pilot, lambda: shows(app, "svc-150"))
        assert shows(app, "svc-150", "1/3")


async def test_a_row_seen_before_and_changed_off_screen_is_not_shown_from_a_stale_cache():
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = await table_of_200(app, pilot)
        await pilot.pause(0.2)  # the table settles (column widths)
        change(table, 1, "2/3")  # a visible row changes
        await until(pilot, lambda: shows(app, "svc-001", "2/3"))
        table.refresh()  # the whole table is repainted (as when its pane's border count changes):
        await pilot.pause(0.2)  # rows 0-9 are rendered and cached as they are now
        table.move_cursor(row=120)  # the operator scrolls far away
        await until(pilot, lambda: shows(app, "svc-120"))

        change(table, 5, "2/3")
        table.move_cursor(row=0)
        await until(pilot, lambda: shows(app, "svc-000"))
        assert shows(app, "svc-005", "2/3")


async def test_an_off_screen_change_draws_no_line_and_a_visible_change_draws_only_its_own():
    """Under churn on thousands of services, what the terminal is sent must be the changed visible
    rows, not the table: counted as the lines Textual asks the table to draw."""
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = await table_of_200(app, pilot)
        await pilot.pause(0.2)
        drawn = count_drawn_lines(table)

        change(table, 150, "1/3")
        change(table, 199, "0/3")
        await pilot.pause(0.2)
        assert drawn == []  # both rows are far below the visible ones: nothing drawn, nothing sent

        change(table, 3, "2/3")  # row 3 is on the table's fifth line (the header is line 0)
        await until(pilot, lambda: shows(app, "svc-003", "2/3"))
        assert set(drawn) == {4}


async def test_the_first_frame_after_rows_arrive_shows_names_at_their_full_width():
    """The DataTable this replaced measured new rows on idle: a frame drawn before that (a loaded
    machine) showed names cut to the header's width. Widths are now fitted as the rows arrive."""
    app = TableApp(columns=(("name", "NAME"), ("ready", "READY", 8)), css="KeyedTable { height: 10; }")
    async with app.run_test(size=(60, 12)):
        table = app.query_one(KeyedTable)
        name = "property-valuation-model"
        table.sync_rows({name: (Text(name), Text("3/3"))})
        assert shows(app, name, "3/3")  # drawn at once, nothing else has run


async def test_rows_drawn_before_a_longer_name_arrived_are_redrawn_under_the_moved_headers():
    """A wider cell widens its column: every row already drawn (and cached) must be drawn again with
    its READY under the moved READY header, not where it was."""
    app = TableApp(columns=(("name", "NAME"), ("ready", "READY", 5)))
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync_rows({"a": (Text("scorer"), Text("3/3")), "b": (Text("ranker"), Text("1/1"))})
        await until(pilot, lambda: shows(app, "ranker", "1/1"))
        table.apply_changes({"c": (Text("property-valuation-model"), Text("2/2"))})

        def aligned() -> bool:
            lines = screen_lines(app)
            column = lines[0].index("READY")
            return [line[column:column + 3] for line in lines[1:4]] == ["3/3", "1/1", "2/2"]

        await until(pilot, aligned)


async def test_when_the_service_with_the_longest_name_goes_its_column_narrows_again():
    app = TableApp(columns=(("name", "NAME"), ("ready", "READY", 5)))
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync_rows({"a": (Text("scorer"), Text("3/3")), "b": (Text("ranker-v2"), Text("1/1")),
                         "c": (Text("property-valuation-model"), Text("2/2"))})
        await until(pilot, lambda: shows(app, "property-valuation-model"))
        table.apply_changes({}, removed=["a"])  # not the widest: NAME stays as it is
        assert table.column_widths[0] == len("property-valuation-model")
        table.apply_changes({}, removed=["c"])
        assert table.column_widths[0] == len("ranker-v2")
        await until(pilot, lambda: screen_lines(app)[1].split() == ["ranker-v2", "1/1"]
                    and screen_lines(app)[1].index("1/1") == screen_lines(app)[0].index("READY"))


async def test_a_253_character_name_is_cut_with_an_ellipsis_and_the_next_columns_stay_on_screen():
    app = TableApp(columns=(("name", "NAME"), ("ready", "READY", 5), ("version", "VERSION")))
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(KeyedTable)
        long_name = "m" * 253
        table.sync_rows({"long": (Text(long_name), Text("1/3"), Text("v7")),
                         "short": (Text("scorer"), Text("3/3"), Text("v2"))})
        await until(pilot, lambda: shows(app, "scorer"))
        long_line = next(line for line in screen_lines(app) if "mmm" in line)
        assert "m" * (FITTED_WIDTH_CAP - 1) + "…" in long_line and "m" * FITTED_WIDTH_CAP not in long_line
        assert "1/3" in long_line and "v7" in long_line  # the columns after it are still on screen
        assert table.column_widths[0] == FITTED_WIDTH_CAP
        assert table.cells("long")[0].plain == long_name  # the cell itself is kept whole


async def test_the_cursor_stays_on_the_operators_row_when_the_rows_are_reordered():
    """Alerts re-sort by severity as they fire; the operator's cursor is on an alert, not a line."""
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync_rows(rows(6), keep_order=True)
        await until(pilot, lambda: shows(app, "svc-005"))
        table.move_cursor(row=4)
        assert table.selected_key() == "svc-004"

        reversed_rows = dict(reversed(list(rows(6).items())))
        table.sync_rows(reversed_rows, keep_order=True)
        assert table.shown_keys == list(reversed_rows)
        assert table.selected_key() == "svc-004" and table.cursor_row == 1
        await until(pilot, lambda: screen_lines(app)[2].split() == ["svc-004", "3/3"])

        # Sorted by READY, then name: svc-004 becomes the first row once the table re-ranks (within
        # RERANK_DELAY of the change: under churn, moved rows are re-ranked together).
        table.order_by(lambda key, cells: (cells[1].plain, key))
        change(table, 4, "0/3")
        await until(pilot, lambda: table.shown_keys[0] == "svc-004", timeout=RERANK_DELAY + 5)
        assert table.selected_key() == "svc-004" and table.cursor_row == 0
        await until(pilot, lambda: screen_lines(app)[1].split() == ["svc-004", "0/3"])


async def test_the_cursor_stays_on_its_row_when_other_rows_come_and_go():
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = await table_of_200(app, pilot)
        table.move_cursor(row=50)
        table.apply_changes({}, removed=["svc-000", "svc-010", "svc-120"])
        table.apply_changes(rows(203), removed=())  # the three are back, at the end, with three new ones
        assert table.selected_key() == "svc-050"
        assert table.cursor_row == 48  # two rows above it went
        await until(pilot, lambda: shows(app, "svc-050"))


async def test_when_the_operators_row_goes_the_cursor_moves_to_its_neighbour():
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = await table_of_200(app, pilot)
        table.move_cursor(row=50)
        await pilot.pause()
        app.heard.clear()
        table.apply_changes({}, removed=["svc-050", "svc-051", "svc-010"])
        assert table.selected_key() == "svc-052"  # the row that took its place, not the top
        table.move_cursor(row=table.row_count - 1)
        table.apply_changes({}, removed=["svc-199"])
        assert table.selected_key() == "svc-198"  # at the end: the row above
        await pilot.pause()
        highlighted = [m.key for m in app.heard if isinstance(m, KeyedTable.RowHighlighted)]
        assert highlighted == ["svc-052", "svc-199", "svc-198"]  # told each time, as the panes rely on


async def test_keys_move_the_cursor_and_enter_selects_its_row():
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = await table_of_200(app, pilot)
        table.focus()
        visible_rows = table.size.height - 1
        await pilot.press("down", "down")
        assert table.selected_key() == "svc-002"
        await pilot.press("pagedown")
        assert table.cursor_row == 2 + visible_rows
        await pilot.press("end")
        assert table.selected_key() == "svc-199"
        await until(pilot, lambda: shows(app, "svc-199"))  # scrolled with it
        await pilot.press("up")
        assert table.selected_key() == "svc-198"
        await pilot.press("pageup")
        assert table.cursor_row == 198 - visible_rows
        await pilot.press("home")
        assert table.selected_key() == "svc-000"
        await until(pilot, lambda: screen_lines(app)[1].startswith(" svc-000"))
        app.heard.clear()
        await pilot.press("enter")
        await pilot.pause()
        assert [(type(m).__name__, m.key) for m in app.heard] == [("RowSelected", "svc-000")]


async def test_a_click_highlights_a_row_and_a_second_click_on_it_selects_it():
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = await table_of_200(app, pilot)
        app.heard.clear()
        await pilot.click(KeyedTable, offset=(3, 4))  # the fourth row (the header is line 0)
        assert table.selected_key() == "svc-003"
        await pilot.click(KeyedTable, offset=(3, 4))
        await pilot.pause()
        assert [(type(m).__name__, m.key) for m in app.heard] == [
            ("RowHighlighted", "svc-003"), ("RowSelected", "svc-003")]
        await pilot.click(KeyedTable, offset=(3, 0))  # the header selects nothing
        assert table.selected_key() == "svc-003"


async def test_columns_wider_than_the_table_scroll_sideways_with_their_header():
    columns = tuple((f"c{i}", f"COL{i}", 8) for i in range(8))  # 8 x 10 cells in a 40-cell table
    app = TableApp(columns=columns)
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync_rows({"svc": tuple(Text(f"v{i}") for i in range(8))})
        await until(pilot, lambda: shows(app, "COL0") and shows(app, "v0"))
        assert not shows(app, "COL7")
        table.focus()
        await pilot.press("right")  # a column at a time
        await until(pilot, lambda: screen_lines(app)[0].split()[0] == "COL1")
        await pilot.press("right", "right", "right", "right")
        await until(pilot, lambda: shows(app, "COL7") and shows(app, "v7"))
        assert not shows(app, "COL0")
        await pilot.press("left")
        await until(pilot, lambda: screen_lines(app)[0].split()[0] == "COL3")


async def test_a_repainted_row_is_sent_as_one_run_per_style_not_three_pieces_per_cell():
    """Over SSH every segment of a line costs a style code and a reset: a row whose cells share a
    style goes out as one run, a row with one coloured cell as three."""
    app = TableApp()
    async with app.run_test(size=(24, 12)) as pilot:  # as wide as the two columns and their padding
        table = app.query_one(KeyedTable)
        table.sync_rows({"plain": (Text("scorer"), Text("3/3")),
                         "coloured": (Text("ranker"), Text("1/3", style="bold"))})
        table.move_cursor(row=0)
        await until(pilot, lambda: shows(app, "ranker"))
        assert len(list(table.render_line(2))) == 3  # before the cell, the bold cell, after it
        table.move_cursor(row=1)
        assert len(list(table.render_line(1))) == 1  # the plain row, now without the cursor


TINTED = """
KeyedTable > .keyed-table--cursor { background: $secondary; }
KeyedTable:focus > .keyed-table--cursor { background: $primary; }
KeyedTable > .keyed-table--hover { background: $warning; }
"""


def background_of_line(table: KeyedTable, y: int):
    first_segment = next(iter(table.render_line(y)))
    return first_segment.style.bgcolor


async def test_the_cursor_is_redrawn_when_the_table_gains_focus_not_kept_from_the_cache():
    app = TableApp(css=TINTED)
    async with app.run_test(size=(40, 12)) as pilot:
        table = await table_of_200(app, pilot)
        await until(pilot, lambda: table.has_focus)  # the only focusable widget: focused at start
        focused = background_of_line(table, 1)
        app.set_focus(None)  # the operator moves to another pane
        await until(pilot, lambda: background_of_line(table, 1) != focused)
        assert background_of_line(table, 1) != background_of_line(table, 2)  # still unlike other rows
        table.focus()
        await until(pilot, lambda: background_of_line(table, 1) == focused)


async def test_the_row_under_the_mouse_is_tinted_and_untinted_when_it_leaves():
    app = TableApp(css=TINTED)
    async with app.run_test(size=(40, 12)) as pilot:
        table = await table_of_200(app, pilot)
        plain = background_of_line(table, 3)
        await pilot.hover(KeyedTable, offset=(3, 3))
        await until(pilot, lambda: background_of_line(table, 3) != plain)
        await pilot.hover(KeyedTable, offset=(3, 6))
        await until(pilot, lambda: background_of_line(table, 3) == plain)


def private_names(source: str) -> set[str]:
    """`self._x` names a module's code reads or writes."""
    return {node.attr for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name) and node.value.id == "self"
            and node.attr.startswith("_") and not node.attr.startswith("__")}


def test_the_table_uses_no_private_textual_attribute_and_shares_none_with_the_panes():
    """A Textual release may rename or re-purpose any private name: the table touches only its own,
    and its own must not collide with Textual's or a pane's (a pane's `_rows` once emptied it)."""
    source = inspect.getsource(keyed_table)
    ours = private_names(source)
    defined_here = {node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)} | {
        target.attr for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Attribute)}
    assert ours <= defined_here, f"private names not defined by the table: {sorted(ours - defined_here)}"
    textual = {name for name in dir(ScrollView) if name.startswith("_")} | set(vars(ScrollView()))
    assert not ours & textual, f"collides with Textual: {sorted(ours & textual)}"
    panes = Path(keyed_table.__file__).parent / "panes"
    for pane in panes.glob("*.py"):
        for cls in ast.walk(ast.parse(pane.read_text())):
            if isinstance(cls, ast.ClassDef) and any(getattr(b, "id", "") == "KeyedTable" for b in cls.bases):
                clash = ours & private_names(ast.unparse(cls))
                assert not clash, f"{pane.name}: {cls.name} reuses the table's {sorted(clash)}"
