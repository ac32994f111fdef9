"""A key the selection cannot do answers with one line that says why, and opens nothing; on an
unhealthy Argo canary, `w` offers abort first."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import OptionList

from mlops_tui.backends.base import Change
from mlops_tui.backends.model import (
    ActionKind,
    Alert,
    AlertState,
    Canary,
    Condition,
    Revision,
    Severity,
    freeze_labels,
)
from mlops_tui.tui.keyline import KeyLine
from tests.fakes import T0, InMemoryBackend
from tests.tui.conftest import make_app, seed_fleet, until
from tests.tui.test_actions_flow import notices, select

ARGO_ACTIONS = frozenset({ActionKind.SCALE, ActionKind.PROMOTE, ActionKind.PROMOTE_FULL, ActionKind.ABORT,
                          ActionKind.RETRY, ActionKind.UPDATE_IMAGE, ActionKind.RESTART})


async def press_and_read(pilot, app, key: str, expected: str) -> None:
    await pilot.press(key)
    await until(pilot, lambda: expected in notices(app), timeout=5)
    assert app.screen is app.screen_stack[0], f"{key} opened {app.screen.__class__.__name__}"


def dimmed(app) -> set[str]:
    return {action for action, _key, _text, enabled, _press in app.query_one(KeyLine)._items() if not enabled}


async def test_each_reason_a_key_cannot_work_is_said_in_one_line():
    app, backend = make_app()
    price = next(k for k in backend.services if k.name == "property-price-predictor")
    backend.services[price] = replace(backend.services[price],
                                      actions=frozenset({ActionKind.CANARY_WEIGHT, ActionKind.ROLLBACK}))
    valuation = next(k for k in backend.services if k.name == "property-valuation-model")
    backend.services[valuation] = replace(backend.services[valuation], denied=frozenset({ActionKind.SCALE}))
    async with app.run_test(size=(140, 42)) as pilot:
        # RBAC: the cluster said this user may not scale here.
        await select(pilot, app, "property-valuation-model")
        await press_and_read(pilot, app, "s", "not allowed: you may not scale property-valuation-model in ml-prod")
        assert "scale" in dimmed(app)
        # No blue-green pair.
        await press_and_read(pilot, app, "b", "property-valuation-model is not in a blue-green pair")
        # No revision to go back to.
        await select(pilot, app, "llm-reranker")
        await press_and_read(pilot, app, "R", "llm-reranker has no earlier revision to roll back to")
        assert {"rollback", "bluegreen", "canary"} <= dimmed(app) and "scale" not in dimmed(app)
        # Not something this kind of service does: an InferenceService neither scales by hand nor
        # restarts, and a predictor without an image has none to update.
        await select(pilot, app, "property-price-predictor")
        await press_and_read(pilot, app, "s", "is an InferenceService: it scales through its autoscaler")
        await press_and_read(pilot, app, "r", "KServe predictor revisions are immutable")
        await press_and_read(pilot, app, "u", "predictor names no image")
        assert {"scale", "restart", "update_image"} <= dimmed(app) and "canary" not in dimmed(app)
        assert backend.mutations == []


async def test_a_read_only_cluster_says_so_for_its_services():
    app, backend = make_app(readonly_sources=["prod-a"])
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await until(pilot, lambda: app.state.health["prod-a"].readonly)
        await press_and_read(pilot, app, "s", "prod-a is read-only (readonly_clusters): scale is disabled there")
        assert backend.mutations == []


def firing(key) -> Alert:
    return Alert("HighInferenceLatency", Severity.WARNING, AlertState.FIRING,
                 freeze_labels({"alertname": "HighInferenceLatency", "service": key.name}), service=key, since=T0)


async def argo_options(pilot, app) -> list[str]:
    await pilot.press("w")
    await until(pilot, lambda: app.screen.__class__.__name__ == "CanaryDialog")
    options = app.screen.query_one("#argo-choice", OptionList)
    ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
    await pilot.press("escape")
    await until(pilot, lambda: app.screen is app.screen_stack[0])
    return ids


async def test_w_on_an_argo_canary_with_a_firing_alert_offers_abort_first():
    app, backend = make_app()
    key = next(k for k in backend.services if k.name == "ensemble-predictor")
    backend.services[key] = replace(backend.services[key], actions=ARGO_ACTIONS)
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "ensemble-predictor")
        assert await argo_options(pilot, app) == ["promote", "promote-full", "abort", "retry"]  # healthy
        app.fleet.submit(Change(source="prometheus", alerts=(firing(key),)))
        app.fleet.flush()
        await until(pilot, lambda: bool(app.state.alerts_for(key)))
        await pilot.press("w")
        await until(pilot, lambda: app.screen.__class__.__name__ == "CanaryDialog")
        options = app.screen.query_one("#argo-choice", OptionList)
        first = options.get_option_at_index(0)
        assert first.id == "abort"
        assert str(first.prompt) == "abort: canary weight → 0%, v1.9 serves everything"
        assert options.highlighted == 0  # enter aborts; nothing is sent before the preview
        assert backend.mutations == []


async def test_a_failed_analysis_also_puts_abort_first_but_not_once_aborted():
    app, backend = make_app()
    key = next(k for k in backend.services if k.name == "ensemble-predictor")
    failed = Condition("Warning", "True", "AnalysisRunFailed", "metric success-rate assessed Failed")
    backend.services[key] = replace(backend.services[key], actions=ARGO_ACTIONS, conditions=(failed,))
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "ensemble-predictor")
        assert (await argo_options(pilot, app))[0] == "abort"
        aborted = replace(backend.services[key], canary=Canary("argo", "v1.9", "v2.0", weight=0, aborted=True))
        backend.upsert(aborted)
        await until(pilot, lambda: app.state.services[key].canary.aborted)
        assert (await argo_options(pilot, app))[0] == "promote"


async def test_r_opens_the_restart_dialog_for_a_service_that_restarts():
    app, backend = make_app()
    key = next(k for k in backend.services if k.name == "property-valuation-model")
    backend.services[key] = replace(backend.services[key], actions=frozenset({ActionKind.SCALE, ActionKind.RESTART}))
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await pilot.press("r")
        await until(pilot, lambda: app.screen.__class__.__name__ == "RestartDialog")
        await pilot.press("enter")  # the dialog's one choice leads to the preview (refused by the fake)
        await until(pilot, lambda: "restart not supported by the in-memory backend" in notices(app))
        assert backend.mutations == []


class WithHistory(InMemoryBackend):
    """The in-memory fleet, with a rollback history per service, newest first."""

    history: dict[str, list[Revision]] = {}

    def revisions(self, svc):
        return self.history.get(svc.key.name, [])


async def test_r_on_a_service_whose_history_holds_only_the_running_revision_says_so():
    backend = WithHistory()
    seed_fleet(backend)
    key = next(k for k in backend.services if k.name == "property-valuation-model")
    backend.services[key] = replace(backend.services[key], revision="4")
    backend.history = {"property-valuation-model": [Revision("4", image="repo/m:v2.1", current=True)]}
    app, _ = make_app(backends=[backend])
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        await press_and_read(pilot, app, "R", "property-valuation-model has no earlier revision to roll back to "
                                              "(only revision 4 is kept)")
        backend.history["property-valuation-model"].append(Revision("3", image="repo/m:v2.0"))
        await pilot.press("R")
        await until(pilot, lambda: app.screen.__class__.__name__ == "RollbackDialog")
        assert backend.mutations == []
