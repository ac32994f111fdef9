"""The services table at the widths operators run it at: the columns they decide with are on screen
at 80, 120 and 200 columns without scrolling sideways, long values are cut with `…` (whole in the
detail screen and in wide mode), the columns follow the rows there are now (whatever order they came
in), and shift + a column's letter re-orders the services with the cursor staying on its service."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region

from mlops_tui.backends.model import Canary, Platform, ServiceKind
from mlops_tui.tui.format import DECISION_COLUMNS, SERVICE_COLUMN, SERVICE_COLUMNS
from mlops_tui.tui.keyed_table import Column, KeyedTable
from mlops_tui.tui.panes import ServicesPane
from mlops_tui.tui.panes.services import row_key
from tests.fakes import InMemoryBackend, service
from tests.tui.conftest import make_app, seed_fleet, until
from tests.tui.keys import burst

LONG_CANARY = "20% → property-price-predictor-predictor-00002"
"""The CANARY cell the issue measured: 48 columns."""

DECISION_LABELS = ("STATE", "NAME", "CLUSTER", "READY", "VERSION", "CANARY", "ALERTS")


def table_lines(table: KeyedTable) -> list[str]:
    """What the table shows inside its border, header first, as the terminal gets it."""
    gutter = table.styles.gutter
    inside = Region(gutter.left, gutter.top, table.size.width, table.size.height)
    return [strip.text for strip in table.render_lines(inside)]


def names(app) -> list[str]:
    table = app.query_one(ServicesPane)
    return [table.cells(k)[SERVICE_COLUMN["name"]].plain for k in table.shown_keys]


def selected_name(app) -> str:
    key = app.selected_service_key()
    return key.name if key else ""


def aligned(table: KeyedTable) -> bool:
    """Every row's READY and CLUSTER cells start under their headers: no row drawn at another width."""
    lines = [line for line in table_lines(table) if line.strip()]
    header, rows = lines[0], lines[1:]
    ready_at, cluster_at = header.index("REA"), header.index("CLU")  # a narrow pane may cut labels
    return bool(rows) and all(re.match(r"\d+/\d+ ", row[ready_at:]) and row[ready_at - 1] == " "
                              and row[cluster_at - 1] == " " and row[cluster_at] != " " for row in rows)


def app_with_a_long_canary():
    app, backend = make_app()
    predictor = next(s for s in backend.services.values() if s.key.name == "property-price-predictor")
    backend.services[predictor.key] = replace(predictor, canary=Canary(
        "kserve", "v1", "property-price-predictor-predictor-00002", weight=20))
    return app, predictor.key


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)])
async def test_the_columns_an_operator_decides_with_are_on_screen_without_scrolling_sideways(size):
    app, _ = app_with_a_long_canary()
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.fleet is not None and len(names(app)) == 5)
        table = app.query_one(ServicesPane)
        assert table.shown_columns[:len(DECISION_COLUMNS)] == [key for key, *_ in SERVICE_COLUMNS[:7]]
        assert set(table.shown_columns[:7]) == DECISION_COLUMNS  # decision columns first
        await until(pilot, lambda: table.max_scroll_x == 0 and table.virtual_size.width <= table.size.width)
        header = table_lines(table)[0]
        for label in DECISION_LABELS:
            assert label[:4] in header, label  # a narrow pane may cut a label, never drop its column
        for line in table_lines(table)[1:6]:
            assert re.search(r"\d+/\d+", line)  # READY, past NAME and CLUSTER, is on every row
        assert aligned(table)


async def test_the_48_column_canary_cell_is_cut_with_an_ellipsis_and_is_whole_in_wide_mode():
    app, predictor = app_with_a_long_canary()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.fleet is not None and len(names(app)) == 5)
        table = app.query_one(ServicesPane)
        row = next(line for line in table_lines(table) if "property" in line and "20%" in line)
        assert "20% →" in row and "…" in row and LONG_CANARY not in row
        assert table.column_widths[SERVICE_COLUMN["canary"]] < len(LONG_CANARY)
        # The cell itself is kept whole (the detail screen shows it).
        assert table.cells(row_key(predictor))[SERVICE_COLUMN["canary"]].plain == LONG_CANARY
        # Wide mode: every column, each at its full width; the table scrolls sideways to them.
        burst(app, "ctrl+w")
        await until(pilot, lambda: table.wide and len(table.shown_columns) == len(SERVICE_COLUMNS))
        assert table.column_widths[SERVICE_COLUMN["canary"]] == len(LONG_CANARY)
        await until(pilot, lambda: table.max_scroll_x > 0)
        table.focus()
        for _ in range(12):
            if any(LONG_CANARY in line for line in table_lines(table)):
                break
            await pilot.press("right")
        assert any(LONG_CANARY in line for line in table_lines(table))
        # Again: back to the columns that fit.
        burst(app, "ctrl+w")
        await until(pilot, lambda: not table.wide and table.max_scroll_x == 0
                    and table.shown_columns[-1] == "alerts")


async def test_rows_that_arrive_later_with_a_longer_name_realign_every_row_and_the_header():
    """Reproduced in the issue: the Kubernetes rows arrived first, the Swarm rows later were drawn
    with NAME cut to the earlier width, and a row that changed was redrawn out of line with the header."""
    prod, swarm = InMemoryBackend("prod-a"), InMemoryBackend("swarm-demo", Platform.SWARM)
    seed_fleet(prod)
    app, _ = make_app(backends=[prod, swarm])
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: app.fleet is not None and len(names(app)) == 5)
        table = app.query_one(ServicesPane)
        await until(pilot, lambda: aligned(table))
        before = table.column_widths
        long_name = "rent-predictor-canary-blue-green"
        later = service(long_name, cluster="swarm-demo", namespace="proptech-ml",
                        kind=ServiceKind.SWARM_SERVICE, platform=Platform.SWARM)
        swarm.upsert(later)
        app.fleet.flush()
        await until(pilot, lambda: any(long_name in line for line in table_lines(table)))
        assert table.column_widths[SERVICE_COLUMN["name"]] == len(long_name)
        await until(pilot, lambda: aligned(table))
        # A row that changes now is drawn at the same widths as the header.
        valuation = next(s for s in prod.services.values() if s.key.name == "property-valuation-model")
        prod.upsert(replace(valuation, ready=1))
        app.fleet.flush()
        await until(pilot, lambda: any("property-valuation-model" in line and "1/3" in line
                                       for line in table_lines(table)))
        assert aligned(table)
        # The long row leaves: NAME narrows to what the rows there are need, as before it came.
        swarm.remove(later.key)
        app.fleet.flush()
        await until(pilot, lambda: len(names(app)) == 5)
        await until(pilot, lambda: table.column_widths[SERVICE_COLUMN["name"]] == before[SERVICE_COLUMN["name"]])
        assert aligned(table)


async def test_a_column_never_stays_wider_than_its_widest_cell():
    """The issue: VERSION kept the width of a rejected image name after the service went back."""
    app, backend = make_app()
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: app.fleet is not None and len(names(app)) == 5)
        table = app.query_one(ServicesPane)
        version = SERVICE_COLUMN["version"]
        await until(pilot, lambda: aligned(table))
        before = table.column_widths[version]
        scorer = next(s for s in backend.services.values() if s.key.name == "ml-model-service")
        rejected = "ml:v9-rejected-image"
        backend.upsert(replace(scorer, version=rejected))
        app.fleet.flush()
        await until(pilot, lambda: table.column_widths[version] == len(rejected))
        backend.upsert(scorer)  # rolled back: no row has that version any more
        app.fleet.flush()
        await until(pilot, lambda: table.column_widths[version] == before)
        assert aligned(table)


class TwoTables(App[None]):
    def __init__(self, css: str) -> None:
        self.CSS = css
        super().__init__()

    def compose(self) -> ComposeResult:
        columns = (Column("name", "NAME", keep=True, elide="middle"), Column("ready", "READY"),
                   Column("note", "NOTE", keep=False))
        yield KeyedTable(columns, id="all-at-once")
        yield KeyedTable(columns, id="in-batches")


async def test_what_the_table_draws_does_not_depend_on_the_order_the_rows_arrived_in():
    """What makes the snapshot tests stable under load: the same rows in another order of arrival
    (and a row that came and went) draw the same lines."""
    rows = {
        "k8s-a": (Text("scorer"), Text("3/3"), Text("-")),
        "k8s-b": (Text("property-valuation-model"), Text("1/3"), Text("paged at 03:12")),
        "swarm-a": (Text("rent-predictor-canary @swarm-demo"), Text("2/2"), Text("-")),
    }
    app = TwoTables(css="KeyedTable { height: 6; width: 60; }")
    async with app.run_test(size=(60, 14)) as pilot:
        at_once, batches = app.query_one("#all-at-once", KeyedTable), app.query_one("#in-batches", KeyedTable)
        at_once.sync_rows(rows)
        batches.apply_changes({"k8s-a": rows["k8s-a"], "k8s-b": rows["k8s-b"]})
        await until(pilot, lambda: any("scorer" in line for line in table_lines(batches)))
        batches.apply_changes({"gone": (Text("x" * 70), Text("10/10"), Text("long gone " * 5))})
        await until(pilot, lambda: any("xxx" in line for line in table_lines(batches)))
        batches.apply_changes({"swarm-a": rows["swarm-a"]}, removed=["gone"])
        await until(pilot, lambda: table_lines(batches) == table_lines(at_once))
        assert "NOTE" in table_lines(at_once)[0]  # room was left for the optional column


async def test_an_optional_column_gives_way_first_and_a_kept_one_is_cut_in_its_middle():
    app = TwoTables(css="KeyedTable { height: 6; width: 30; }")
    async with app.run_test(size=(60, 14)) as pilot:
        table = app.query_one("#all-at-once", KeyedTable)
        table.sync_rows({"a": (Text("property-valuation-model-v2"), Text("3/3"), Text("a note"))})
        await until(pilot, lambda: any("3/3" in line for line in table_lines(table)))
        assert table.shown_columns == ["name", "ready"]  # NOTE has no room; NAME and READY stay
        row = table_lines(table)[1]
        assert "property-v" in row and "…" in row and row.rstrip().endswith("3/3")
        assert re.search(r"…\S*-v2 ", row)  # its end, which tells v1 from v2, stays on screen
        assert table.max_scroll_x == 0


async def test_shift_and_a_columns_letter_reorder_the_services_and_the_cursor_stays_on_its_service():
    app, _ = app_with_a_long_canary()
    async with app.run_test(size=(160, 45)) as pilot:
        # As tests/tui/test_row_trouble.py has it: the under-replicated llm-reranker leads.
        trouble_first = ["llm-reranker", "ensemble-predictor", "ml-model-service", "property-price-predictor",
                         "property-valuation-model"]
        await until(pilot, lambda: app.fleet is not None and names(app) == trouble_first)
        table = app.query_one(ServicesPane)
        table.move_cursor_to_key(next(k for k in table.shown_keys if "ml-model-service" in k))
        await until(pilot, lambda: selected_name(app) == "ml-model-service")
        header = lambda: table_lines(table)[0]  # noqa: E731
        assert "STATE▼" in header()
        # N, and N again sent in the same read: by name, then reversed.
        burst(app, "N", "N")
        await until(pilot, lambda: names(app) == sorted(trouble_first, reverse=True))
        assert selected_name(app) == "ml-model-service" and "NAME▼" in header() and "STATE▼" not in header()
        # A sort and a cursor move together: the move goes by the new order.
        burst(app, "N", "down")
        await until(pilot, lambda: names(app) == sorted(trouble_first) and "NAME▲" in header())
        await until(pilot, lambda: selected_name(app) == "property-price-predictor")
        # W: the heaviest canary first.
        burst(app, "W")
        # (both at 20 %: in place order)
        await until(pilot, lambda: names(app)[:2] == ["ensemble-predictor", "property-price-predictor"])
        assert "CANARY▼" in header() and selected_name(app) == "property-price-predictor"
        # T: back to trouble first.
        burst(app, "T")
        await until(pilot, lambda: names(app) == trouble_first and "STATE▼" in header())
        assert selected_name(app) == "property-price-predictor"
        assert table.shown_keys[table.cursor_row or 0].endswith("property-price-predictor")


async def test_with_more_services_than_lines_the_scrollbar_takes_its_room_from_the_columns():
    """The vertical scrollbar comes with the 20th service, not with a resize: the columns give it
    its two cells at once rather than the table scrolling sideways."""
    app, backend = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.fleet is not None and len(names(app)) == 5)
        table = app.query_one(ServicesPane)
        for i in range(30):
            backend.upsert(service(f"batch-scorer-{i:02d}"))
        app.fleet.flush()
        await until(pilot, lambda: len(names(app)) == 35 and table.show_vertical_scrollbar)
        await until(pilot, lambda: table.max_scroll_x == 0 and aligned(table))
        assert table.virtual_size.width <= table.scrollable_content_region.width


async def test_name_is_cut_last_the_other_kept_columns_give_way_first():
    class NameAndCanary(App[None]):
        CSS = "KeyedTable { height: 4; width: 40; }"

        def compose(self) -> ComposeResult:
            yield KeyedTable((Column("name", "NAME", floor=10, last_cut=True), Column("canary", "CANARY", floor=6)))

    app = NameAndCanary()
    async with app.run_test(size=(60, 8)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync_rows({"a": (Text("property-price-model"), Text(LONG_CANARY))})
        await until(pilot, lambda: any("20%" in line for line in table_lines(table)))
        row = table_lines(table)[1]
        assert "property-price-model" in row and "20% →" in row and "…" in row
        assert table.column_widths == [len("property-price-model"), 40 - 4 - len("property-price-model")]


async def test_at_80_columns_the_gpu_table_tells_its_nodes_apart_and_shows_their_counts():
    app, _ = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.fleet is not None and len(names(app)) == 5)
        app.focus_pane("gpus")
        table = app.query_one("#gpu-table", KeyedTable)
        await until(pilot, lambda: table.row_count == 2 and table.region.width > 0)
        lines = table_lines(table)
        assert any("gpu-node-1" in line and "3/4" in line for line in lines)
        assert any("gpu-node-2" in line and "8/8" in line for line in lines)
        assert table.max_scroll_x == 0
