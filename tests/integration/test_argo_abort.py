"""Aborting the Argo canary from `w` on the simulated cluster: the preview says what serves after,
kubectl sees the abort, and the row's VERSION says what the pods run then."""

from __future__ import annotations

import json

import pytest
from textual.widgets import OptionList

from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.format import SERVICE_COLUMN
from mlops_tui.tui.panes import ServicesPane
from mlops_tui.tui.panes.services import row_key
from mlops_tui.tui.sources import build_fleet
from tests.integration.test_operator_keys import confirm, finish, kubectl, screen_is, select, settings_for
from tests.tui.conftest import until, visible_text


@pytest.fixture(scope="module")
def demo():
    from mlops_tui.sim.demo import start_demo

    env = start_demo(seed=7)
    yield env
    env.stop()


def version_cell(app, name: str) -> str:
    key = next(k for k in app.state.services if k.name == name)
    return app.query_one(ServicesPane).cells(row_key(key))[SERVICE_COLUMN["version"]].plain


async def test_abort_sends_the_canary_weight_to_zero_and_the_row_shows_the_stable_version(demo, tmp_path):
    app = MlopsApp(settings_for(demo, tmp_path), build_fleet)
    async with app.run_test(size=(150, 45)) as pilot:
        await select(pilot, app, "demo-prod", "ensemble-predictor")
        assert version_cell(app, "ensemble-predictor") == "v2.0"  # mid-canary: the template's version
        await pilot.press("w")
        await screen_is(pilot, app, "CanaryDialog")
        options = app.screen.query_one("#argo-choice", OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        options.highlighted = ids.index("abort")
        await pilot.press("enter")
        await screen_is(pilot, app, "PreviewScreen", timeout=20)
        preview = visible_text(app).replace(" ", "")
        assert "canaryweight20%→0%" in preview
        assert "v1.9only,on5replicas" in preview
        await confirm(pilot, app)  # ml-prod is production: moving traffic asks for the name typed
        assert "succeeded" in await finish(pilot, app)
        status = json.loads(kubectl(demo, "get", "rollout", "ensemble-predictor", "-n", "ml-prod", "-o",
                                    "jsonpath={.status}"))
        assert status["abort"] is True
        await until(pilot, lambda: version_cell(app, "ensemble-predictor") == "v1.9", timeout=20)
