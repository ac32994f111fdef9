"""The services table under churn: a change to a row far off screen costs no repaint, and the
operator who scrolls to that row sees its new value, never a stale one."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult

from mlops_tui.tui.keyed_table import KeyedTable
from tests.tui.conftest import until

COLUMNS = (("name", "NAME", 12), ("ready", "READY", 8))


def rows(n: int, ready: dict[int, str] | None = None) -> dict[str, tuple[Text, ...]]:
    ready = ready or {}
    return {f"svc-{i:03d}": (Text(f"svc-{i:03d}"), Text(ready.get(i, "3/3"))) for i in range(n)}


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS)


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
        change(table, 1, "2/3")  # a visible row changes (the table's caches start afresh)
        await until(pilot, lambda: shows(app, "svc-001", "2/3"))
        table.refresh()  # the whole table is repainted (as when its pane's border count changes):
        await pilot.pause(0.2)  # rows 0-9 are rendered and cached as they are now
        table.move_cursor(row=120)  # the operator scrolls far away
        await until(pilot, lambda: shows(app, "svc-120"))

        change(table, 5, "2/3")
        table.move_cursor(row=0)
        await until(pilot, lambda: shows(app, "svc-000"))
        assert shows(app, "svc-005", "2/3")


class AutoWidthApp(App[None]):
    CSS = "KeyedTable { height: 10; }"

    def compose(self) -> ComposeResult:
        yield KeyedTable((("name", "NAME"), ("ready", "READY", 8)))


async def test_a_frame_drawn_before_the_widths_are_measured_does_not_leave_names_cut():
    """On a loaded machine a frame can be drawn between rows arriving and the table measuring them
    (on idle); the next frame, drawn before anything else happens, must show the full names, not the
    first frame's cut cells (the 80x24 snapshot failed this way under CPU load)."""
    app = AutoWidthApp()
    async with app.run_test(size=(60, 12)):
        table = app.query_one(KeyedTable)
        name = "property-valuation-model"
        table.sync_rows({name: (Text(name), Text("3/3"))})
        early = screen_lines(app)  # drawn at once, while NAME is still as wide as its header
        assert any("pro" in line for line in early) and not any(name in line for line in early)
        await table._on_idle(events.Idle())  # the table measures its new rows, nothing else runs
        assert shows(app, name, "3/3")
