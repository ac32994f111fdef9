"""A row carries its trouble: a service the workload calls healthy, but with a firing alert tied to it,
never reads `● ok`; a cluster whose data went stale says so on each of its rows."""

from __future__ import annotations

from mlops_tui.backends.base import Change
from mlops_tui.backends.model import Alert, AlertState, HealthState, Severity, freeze_labels
from tests.fakes import T0
from tests.tui.conftest import make_app, until
from tests.tui.test_dashboard import cell, names


def firing(name: str, severity: Severity, state: AlertState = AlertState.FIRING) -> Alert:
    return Alert("HighInferenceLatency", severity, state,
                 freeze_labels({"alertname": "HighInferenceLatency", "namespace": "ml-prod", "service": name,
                                "severity": severity.name.lower()}), since=T0)


async def test_a_healthy_service_with_a_firing_alert_never_reads_ok():
    app, _ = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.fleet is not None and len(names(app)) == 5)
        assert cell(app, "property-valuation-model", "state") == "● ok"
        # Prometheus fires a critical alert on it: the row says so where the operator looks first.
        app.fleet.submit(Change(source="prometheus", alerts=(firing("property-valuation-model", Severity.CRITICAL),)))
        app.fleet.flush()
        await until(pilot, lambda: cell(app, "property-valuation-model", "state") == "✖ 1 critical")
        assert cell(app, "property-valuation-model", "alerts") == "⚠ 1"
        # A second, warning-level one: the count grows, the worst severity stays.
        name = "property-valuation-model"
        both = (firing(name, Severity.CRITICAL), firing(name, Severity.WARNING))
        app.fleet.submit(Change(source="prometheus", alerts=both))
        app.fleet.flush()
        await until(pilot, lambda: cell(app, "property-valuation-model", "state") == "✖ 2 critical")
        # A pending alert is not firing yet: it is counted in ALERTS, the state stays ok.
        app.fleet.submit(Change(source="prometheus", alerts=(
            firing("property-valuation-model", Severity.WARNING, AlertState.PENDING),)))
        app.fleet.flush()
        await until(pilot, lambda: cell(app, "property-valuation-model", "state") == "● ok")
        assert cell(app, "property-valuation-model", "alerts") == "⚠ 1"


async def test_the_rows_of_a_cluster_whose_data_went_stale_say_so_and_recover():
    app, backend = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.fleet is not None and len(names(app)) == 5)
        backend.push(health=HealthState.STALE, error="watch closed: connection refused")
        app.fleet.flush()
        await until(pilot, lambda: all(cell(app, name, "state") == "◌ stale" for name in names(app)))
        backend.push(health=HealthState.CONNECTED)
        app.fleet.flush()
        await until(pilot, lambda: cell(app, "property-valuation-model", "state") == "● ok")
