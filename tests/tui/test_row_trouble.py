"""A row carries its trouble: a service the workload calls healthy, but with a firing alert tied to it,
never reads `● ok`; a cluster whose data went stale says so on each of its rows."""

from __future__ import annotations

from dataclasses import replace

from mlops_tui.backends.base import Change
from mlops_tui.backends.model import Alert, AlertState, HealthState, Platform, ServiceKind, Severity, freeze_labels
from mlops_tui.tui.panes import ServicesPane
from tests.fakes import T0, InMemoryBackend, service
from tests.tui.conftest import make_app, seed_fleet, until, visible_text
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
        await until(pilot, lambda: all(cell(app, name, "state") == "◌ stale 0s" for name in names(app)))
        backend.push(health=HealthState.CONNECTED)
        app.fleet.flush()
        await until(pilot, lambda: cell(app, "property-valuation-model", "state") == "● ok")


def selected_name(app) -> str:
    key = app.selected_service_key()
    return key.name if key else ""


async def test_trouble_comes_first_and_the_cursor_stays_on_the_operators_service():
    app, backend = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.fleet is not None and len(names(app)) == 5)
        # The under-replicated llm-reranker (1/4 ready) leads; the others follow by namespace and name.
        assert names(app) == ["llm-reranker", "ensemble-predictor", "ml-model-service", "property-price-predictor",
                              "property-valuation-model"]
        table = app.query_one(ServicesPane)
        table.move_cursor_to_key(next(k for k in table.shown_keys if "ml-model-service" in k))
        await until(pilot, lambda: selected_name(app) == "ml-model-service")
        # A critical alert fires on property-valuation-model: it goes to the top; the cursor stays put.
        app.fleet.submit(Change(source="prometheus", alerts=(firing("property-valuation-model", Severity.CRITICAL),)))
        app.fleet.flush()
        await until(pilot, lambda: names(app)[0] == "property-valuation-model")
        assert selected_name(app) == "ml-model-service"
        # A replica count ticking on a healthy row does not move it (its trouble did not change).
        before = names(app)
        ml = next(s for s in backend.services.values() if s.key.name == "ml-model-service")
        backend.upsert(replace(ml, updated=2))
        app.fleet.flush()
        await until(pilot, lambda: cell(app, "ml-model-service", "ready") == "3/3")
        assert names(app) == before and selected_name(app) == "ml-model-service"


async def test_filtering_and_clearing_the_filter_keep_the_order_and_the_cursor():
    app, _ = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.fleet is not None and len(names(app)) == 5)
        order = names(app)
        table = app.query_one(ServicesPane)
        table.move_cursor_to_key(next(k for k in table.shown_keys if "ml-model-service" in k))
        await until(pilot, lambda: selected_name(app) == "ml-model-service")
        table.set_filter("model")
        await until(pilot, lambda: names(app) == ["ml-model-service", "property-valuation-model"])
        assert selected_name(app) == "ml-model-service"
        table.set_filter("")
        await until(pilot, lambda: len(names(app)) == 5)
        assert names(app) == order and selected_name(app) == "ml-model-service"


async def test_two_services_of_one_name_in_two_clusters_read_differently_at_80_columns():
    prod, swarm = InMemoryBackend("prod-a"), InMemoryBackend("swarm-demo", Platform.SWARM)
    seed_fleet(prod)
    twin = service("rent-predictor-canary", cluster="swarm-demo", namespace="proptech-ml",
                   kind=ServiceKind.SWARM_SERVICE, platform=Platform.SWARM)
    prod.services[service("rent-predictor-canary").key] = service("rent-predictor-canary")
    swarm.services = {twin.key: twin}
    app, _ = make_app(backends=[prod, swarm])
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.fleet is not None and len(names(app)) == 7)
        shown = [n for n in names(app) if n.startswith("rent-predictor-canary")]
        assert sorted(shown) == ["rent-predictor-canary @prod-a", "rent-predictor-canary @swarm-demo"]
        # NAME is cut in its middle at 80 columns: the ends that tell the two apart stay on screen.
        twins = [line for line in visible_text(app).splitlines() if "rent-pred" in line]
        assert len(twins) == 2
        assert any("@prod-a" in line for line in twins) and any("warm-demo" in line for line in twins)
        # Only names that really repeat carry their cluster.
        assert "property-valuation-model" in names(app)
