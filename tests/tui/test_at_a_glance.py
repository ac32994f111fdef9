"""At 80×24 over SSH the operator still sees what matters: the preview's table and its keys, the
pane tabs' badges, the sources in trouble, the words of the keys they reach for most."""

from __future__ import annotations

import re

from textual.widgets import Static

from mlops_tui.backends.base import Change
from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import (
    Alert,
    AlertState,
    ClusterHealth,
    HealthState,
    Platform,
    ServiceKey,
    ServiceKind,
    Severity,
    freeze_labels,
)
from mlops_tui.backends.plans import ActionPlan, Mutation, PlanWarning, Scale
from mlops_tui.backends.state import FleetState
from mlops_tui.tui.app import VIEWS, MlopsApp
from mlops_tui.tui.commands import GROUPS
from mlops_tui.tui.config import Settings
from mlops_tui.tui.jump import Jump, resolve
from mlops_tui.tui.keyline import KeyLine
from mlops_tui.tui.pane_tabs import Badge, badges
from mlops_tui.tui.panes import ServicesPane
from mlops_tui.tui.screens.preview import PreviewScreen
from mlops_tui.tui.status import run_status, unreadable
from mlops_tui.tui.statusbar import StatusBar, source_text
from tests.fakes import T0, InMemoryBackend, service
from tests.tui.conftest import make_app, until, visible_text
from tests.tui.incident import incident_app, settle_on_incident
from tests.tui.keys import burst


def long_plan() -> ActionPlan:
    """A scale with many warnings and calls: more than 24 rows if nothing gave way."""
    key = ServiceKey("prod-a", "ml-prod", ServiceKind.DEPLOYMENT, "property-valuation-model")
    return ActionPlan(
        source="prod-a", target=key, target_name=str(key), intent=Scale(9),
        mutations=tuple(Mutation("PATCH", f"/apis/apps/v1/namespaces/ml-prod/deployments/part-{i}/scale",
                                 summary=f"call {i}") for i in range(8)),
        before={"replicas": "3", "hpa min": "2", "hpa max": "20"},
        after={"replicas": "9", "hpa min": "9", "hpa max": "20"},
        warnings=tuple(PlanWarning(f"w{i}", f"warning number {i}: the autoscaler owns the replica count and "
                                   "will move it back within its bounds") for i in range(6)),
    )


async def test_a_long_preview_at_80x24_keeps_its_title_table_and_keys_on_screen():
    app, _ = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.fleet is not None)
        app.push_screen(PreviewScreen(long_plan()))
        await until(pilot, lambda: isinstance(app.screen, PreviewScreen))
        await pilot.pause()
        shown = visible_text(app)
        assert "scale to 9 · prod-a/ml-prod/property-valuation-model" in shown  # the title
        for row in (r"hpa max\s*20\s*→\s*20", r"hpa min\s*2\s*→\s*9", r"replicas\s*3\s*→\s*9"):
            assert re.search(row, shown), shown
        assert "y: apply   esc: cancel" in shown, shown
        # The long parts scroll instead: the last call is below the fold, reachable.
        assert "call 7" not in shown
        details = app.screen.query_one("#preview-details")
        assert details.max_scroll_y > 0


# -- the status bar: a source in trouble is never the one cut -----------------------------------

def many_clusters(troubled: dict[str, str], healthy: int) -> list[InMemoryBackend]:
    backends = [InMemoryBackend(f"edge-{i:02d}") for i in range(healthy)]
    backends += [InMemoryBackend(name) for name in troubled]
    return backends


def app_on(backends) -> MlopsApp:
    return MlopsApp(Settings(), lambda s: Fleet(backends, max_rate=100, clock=lambda: T0), clock=lambda: T0)


async def break_clusters(pilot, app, backends, troubled: dict[str, str]) -> None:
    """Once every cluster has connected, the `troubled` ones report their error."""
    await until(pilot, lambda: len(app.state.health) == len(backends))
    for backend in backends:
        if backend.name in troubled:
            backend.push(health=HealthState.ERROR, error=troubled[backend.name])
    app.fleet.flush()
    await until(pilot, lambda: all(app.state.health[name].state is HealthState.ERROR for name in troubled))
    await pilot.pause()


async def test_at_80_columns_with_ten_clusters_the_two_in_error_are_named_and_the_healthy_counted():
    troubled = {"gpu-east": "connection refused", "gpu-west": "certificate expired"}
    backends = many_clusters(troubled, healthy=8)
    app = app_on(backends)
    async with app.run_test(size=(80, 24)) as pilot:
        await break_clusters(pilot, app, backends, troubled)
        line = visible_text(app).splitlines()[0]
        assert "✖ gpu-east" in line and "✖ gpu-west" in line, line
        assert line.index("gpu-west") < line.index("●"), line  # trouble first
        # The room left names healthy ones; the rest are counted: all eight are accounted for.
        named, counted = re.findall(r"● edge-\d\d connected", line), re.search(r"\+(\d+) ●", line)
        assert counted and len(named) + int(counted.group(1)) == 8, line


async def test_at_80_columns_with_twelve_clusters_in_error_every_one_is_named_or_counted():
    troubled = {f"gpu-pool-{i:02d}": "connection refused" for i in range(12)}
    backends = many_clusters(troubled, healthy=3)
    app = app_on(backends)
    async with app.run_test(size=(80, 24)) as pilot:
        await break_clusters(pilot, app, backends, troubled)
        line = app.query_one(StatusBar).render().plain  # what the bar holds (its one row is cut on the right)
        named = re.findall(r"✖ gpu-pool-\d\d", line)
        counted = re.search(r"\+(\d+) ✖", line)
        assert named and counted, line
        assert len(named) + int(counted.group(1)) == 12, line
        assert "+3 ●" in line and len(line) <= 78, line


def test_an_unreachable_prometheus_names_its_url_in_the_status_bar_and_in_status():
    health = ClusterHealth("prometheus", None, HealthState.ERROR, since=T0,
                           error="Prometheus unavailable: connection refused", endpoint="http://prom.example:9090")
    assert "http://prom.example:9090" in source_text(health, T0)[0]
    problems = unreadable(FleetState(health={"prometheus": health}), ["prometheus"])
    assert problems == ["prometheus: error: Prometheus unavailable: connection refused (http://prom.example:9090)"]


# -- the pane tabs' badges ------------------------------------------------------------------------

async def test_at_80x24_during_the_incident_the_pane_tabs_carry_what_is_wrong_behind_each_pane():
    app, _kube, _swarm = incident_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_on_incident(pilot)
        tabs = visible_text(app).splitlines()[1]
        # 4 alerted services, llm-reranker degraded, the Swarm update paused; gpu-node-2; 2 GPUs waiting.
        assert re.search(r"▸services\s*▲6\s*◂", tabs), tabs
        assert re.search(r"gpus\s*✖1 NotReady\s*▲2 pending", tabs), tabs
        assert re.search(r"alerts\s*▲4 firing", tabs), tabs
        assert re.search(r"latency\s*alerts", tabs), tabs  # nothing wrong behind the latency tab


def test_a_critical_alert_and_a_service_down_are_badged_with_a_cross():
    key = ServiceKey("prod-a", "ml-prod", ServiceKind.DEPLOYMENT, "property-valuation-model")
    down = service("property-valuation-model", ready=0)
    critical = Alert("ModelDown", Severity.CRITICAL, AlertState.FIRING, freeze_labels({"alertname": "ModelDown"}),
                     service=key)
    pending = Alert("Slow", Severity.WARNING, AlertState.PENDING, freeze_labels({"alertname": "Slow"}), service=key)
    shown = badges(FleetState(services={key: down}, alerts=(critical, pending)))
    assert shown["services"] == (Badge("✖1", "down"),)
    assert shown["alerts"] == (Badge("✖1 firing", "down"),)  # the pending alert is not firing
    assert badges(FleetState(services={key: service("property-valuation-model")})) == {
        "services": (), "gpus": (), "latency": (), "alerts": ()}


# -- nothing configured ---------------------------------------------------------------------------

async def test_with_nothing_configured_the_screen_says_so_and_how_to_start_instead_of_starting_forever():
    app = app_on([])  # what the settings build without a kubeconfig, a Swarm or a Prometheus
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.query("#nothing-configured"))
        await pilot.pause()
        shown = visible_text(app)
        assert "starting" not in shown
        assert "✖ start with a kubeconfig, --swarm or --demo" in shown.splitlines()[0], shown
        for way in ("kubeconfig", "--swarm", "--prometheus", "mlops-tui --demo"):
            assert way in shown, shown


def test_status_with_nothing_configured_exits_non_zero_and_says_how_to_start(monkeypatch, capsys):
    import mlops_tui.tui.sources as sources

    monkeypatch.setattr(sources, "build_fleet", lambda settings: Fleet())  # no source built
    assert run_status(Settings(), as_json=False, timeout=5) != 0
    out, err = capsys.readouterr()
    assert out == ""  # no empty tables above the how-to
    assert "nothing configured: no kubeconfig, no Swarm, no Prometheus" in err
    assert "--swarm" in err and "mlops-tui --demo" in err


# -- `:` jumps to a view, a cluster or a service --------------------------------------------------

async def test_colon_and_the_start_of_a_service_name_put_the_cursor_on_that_service_even_when_filtered_out():
    app, _kube, _swarm = incident_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.query_one(ServicesPane).row_count == 7)
        burst(app, "slash", *"swarm", "enter")  # a filter that hides the service
        await until(pilot, lambda: app._keys.held == 0 and app.query_one(ServicesPane).row_count == 2)
        burst(app, "colon", *"llm-re", "enter")
        table = app.query_one(ServicesPane)
        await until(pilot, lambda: app._keys.held == 0 and app.screen is app.screen_stack[0]
                    and str(table.selected_service_key()) == "prod-a/ml-staging/llm-reranker", timeout=10)
        assert table.filter_text == "" and app.active_pane == "services"


async def test_the_jump_prompt_lists_clusters_as_clusters_and_not_prometheus_or_alertmanager():
    app = app_on([InMemoryBackend("prod-a"), InMemoryBackend("swarm-demo", Platform.SWARM)])
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: len(app.state.health) == 2)
        app.fleet.submit(Change(source="prometheus", health=ClusterHealth("prometheus", None, HealthState.CONNECTED)))
        app.fleet.submit(Change(source="alertmanager",
                                health=ClusterHealth("alertmanager", None, HealthState.CONNECTED)))
        app.fleet.flush()
        await until(pilot, lambda: len(app.state.health) == 4)
        await pilot.press("colon")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PromptScreen")
        listed = str(app.screen.query_one("#prompt-choices", Static).render())
        assert "prod-a" in listed and "swarm-demo" in listed
        assert "prometheus" not in listed and "alertmanager" not in listed


def test_a_jump_prefers_views_and_clusters_then_the_closest_service_name():
    keys = [ServiceKey("prod-a", "ml-prod", ServiceKind.DEPLOYMENT, name)
            for name in ("property-price-predictor", "property-valuation-model", "price")]
    clusters = ["prod-a", "swarm-demo"]
    assert resolve("GPUs", VIEWS, clusters, keys) == Jump("view", "gpus")
    assert resolve("swarm-demo", VIEWS, clusters, keys) == Jump("cluster", "swarm-demo")
    assert resolve("price", VIEWS, clusters, keys) == Jump("service", "price", keys[2])  # exact beats contains
    assert resolve("property-v", VIEWS, clusters, keys) == Jump("service", "property-valuation-model", keys[1])
    assert resolve("pvm", VIEWS, clusters, keys) == Jump("service", "property-valuation-model", keys[1])
    assert resolve("nothing-like-it", VIEWS, clusters, keys) is None


# -- help, the palette and the key line -----------------------------------------------------------

async def test_help_is_grouped_by_purpose_and_explains_the_filter_the_preview_keys_and_the_detail_screen():
    app, _ = make_app()
    async with app.run_test(size=(120, 60)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: app.screen.__class__.__name__ == "HelpScreen")
        text = "\n".join(str(static.render()) for static in app.screen.query(".help-section"))
        tables = [app.screen.query_one(f"#help-table-{i}", Static) for i in range(len(GROUPS))]
        assert [table.content.title for table in tables] == list(GROUPS)
        assert GROUPS[0] == "Navigate" and GROUPS[1].startswith("Act")
        for needle in ("app=valuation", "y          apply", "n or esc", "a          the alternative",
                       "o          override", "Service detail (⏎ on a service)", "✖ GPU nodes NotReady"):
            assert needle in text, needle


async def test_the_palette_shows_keys_as_a_person_types_them():
    app, _ = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: app.screen.__class__.__name__ == "CommandPalette")
        await pilot.press(*"Filter")
        await until(pilot, lambda: "key / · filter" in visible_text(app))
        assert "slash" not in visible_text(app)


async def test_at_80_columns_the_key_line_keeps_the_words_of_the_keys_used_most():
    app, _ = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.query_one(ServicesPane).row_count == 5)
        line = app.query_one(KeyLine).line().plain
        assert len(line) <= 80, line
        for words in ("? Help", "q Quit", "/ Filter", ": Jump", "s Scale", "R Roll"):
            assert words in line, line


async def test_at_80x24_help_gives_each_explanation_the_width_beside_its_key():
    app, _ = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: app.screen.__class__.__name__ == "HelpScreen")
        await pilot.pause()
        # The first row reads from its key on: no column of names squeezes it.
        assert re.search(r"⏎\s+service details: replicas/tasks with node, state", visible_text(app)), visible_text(app)
