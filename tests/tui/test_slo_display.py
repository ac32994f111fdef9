"""The operator reads latency against SLOs that mean something: a service over its known SLO says so in
its row and rises with the troubled rows; a service with no known SLO is not painted breached, and the
latency pane says where an SLO came from, or how to set one; `status --json` says the same."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from mlops_tui.backends.base import Change
from mlops_tui.backends.model import SLO_ANNOTATION, LatencySeries, Slo, SloSource
from mlops_tui.tui.format import SERVICE_COLUMN, TROUBLE_NONE, trouble_rank
from mlops_tui.tui.panes import LatencyPane, ServicesPane
from mlops_tui.tui.status import latency_document
from tests.fakes import T0, service
from tests.tui.conftest import SEED_RULE_SLO, make_app, until

ROOT = Path(__file__).resolve().parents[2]


def p95(*values: float) -> tuple[tuple[float, float], ...]:
    return tuple((T0.timestamp() - 60 * (len(values) - i), v) for i, v in enumerate(values))


def row_of(app, name: str) -> tuple[int, str]:
    table = app.query_one(ServicesPane)
    for index, key in enumerate(table.shown_keys):
        cells = table.cells(key)
        if cells[SERVICE_COLUMN["name"]].plain == name:
            return index, cells[SERVICE_COLUMN["state"]].plain
    raise AssertionError(f"{name} not shown")


async def select(app, pilot, name: str) -> LatencyPane:
    table = app.query_one(ServicesPane)
    table.move_cursor(row=row_of(app, name)[0])
    pane = app.query_one(LatencyPane)
    await until(pilot, lambda: pane.selected is not None and pane.selected.name == name)
    return pane


def trend_text(pane: LatencyPane) -> str:
    return " ".join(str(pane.query_one(f"#latency-selected {part}").render())
                    for part in (".trend-title", ".trend-legend"))


async def test_a_healthy_service_over_its_slo_reads_over_slo_and_rises_with_the_troubled_rows():
    app, _ = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.fleet is not None and len(app.query_one(ServicesPane).shown_keys) == 5)
        fleet = app.fleet
        key = next(k for k in fleet.state.services if k.name == "ml-model-service")
        assert row_of(app, "ml-model-service")[1] == "● ok"
        fleet.submit(Change(source="prometheus", latency={key: LatencySeries(key, p95=p95(0.2, 0.3, 0.9),
                                                                              slo=SEED_RULE_SLO)}))
        fleet.flush()
        await until(pilot, lambda: row_of(app, "ml-model-service")[1] == "▲ over SLO")
        assert trouble_rank("▲ over SLO") < TROUBLE_NONE
        oks = [i for i, k in enumerate(app.query_one(ServicesPane).shown_keys)
               if app.query_one(ServicesPane).cells(k)[SERVICE_COLUMN["state"]].plain == "● ok"]
        assert all(row_of(app, "ml-model-service")[0] < i for i in oks)
        pane = await select(app, pilot, "ml-model-service")
        shown = trend_text(pane)
        assert "SLO breached (500ms)" in shown and "from alert rule HighInferenceLatency" in shown

        # The bars over the SLO (the last one) are drawn in the theme's `down` style, the others not.
        spark = pane.query_one("#latency-selected .trend-spark").content
        bottom = spark.split("\n")[-1]
        down = pane.style_for("down")
        marked = {span.start for span in bottom.spans if span.style == down}
        assert marked == {len(bottom.plain) - 1}, (bottom.plain, marked)

        # Back under its SLO: the row is ok again.
        fleet.submit(Change(source="prometheus", latency={key: LatencySeries(key, p95=p95(0.9, 0.3, 0.2),
                                                                              slo=SEED_RULE_SLO)}))
        fleet.flush()
        await until(pilot, lambda: row_of(app, "ml-model-service")[1] == "● ok")


async def test_a_service_with_no_known_slo_is_never_painted_breached_and_the_pane_says_how_to_set_one():
    app, _ = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.fleet is not None and len(app.query_one(ServicesPane).shown_keys) == 5)
        fleet = app.fleet
        key = next(k for k in fleet.state.services if k.name == "ml-model-service")
        fleet.submit(Change(source="prometheus", latency={key: LatencySeries(key, p95=p95(0.2, 3.0, 9.0))}))
        fleet.flush()
        pane = await select(app, pilot, "ml-model-service")
        await until(pilot, lambda: "no SLO" in trend_text(pane))
        shown = trend_text(pane)
        assert "breached" not in shown and SLO_ANNOTATION in shown
        assert row_of(app, "ml-model-service")[1] == "● ok"


async def test_the_pane_names_where_the_slo_came_from():
    app, _ = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.fleet is not None and len(app.query_one(ServicesPane).shown_keys) == 5)
        fleet = app.fleet
        key = next(k for k in fleet.state.services if k.name == "ml-model-service")
        slo = Slo(0.25, SloSource.ANNOTATION, SLO_ANNOTATION)
        fleet.submit(Change(source="prometheus", latency={key: LatencySeries(key, p95=p95(0.1, 0.1), slo=slo)}))
        fleet.flush()
        pane = await select(app, pilot, "ml-model-service")
        await until(pilot, lambda: f"SLO 250ms from annotation {SLO_ANNOTATION}" in trend_text(pane))
        assert "within SLO (250ms)" in trend_text(pane)


def test_status_json_gives_a_null_slo_when_unknown_and_its_source_when_known():
    schema = json.loads((ROOT / "docs" / "status.schema.json").read_text())
    latency_schema = schema["properties"]["services"]["items"]["properties"]["latency"]
    key = service("m").key
    unknown = latency_document(LatencySeries(key, p95=p95(9.0)))
    assert (unknown["slo_p95_ms"], unknown["slo_source"], unknown["slo_breached"]) == (None, None, False)
    known = latency_document(LatencySeries(key, p95=p95(0.9), slo=SEED_RULE_SLO))
    assert (known["slo_p95_ms"], known["slo_source"], known["slo_origin"], known["slo_breached"]) == (
        500.0, "alert rule", "HighInferenceLatency", True)
    for document in (unknown, known):
        jsonschema.Draft202012Validator(latency_schema).validate(document)


async def test_a_trend_whose_parts_were_never_mounted_draws_without_failing():
    """A service selected as the operator quits: its trend, mounted when first shown, can be mounted after
    the app stopped mounting anything, so its title and bars never are. Drawing it then must not raise
    (that would end the session on an error and a crash report)."""
    from rich.text import Text

    from mlops_tui.tui.panes.latency import Trend, TrendData

    app, _ = make_app()
    async with app.run_test(size=(120, 40)):
        trend = Trend(False, app.query_one(LatencyPane).style_for)
        trend._draw(TrendData(Text("property-valuation-model"), [120.0, 480.0], 300.0, None))
        assert not trend.is_mounted and not trend.children
