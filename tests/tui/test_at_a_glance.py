"""At 80×24 over SSH the operator still sees what matters: the preview's table and its keys, the
pane tabs' badges, the sources in trouble, the words of the keys they reach for most."""

from __future__ import annotations

import re

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import ClusterHealth, HealthState, ServiceKey, ServiceKind
from mlops_tui.backends.plans import ActionPlan, Mutation, PlanWarning, Scale
from mlops_tui.backends.state import FleetState
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.config import Settings
from mlops_tui.tui.screens.preview import PreviewScreen
from mlops_tui.tui.status import unreadable
from mlops_tui.tui.statusbar import StatusBar, source_text
from tests.fakes import T0, InMemoryBackend
from tests.tui.conftest import make_app, until, visible_text


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
        assert "+8 ●" in line, line
        assert "edge-0" not in line  # the healthy ones went first


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
