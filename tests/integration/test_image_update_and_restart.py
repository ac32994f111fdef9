"""`u` and `r` against the simulated Kubernetes cluster, through the real backend and the app's keys,
with kubectl as the judge of what the cluster holds afterwards."""

from __future__ import annotations

import json
import subprocess

import pytest
from textual.widgets import Input, OptionList

from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.sources import build_fleet
from tests.engines import require_binary
from tests.integration.test_operator_keys import audit_lines, finish, screen_is, select, settings_for
from tests.tui.conftest import until, visible_text

FRAUD_SCORER = {
    "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
    "metadata": {"name": "fraud-scorer", "namespace": "ml-prod",
                 "annotations": {"serving.kserve.io/deploymentMode": "Serverless"}},
    "spec": {"predictor": {"containers": [{"name": "kserve-container", "image": "proptechusa/fraud-scorer:v1"}]}},
}
"""A custom KServe predictor: its image is on the object (the demo's tensorflow predictor has none)."""


@pytest.fixture(scope="module")
def demo():
    from mlops_tui.sim.demo import start_demo

    env = start_demo(seed=5)
    yield env
    env.stop()


def kubectl(env, *args: str, stdin: str | None = None) -> str:
    binary = require_binary("kubectl")
    out = subprocess.run([binary, "--kubeconfig", env.kubeconfig, "--context", env.contexts[0], *args],
                         capture_output=True, text=True, timeout=30, input=stdin)
    assert out.returncode == 0, out.stderr
    return out.stdout


def pods_of(env, selector: str) -> set[str]:
    body = json.loads(kubectl(env, "get", "pods", "-n", "ml-prod", "-l", selector, "-o", "json"))
    return {p["metadata"]["name"] for p in body["items"] if not p["metadata"].get("deletionTimestamp")}


async def type_image(pilot, app, image: str) -> None:
    box = app.screen.query_one("#image", Input)
    box.focus()
    box.value = image
    await pilot.press("enter")
    await screen_is(pilot, app, "PreviewScreen", timeout=20)


async def test_update_image_on_a_deployment_rolls_every_pod_to_the_new_image(demo, tmp_path):
    app = MlopsApp(settings_for(demo, tmp_path), build_fleet)
    before = pods_of(demo, "app=valuation-model")
    async with app.run_test(size=(150, 45)) as pilot:
        await select(pilot, app, "demo-prod", "property-valuation-model")
        await pilot.press("u")
        await screen_is(pilot, app, "UpdateImageDialog", timeout=20)
        await type_image(pilot, app, "proptechusa/valuation-model:v2.2")
        preview = visible_text(app)
        assert "proptechusa/valuation-model:v2.1" in preview and "proptechusa/valuation-model:v2.2" in preview
        assert "RollingUpdate" in preview  # how many pods may be down at once
        await pilot.press("y")
        assert "succeeded" in await finish(pilot, app)
    image = kubectl(demo, "get", "deploy", "property-valuation-model", "-n", "ml-prod", "-o",
                    "jsonpath={.spec.template.spec.containers[0].image}")
    assert image == "proptechusa/valuation-model:v2.2"
    # Verified means rolled out: no pod from before remains, every pod runs the new image.
    pods = json.loads(kubectl(demo, "get", "pods", "-n", "ml-prod", "-l", "app=valuation-model", "-o", "json"))
    running = [p for p in pods["items"] if not p["metadata"].get("deletionTimestamp")]
    assert running and not {p["metadata"]["name"] for p in running} & before
    assert {p["spec"]["containers"][0]["image"] for p in running} == {"proptechusa/valuation-model:v2.2"}
    assert audit_lines(tmp_path)[-1]["intent"] == "update image of model-server to proptechusa/valuation-model:v2.2"


async def test_update_image_on_an_argo_rollout_changes_only_the_chosen_container(demo, tmp_path):
    app = MlopsApp(settings_for(demo, tmp_path), build_fleet)
    async with app.run_test(size=(150, 45)) as pilot:
        await select(pilot, app, "demo-prod", "ensemble-predictor")
        await pilot.press("u")
        await screen_is(pilot, app, "UpdateImageDialog", timeout=20)
        await pilot.press("down")  # price-model → demand-model; its image fills the field
        await until(pilot, lambda: app.screen.query_one("#image", Input).value == "proptechusa/demand-model:v1.5")
        await type_image(pilot, app, "proptechusa/demand-model:v1.6")
        assert "only demand-model changes" in visible_text(app)
        await pilot.press("y")
        assert "succeeded" in await finish(pilot, app)
    containers = json.loads(kubectl(demo, "get", "rollout", "ensemble-predictor", "-n", "ml-prod", "-o",
                                    "jsonpath={.spec.template.spec.containers}"))
    assert {c["name"]: c["image"] for c in containers} == {
        "price-model": "proptechusa/price-model:v2.0", "demand-model": "proptechusa/demand-model:v1.6",
        "aggregator": "proptechusa/model-aggregator:v1.1"}


async def test_update_image_on_a_kserve_predictor_starts_a_new_revision(demo, tmp_path):
    kubectl(demo, "apply", "-f", "-", stdin=json.dumps(FRAUD_SCORER))
    app = MlopsApp(settings_for(demo, tmp_path), build_fleet)
    async with app.run_test(size=(150, 45)) as pilot:
        await select(pilot, app, "demo-prod", "fraud-scorer")
        first = kubectl(demo, "get", "isvc", "fraud-scorer", "-n", "ml-prod", "-o",
                        "jsonpath={.status.components.predictor.latestReadyRevision}")
        await pilot.press("u")
        await screen_is(pilot, app, "UpdateImageDialog", timeout=20)
        await type_image(pilot, app, "proptechusa/fraud-scorer:v2")
        assert "new predictor revision" in visible_text(app)
        await pilot.press("y")
        assert "succeeded" in await finish(pilot, app)
    isvc = json.loads(kubectl(demo, "get", "isvc", "fraud-scorer", "-n", "ml-prod", "-o", "json"))
    assert isvc["spec"]["predictor"]["containers"][0]["image"] == "proptechusa/fraud-scorer:v2"
    assert isvc["status"]["components"]["predictor"]["latestReadyRevision"] not in ("", first)


async def test_the_demo_tensorflow_predictor_says_why_it_has_no_image_to_update(demo, tmp_path):
    app = MlopsApp(settings_for(demo, tmp_path), build_fleet)
    async with app.run_test(size=(150, 45)) as pilot:
        await select(pilot, app, "demo-prod", "property-price-predictor")
        await pilot.press("u")
        await until(pilot, lambda: any("names no image" in str(n.message) for n in app._notifications))
        assert app.screen is app.screen_stack[0]


async def test_restart_replaces_every_pod_and_stamps_the_template(demo, tmp_path):
    app = MlopsApp(settings_for(demo, tmp_path), build_fleet)
    before = pods_of(demo, "app=ml-model,version=v2.1")
    assert before
    async with app.run_test(size=(150, 45)) as pilot:
        await select(pilot, app, "demo-prod", "ml-model-v2-1")
        await pilot.press("r")
        await screen_is(pilot, app, "RestartDialog")
        await pilot.press("enter")
        await screen_is(pilot, app, "PreviewScreen", timeout=20)
        assert f"every one of the {len(before)} pods is replaced" in visible_text(app)
        await pilot.press("y")
        assert "succeeded" in await finish(pilot, app)
    stamp = kubectl(demo, "get", "deploy", "ml-model-v2-1", "-n", "ml-prod", "-o",
                    "jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}")
    assert stamp.endswith("Z") and "T" in stamp
    after = pods_of(demo, "app=ml-model,version=v2.1")
    assert len(after) == len(before) and not after & before  # every pod is a new one
    assert audit_lines(tmp_path)[-1]["intent"] == "restart every replica"


async def test_the_rollback_picker_tells_apart_two_revisions_of_the_same_image(demo, tmp_path):
    for batch in ("64", "32"):  # two new revisions, same image, different env
        kubectl(demo, "set", "env", "deploy/rent-predictor-canary", "-n", "ml-prod", f"BATCH_SIZE={batch}")
    app = MlopsApp(settings_for(demo, tmp_path), build_fleet)
    async with app.run_test(size=(150, 45)) as pilot:
        await select(pilot, app, "demo-prod", "rent-predictor-canary")
        await until(pilot, lambda: app.state.services[app.selected_service_key()].revision == "3", timeout=20)
        await pilot.press("R")
        await screen_is(pilot, app, "RollbackDialog", timeout=20)
        options = app.screen.query_one("#revisions", OptionList)
        lines = [str(options.get_option_at_index(i).prompt) for i in range(1, options.option_count)]
    assert [line.split(" · ")[0] for line in lines] == ["revision 3", "revision 2", "revision 1"]
    assert "env BATCH_SIZE differs" in lines[0] and "env BATCH_SIZE differs" in lines[1]
    # Even without their numbers, no two lines read the same.
    assert len({line.split(" · ", 1)[1] for line in lines}) == 3, lines
