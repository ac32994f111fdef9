"""The on-call operator's night, key by key, against the simulated Kubernetes cluster and Swarm
(the same engines `--demo` runs, spoken to by the real backends), with kubectl as the judge of
what the cluster holds afterwards."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from mlops_tui.backends.plans import Outcome
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.commands import ACTION_COMMANDS, BY_ID
from mlops_tui.tui.config import Settings
from mlops_tui.tui.panes import ServicesPane
from mlops_tui.tui.panes.services import row_key
from mlops_tui.tui.screens.preview import outcome_line
from mlops_tui.tui.sources import build_fleet
from tests.engines import require_binary
from tests.tui.conftest import until, visible_text


@pytest.fixture(scope="module")
def demo():
    from mlops_tui.sim.demo import start_demo

    env = start_demo(seed=3)
    yield env
    env.stop()


def settings_for(env, tmp_path: Path, **extra) -> Settings:
    return (Settings(audit_log=str(tmp_path / "audit.jsonl"), **extra)
            .with_engine("kubernetes", kubeconfig=env.kubeconfig, contexts=list(env.contexts))
            .with_engine("swarm", endpoints=[f"{env.docker_host}?name=swarm-demo"])
            .with_engine("prometheus", url=env.prometheus_url)
            .with_engine("alertmanager", url=env.alertmanager_url))


def kubectl(env, *args: str) -> str:
    binary = require_binary("kubectl")
    out = subprocess.run([binary, "--kubeconfig", env.kubeconfig, "--context", env.contexts[0], *args],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def audit_lines(tmp_path: Path) -> list[dict]:
    """The audit log's result lines: each action's write-ahead intent line is left out (its own tests
    are tests/unit/test_fleet_write_ahead.py)."""
    path = tmp_path / "audit.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if line.get("phase") != "intent"]


async def select(pilot, app: MlopsApp, cluster: str, name: str) -> None:
    table = app.query_one(ServicesPane)

    def row():
        keys = [k for k in app.state.services if k.cluster == cluster and k.name == name]
        return table.shown_keys.index(row_key(keys[0])) if keys and row_key(keys[0]) in table.shown_keys else None

    await until(pilot, lambda: row() is not None, timeout=30)
    table.focus()
    table.move_cursor(row=row())
    await pilot.pause()
    assert app.selected_service_key().name == name


async def screen_is(pilot, app, name: str, timeout: float = 10) -> None:
    await until(pilot, lambda: app.screen.__class__.__name__ == name, timeout=timeout)


async def finish(pilot, app) -> str:
    """Wait for the applied action to be verified, read the outcome, close the progress screen."""
    await until(pilot, lambda: app.screen.__class__.__name__ == "ProgressScreen" and app.screen.finished, timeout=90)
    # The outcome line is set with `finished`; wait until it is painted before reading the screen.
    shown = outcome_line(app.screen.verification.outcome)[:20]
    await until(pilot, lambda: shown in visible_text(app), timeout=10)
    text = visible_text(app)
    await pilot.press("enter")
    await until(pilot, lambda: app.screen is app.screen_stack[0])
    return text


async def confirm(pilot, app) -> None:
    """`y`, or where the preview asks for it (production: less capacity, traffic moved) the name typed
    and enter, sent together as a terminal delivers them."""
    name = app.screen.plan.confirm_text
    if name:
        await pilot.press(*name, "enter")
    else:
        await pilot.press("y")


async def confirm_once(pilot, app) -> str:
    """One `y` applies the preview; the outcome text. Controllers write the object's status meanwhile
    (a Deployment mid-rollout, an HPA every sync), but every mutation is guarded on the spec and the
    fields its preview shows, never on status writes: a fresh preview instead of the outcome fails."""
    preview = app.screen
    await confirm(pilot, app)
    await until(pilot, lambda: (app.screen.__class__.__name__ == "ProgressScreen" and app.screen.finished)
                or (app.screen.__class__.__name__ == "PreviewScreen" and app.screen is not preview), timeout=90)
    screen = app.screen
    assert screen.__class__.__name__ == "ProgressScreen", f"a fresh preview instead: {visible_text(app)}"
    outcome = screen.verification.outcome
    assert outcome is not None and outcome.outcome is not Outcome.CONFLICT, outcome_line(outcome)
    return await finish(pilot, app)


async def test_operator_actions_on_kubernetes_change_what_kubectl_sees(demo, tmp_path):
    app = MlopsApp(settings_for(demo, tmp_path), build_fleet)
    async with app.run_test(size=(150, 45)) as pilot:
        # Scaling a service its HPA owns: the preview says so and offers the HPA's bounds instead.
        await select(pilot, app, "demo-prod", "property-valuation-model")
        await pilot.press("s")
        await screen_is(pilot, app, "ScaleDialog")
        await pilot.press("6", "enter")
        await screen_is(pilot, app, "PreviewScreen")
        assert "HorizontalPodAutoscaler model-hpa owns the replica count" in visible_text(app)
        await pilot.press("a")
        await until(pilot, lambda: "set autoscaler bounds to 6..20" in visible_text(app), timeout=15)
        assert "succeeded" in await confirm_once(pilot, app)
        assert kubectl(demo, "get", "hpa", "model-hpa", "-n", "ml-prod", "-o", "jsonpath={.spec.minReplicas}") == "6"
        assert audit_lines(tmp_path)[-1]["intent"] == "set autoscaler bounds to 6..20"

        # Shifting the Istio canary to 30 %: the VirtualService now routes 70/30.
        await select(pilot, app, "demo-prod", "rent-predictor-canary")
        await pilot.press("w")
        await screen_is(pilot, app, "CanaryDialog")
        await pilot.press("up", "up", "enter")  # 10 % + 2 × 10 %
        await screen_is(pilot, app, "PreviewScreen")
        assert "canary weight 30%" in visible_text(app)
        assert "succeeded" in await confirm_once(pilot, app)
        vs = json.loads(kubectl(demo, "get", "virtualservice", "rent-predictor", "-n", "ml-prod", "-o", "json"))
        weights = sorted(d["weight"] for r in vs["spec"]["http"] for d in r["route"])
        assert weights == [30, 70]

        # Blue-green: switch ml-model-service to v2.1, which has ready pods.
        await select(pilot, app, "demo-prod", "ml-model-v2-0")
        await pilot.press("b")
        await screen_is(pilot, app, "BlueGreenDialog")
        await pilot.press("enter")
        await screen_is(pilot, app, "PreviewScreen")
        assert "succeeded" in await confirm_once(pilot, app)
        selector = kubectl(demo, "get", "svc", "ml-model-service", "-n", "ml-prod", "-o", "jsonpath={.spec.selector}")
        assert json.loads(selector) == {"app": "ml-model", "version": "v2.1"}

        # A GPU service scaled beyond the free GPUs: the preview warns before anything is sent.
        await select(pilot, app, "demo-prod", "llm-reranker")
        await pilot.press("s")
        await screen_is(pilot, app, "ScaleDialog")
        await pilot.press("6", "enter")
        await screen_is(pilot, app, "PreviewScreen")
        assert "will stay Pending" in visible_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.screen_stack[0])
        assert kubectl(demo, "get", "deploy", "llm-reranker", "-n", "ml-staging", "-o",
                       "jsonpath={.spec.replicas}") == "4"

        # Scaling production to zero needs the service's name typed.
        await select(pilot, app, "demo-prod", "rent-predictor-stable")
        await pilot.press("s")
        await screen_is(pilot, app, "ScaleDialog")
        await pilot.press("0", "enter")
        await screen_is(pilot, app, "PreviewScreen")
        assert "Type its name to confirm" in visible_text(app)
        await pilot.press(*"rent", "enter")  # not the name: nothing is sent
        await pilot.pause(0.3)
        assert app.screen.__class__.__name__ == "PreviewScreen"
        await pilot.press("ctrl+a", "shift+end", *"rent-predictor-stable", "enter")
        assert "succeeded" in await finish(pilot, app)
        assert kubectl(demo, "get", "deploy", "rent-predictor-stable", "-n", "ml-prod", "-o",
                       "jsonpath={.spec.replicas}") == "0"

        # Every action above, and only those that were applied, is in the audit log.
        results = [(line["intent"], line["result"]) for line in audit_lines(tmp_path)]
        assert results == [
            ("set autoscaler bounds to 6..20", "succeeded"),
            ("canary weight 30%", "succeeded"),
            ("switch to v2.1", "succeeded"),
            ("scale to 0", "succeeded"),
        ]


async def test_operator_actions_on_swarm_change_what_the_engine_holds(demo, tmp_path):
    import docker

    app = MlopsApp(settings_for(demo, tmp_path), build_fleet)
    client = docker.DockerClient(base_url=demo.docker_host, version="auto", timeout=10)
    try:
        async with app.run_test(size=(150, 45)) as pilot:
            await select(pilot, app, "swarm-demo", "proptech-ml_model-api")
            await pilot.press("s")
            await screen_is(pilot, app, "ScaleDialog")
            await pilot.press("5", "enter")
            await screen_is(pilot, app, "PreviewScreen")
            await confirm(pilot, app)
            assert "succeeded" in await finish(pilot, app)
            spec = client.services.get("proptech-ml_model-api").attrs["Spec"]
            assert spec["Mode"]["Replicated"]["Replicas"] == 5

            await select(pilot, app, "swarm-demo", "rent-predictor")
            await pilot.press("w")
            await screen_is(pilot, app, "CanaryDialog")
            await pilot.press("ctrl+a", "shift+end", *"50", "enter")
            await screen_is(pilot, app, "PreviewScreen")
            await confirm(pilot, app)
            assert "succeeded" in await finish(pilot, app)
            stable = client.services.get("rent-predictor").attrs["Spec"]["Mode"]["Replicated"]["Replicas"]
            canary = client.services.get("rent-predictor-canary").attrs["Spec"]["Mode"]["Replicated"]["Replicas"]
            assert (stable, canary) == (2, 2)
    finally:
        client.close()


async def test_readonly_sends_nothing_whatever_the_operator_presses(demo, tmp_path):
    app = MlopsApp(settings_for(demo, tmp_path, readonly=True), build_fleet)
    async with app.run_test(size=(150, 45)) as pilot:
        await select(pilot, app, "demo-prod", "property-valuation-model")
        await until(pilot, lambda: app.query_one("#alerts").row_count >= 1, timeout=30)
        time.sleep(0.5)
        kube_before, swarm_before = demo.clusters[0].mutations, demo.swarm.mutations
        am_before = demo.alertmanager.mutations
        for service in (("demo-prod", "property-valuation-model"), ("swarm-demo", "rent-predictor")):
            await select(pilot, app, *service)
            for key in (BY_ID[command].key for command in ACTION_COMMANDS):  # every action key, r too
                await pilot.press(key)
                await pilot.pause()
                assert app.screen is app.screen_stack[0]
            for command in ACTION_COMMANDS:
                await app.run_action(command)
        await pilot.press("tab", "tab", "tab", "S")
        await pilot.pause(0.5)
        assert (demo.clusters[0].mutations, demo.swarm.mutations) == (kube_before, swarm_before)
        assert demo.alertmanager.mutations == am_before
        assert audit_lines(tmp_path) == []


async def test_silencing_an_alert_from_the_alerts_pane_and_expiring_it(demo, tmp_path):
    import urllib.request

    def silences() -> list[dict]:
        with urllib.request.urlopen(f"{demo.alertmanager_url}/api/v2/silences", timeout=5) as response:
            return [s for s in json.load(response) if s["status"]["state"] == "active"]

    app = MlopsApp(settings_for(demo, tmp_path), build_fleet)
    async with app.run_test(size=(150, 45)) as pilot:
        alerts = app.query_one("#alerts")
        await until(pilot, lambda: alerts.row_count >= 1, timeout=30)
        app.focus_pane("alerts")
        await pilot.pause()
        alert = alerts.selected_alert()
        await pilot.press("S")
        await screen_is(pilot, app, "SilenceDialog")
        await pilot.press("tab", "tab", *"canary regression, rolling back", "enter")
        await screen_is(pilot, app, "PreviewScreen")
        await pilot.press("y")
        assert "succeeded" in await finish(pilot, app)
        made = [s for s in silences() if s["comment"] == "canary regression, rolling back"]
        assert len(made) == 1
        assert {m["name"] for m in made[0]["matchers"]} >= {"alertname"}
        # Alertmanager now reports the alert silenced, and the pane says so.
        await until(pilot, lambda: any(a.silenced_by and a.name == alert.name for a in app.state.alerts), timeout=40)
        record = audit_lines(tmp_path)[-1]
        assert record["action"] == "silence" and record["result"] == "succeeded"

        # Expire it again: the silenced alert offers to end its silence.
        silenced_row = next(i for i, a in enumerate(app.state.alerts) if a.silenced_by)
        alerts.move_cursor(row=silenced_row)
        await pilot.press("S")
        await screen_is(pilot, app, "ExpireSilenceDialog")
        await pilot.press("enter")
        await screen_is(pilot, app, "PreviewScreen")
        await pilot.press("y")
        assert "succeeded" in await finish(pilot, app)
        assert not [s for s in silences() if s["comment"] == "canary regression, rolling back"]


async def test_rolling_back_a_bad_image_from_the_revision_picker(demo, tmp_path):
    before = kubectl(demo, "get", "deploy", "bert-mig", "-n", "ml-staging", "-o",
                     "jsonpath={.spec.template.spec.containers[0].image}")
    container = kubectl(demo, "get", "deploy", "bert-mig", "-n", "ml-staging", "-o",
                        "jsonpath={.spec.template.spec.containers[0].name}")
    kubectl(demo, "set", "image", "deploy/bert-mig", "-n", "ml-staging", f"{container}=proptechusa/bert-mig:v1.1-bad")
    app = MlopsApp(settings_for(demo, tmp_path), build_fleet)
    async with app.run_test(size=(150, 45)) as pilot:
        await select(pilot, app, "demo-prod", "bert-mig")
        await until(pilot, lambda: app.state.services[app.selected_service_key()].revision == "2", timeout=30)
        await pilot.press("R")
        await screen_is(pilot, app, "RollbackDialog")
        shown = visible_text(app)
        assert "revision 2" in shown and "revision 1" in shown  # the picker lists what exists
        await pilot.press("down", "down", "enter")  # revision 1, picked by number
        await screen_is(pilot, app, "PreviewScreen")
        assert "roll back to revision 1" in visible_text(app)
        # The bad rollout is still moving: a status write between the preview and `y` brings a fresh
        # preview (of the same rollback) rather than a write over a version nobody previewed.
        assert "succeeded" in await confirm_once(pilot, app)
    image = kubectl(demo, "get", "deploy", "bert-mig", "-n", "ml-staging", "-o",
                    "jsonpath={.spec.template.spec.containers[0].image}")
    assert image == before
    history = kubectl(demo, "rollout", "history", "deploy/bert-mig", "-n", "ml-staging")
    assert "3" in history.split()  # like `kubectl rollout undo`: the old template comes back as revision 3


async def test_a_switch_to_a_colour_with_no_ready_pods_is_blocked_until_the_operator_overrides_it(demo, tmp_path):
    def active() -> str:
        out = kubectl(demo, "get", "svc", "ml-model-service", "-n", "ml-prod", "-o", "jsonpath={.spec.selector}")
        return json.loads(out)["version"]

    other = "v2.0" if active() == "v2.1" else "v2.1"
    deployment = f"ml-model-{other.replace('.', '-')}"
    replicas = kubectl(demo, "get", "deploy", deployment, "-n", "ml-prod", "-o", "jsonpath={.spec.replicas}")
    kubectl(demo, "scale", "deploy", deployment, "-n", "ml-prod", "--replicas=0")
    app = MlopsApp(settings_for(demo, tmp_path), build_fleet)
    try:
        async with app.run_test(size=(150, 45)) as pilot:
            await select(pilot, app, "demo-prod", deployment)
            await until(pilot, lambda: app.state.services[app.selected_service_key()].ready == 0, timeout=30)
            await pilot.press("b")
            await screen_is(pilot, app, "BlueGreenDialog")
            await pilot.press("enter")
            await screen_is(pilot, app, "PreviewScreen")
            # The preview says why it is blocked and how to override; y sends nothing.
            assert "no ready pod matches" in visible_text(app)
            assert "o: override (audited)" in visible_text(app)
            await pilot.press("y")
            await pilot.pause(0.3)
            assert app.screen.__class__.__name__ == "PreviewScreen" and active() != other
            # The explicit override makes a new preview that can be applied, and the audit names it.
            blocked = app.screen
            await pilot.press("o")
            await until(pilot, lambda: app.screen.__class__.__name__ == "PreviewScreen" and app.screen is not blocked)
            assert "blocked: nothing can be sent" not in visible_text(app)
            await confirm(pilot, app)  # ml-prod is production: the switch asks for the name
            await until(pilot, lambda: app.screen.__class__.__name__ == "ProgressScreen", timeout=30)
            await until(pilot, lambda: active() == other, timeout=30)
            # Bringing the colour's pods back lets the verification converge and the outcome be written.
            kubectl(demo, "scale", "deploy", deployment, "-n", "ml-prod", f"--replicas={replicas}")
            assert "succeeded" in await finish(pilot, app)
            assert audit_lines(tmp_path)[-1]["overrides"] == ["selector-no-ready-pods"]
            assert audit_lines(tmp_path)[-1]["intent"] == f"switch to {other} (override: target not ready)"
    finally:
        kubectl(demo, "scale", "deploy", deployment, "-n", "ml-prod", f"--replicas={replicas}")
