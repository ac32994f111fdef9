"""What the dashboard looks like, in each theme, with a deterministic fleet and a frozen clock.

Column widths are a function of the rows present and the room there is, not of the order rows came
in (tests/tui/test_table_columns.py::test_what_the_table_draws_does_not_depend_on_the_order_the_rows_arrived_in):
a loaded machine that delivers rows in other batches draws the same frame."""

from __future__ import annotations

import pytest

from mlops_tui.tui.config import Settings
from tests.tui.conftest import extras, make_app


@pytest.mark.parametrize("theme", ["dark", "light", "high-contrast"])
def test_dashboard_in_each_theme(snap_compare, theme):
    settings = Settings(theme=theme)
    app, _ = make_app(settings)

    async def settle(pilot):
        from mlops_tui.tui.panes import ServicesPane
        from tests.tui.conftest import until

        await until(pilot, lambda: app.fleet is not None and app.query_one(ServicesPane).row_count == 5)
        extras(app.fleet)
        await until(pilot, lambda: app.query_one("#alerts").row_count == 1)
        # The alerted service is re-ranked to the top with the next re-rank (RERANK_DELAY).
        table = app.query_one(ServicesPane)
        await until(pilot, lambda: "property-valuation-model" in table.shown_keys[0], timeout=10)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(150, 42), run_before=settle)


def test_dashboard_at_80x24(snap_compare):
    app, _ = make_app()

    async def settle(pilot):
        from mlops_tui.tui.panes import ServicesPane
        from tests.tui.conftest import until

        await until(pilot, lambda: app.query_one(ServicesPane).row_count == 5)
        # The tabs' badges are counted at most once a second (tui/pane_tabs.py): wait for this fleet's.
        await until(pilot, lambda: "NotReady" in str(app.query_one("#pane-tabs").render()))
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)], ids=lambda size: f"{size[0]}x{size[1]}")
def test_the_incident_at_each_size(snap_compare, size):
    """The demo's incident (tests/tui/incident.py): four HighInferenceLatency alerts on their rows,
    trouble first, a GPU node NotReady, GPUs pending, a Swarm update paused; at 80×24 the pane tabs'
    badges say what is behind the panes not shown."""
    from tests.tui.incident import incident_app, settle_on_incident

    app, _kube, _swarm = incident_app()
    assert snap_compare(app, terminal_size=size, run_before=settle_on_incident)
