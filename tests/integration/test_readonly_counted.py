"""Read-only, counted (issue 16 §4): the demo's engines each behind a counting proxy (tests/faults.py),
the app started with `--readonly` (and, separately, with both clusters in `readonly_clusters`); the
operator presses every key the app binds, runs every command of the palette and walks every action
dialog to its end. The proxies count what reached the engines: no request but GET and HEAD (and the
Kubernetes access reviews, which store nothing), and every refused key answered in one line.

The keys, palette commands and dialogs come from the app's own command table (tui/commands.py), so a
command added later is tried here without anyone remembering to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from textual.binding import Binding

from mlops_tui.backends.model import Alert, ModelService
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.commands import ACTION_COMMANDS, BY_ID, COMMANDS, Command
from mlops_tui.tui.config import Settings
from mlops_tui.tui.flows import run_action
from mlops_tui.tui.panes import AlertsPane, ServicesPane
from mlops_tui.tui.refusals import needed_kinds, readonly_refusal
from mlops_tui.tui.screens import dialogs
from mlops_tui.tui.sources import build_fleet
from tests.faults import FaultProxy
from tests.integration.test_operator_keys import select as select_within_30s
from tests.tui.conftest import until, visible_text
from tests.tui.keys import burst, key_event

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
"""Every key, palette entry and dialog, waited on one by one: minutes on a loaded 2-core machine."""

READS = frozenset({"GET", "HEAD"})
REVIEWS = ("/selfsubjectaccessreviews", "/selfsubjectrulesreviews", "/selfsubjectreviews")
"""Kubernetes access and identity reviews: POSTs the API server answers and forgets (nothing stored)."""
CLUSTERS = ("demo-prod", "swarm-ro")
SERVICES = {"demo-prod": "property-valuation-model", "swarm-ro": "rent-predictor"}

DIALOGS: dict[str, Callable[[MlopsApp, ModelService, Alert | None], dialogs.IntentDialog]] = {
    "scale": lambda app, service, _alert: dialogs.ScaleDialog(service, app.settings.replica_cap),
    "canary": lambda _app, service, _alert: dialogs.CanaryDialog(service),
    "bluegreen": lambda _app, service, _alert: dialogs.BlueGreenDialog(service),
    "rollback": lambda _app, service, _alert: dialogs.RollbackDialog(service, []),
    "update_image": lambda _app, service, _alert: dialogs.UpdateImageDialog(service),
    "restart": lambda _app, service, _alert: dialogs.RestartDialog(service),
    "silence": lambda _app, _service, alert: dialogs.SilenceDialog(alert) if alert else None,  # type: ignore[misc]
}
"""Each action command's dialog, as the app builds it: the test fails on a command missing here."""
FILL_IN = {"silence": ("tab", "tab", *"checking the canary", "enter")}
"""Keys that complete a dialog whose defaults are not enough (a silence needs its reason); else enter."""


class ProxiedDemo:
    """The demo's engines (one Kubernetes cluster, a Swarm, Prometheus, Alertmanager), each behind a
    counting proxy; settings that aim the app at the proxies."""

    def __init__(self, tmp: Path) -> None:
        from mlops_tui.sim.demo import start_demo
        from mlops_tui.sim.kube.cluster import kubeconfig
        from mlops_tui.sim.kube.tls import client_context

        self.demo = start_demo(seed=3)
        cluster = self.demo.clusters[0]
        where = urlsplit(cluster.url)
        self.proxies = {
            "demo-prod": FaultProxy(where.hostname or "127.0.0.1", where.port or 443, upstream_tls=client_context()),
            "swarm-ro": FaultProxy("127.0.0.1", self.demo.swarm.port),
            "prometheus": FaultProxy("127.0.0.1", urlsplit(self.demo.prometheus_url).port or 80),
            "alertmanager": FaultProxy("127.0.0.1", urlsplit(self.demo.alertmanager_url).port or 80),
        }
        doc = kubeconfig([cluster])
        for entry in doc["clusters"]:
            entry["cluster"] = {"server": self.proxies["demo-prod"].url}
        self.kubeconfig = tmp / "kubeconfig"
        self.kubeconfig.write_text(yaml.safe_dump(doc))

    def settings(self, tmp: Path, **extra) -> Settings:
        return (Settings(audit_log=str(tmp / "audit.jsonl"), **extra)
                .with_engine("kubernetes", kubeconfig=str(self.kubeconfig), contexts=["demo-prod"],
                             all_contexts=False)
                .with_engine("swarm", endpoints=[f"tcp://127.0.0.1:{self.proxies['swarm-ro'].port}?name=swarm-ro"])
                .with_engine("prometheus", url=self.proxies["prometheus"].url)
                .with_engine("alertmanager", url=self.proxies["alertmanager"].url))

    def writes(self) -> dict[str, list[tuple[str, str]]]:
        """Per engine, every request that was not a read."""
        return {engine: [(method, path) for method, path in list(proxy.requests)
                         if method not in READS and not path.split("?")[0].endswith(REVIEWS)]
                for engine, proxy in self.proxies.items()}

    def reads(self) -> int:
        return sum(len(proxy.requests) for proxy in self.proxies.values())

    def stop(self) -> None:
        for proxy in self.proxies.values():
            proxy.close()
        self.demo.stop()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    env = ProxiedDemo(tmp_path_factory.mktemp("readonly-counted"))
    yield env
    env.stop()


async def select(pilot, app, cluster: str, name: str) -> None:
    """Select a service once it is listed (the first sync can take a minute on a loaded machine)."""
    await until(pilot, lambda: any(k.cluster == cluster and k.name == name for k in app.state.services), timeout=120)
    await select_within_30s(pilot, app, cluster, name)


def listen(app) -> list[str]:
    """Every notice the app shows from now on, in order (Textual forgets them after a few seconds)."""
    heard: list[str] = []
    notify = app.notify

    def recording(message, *args, **kwargs):
        heard.append(str(message))
        return notify(message, *args, **kwargs)

    app.notify = recording
    return heard


def one_line_saying(heard: list[str], since: int, *words: str) -> bool:
    """A notice since `since` holds all of `words`, on one line."""
    return any(all(w in message for w in words) and "\n" not in message for message in heard[since:])


ACTION_SCREENS = {*(BY_ID[c].opens for c in ACTION_COMMANDS), "ExpireSilenceDialog", "PreviewScreen", "ProgressScreen"}


def no_action_screen(app) -> bool:
    return not {screen.__class__.__name__ for screen in app.screen_stack} & ACTION_SCREENS


def no_action_flow(app) -> bool:
    return all(worker.is_finished for worker in app.workers if worker.group == "action")


async def back_to_the_dashboard(pilot, app) -> None:
    """esc until the dashboard is in front, then the services table focused."""
    for _ in range(12):
        if app.screen is app.screen_stack[0]:
            break
        depth = len(app.screen_stack)
        await pilot.press("escape")
        with contextlib.suppress(AssertionError):
            await until(pilot, lambda d=depth: len(app.screen_stack) < d, timeout=3)
    assert app.screen is app.screen_stack[0], f"esc did not close {app.screen_stack}"
    app.query_one(ServicesPane).focus()
    await pilot.pause()


async def select_alert(pilot, app) -> Alert:
    pane = app.query_one(AlertsPane)
    await until(pilot, lambda: pane.row_count >= 1, timeout=60)
    app.focus_pane("alerts")
    await until(pilot, lambda: pane.selected_alert() is not None)
    alert = pane.selected_alert()
    assert alert is not None
    return alert


async def refused_keys(pilot, app, heard: list[str], refusal_of: Callable[[Command], str],
                       commands: list[Command]) -> None:
    """Every key of `commands` sent together (one read, as over SSH), then `y` and enter as a tired
    operator would: each key says why in one line, and no dialog, preview or action starts."""
    since = len(heard)
    burst(app, *(command.key for command in commands), "y", "enter")
    for command in commands:
        try:
            await until(pilot, lambda c=command: one_line_saying(heard, since, refusal_of(c)), timeout=60)
        except AssertionError:
            raise AssertionError(f"{command.key} did not say {refusal_of(command)!r}; heard {heard[since:]}") from None
        assert no_action_screen(app) and no_action_flow(app), f"{command.key} started an action"
    await back_to_the_dashboard(pilot, app)


async def every_other_key(pilot, app, heard: list[str], actions: list[Command]) -> None:
    """Each command that changes nothing; inside the screen it opens, every key that screen binds
    and every key of `actions`, then `y` and enter; none reaches an action."""
    for command in COMMANDS:
        if command.mutates or command.id == "quit":
            continue
        since = len(heard)
        await pilot.press(command.key)
        if command.opens:
            await until(pilot, lambda c=command, n=since: app.screen.__class__.__name__ == c.opens
                        or len(heard) > n, timeout=30)
            screen_keys = [b.key for b in Binding.make_bindings(type(app.screen).BINDINGS)
                           if b.key not in ("escape", "q", "question_mark")]
            burst(app, *screen_keys, *(c.key for c in actions), "y", "enter")
            await pilot.pause(0.5)
        assert no_action_screen(app) and no_action_flow(app), f"after {command.key}: {app.screen_stack}"
        await back_to_the_dashboard(pilot, app)
        await pilot.press("escape")  # a filter or pane focus left by the command goes too


async def every_palette_command(pilot, app, heard: list[str], refusal_of: Callable[[Command], str | None]) -> None:
    for command in COMMANDS:
        if not command.in_palette:
            continue
        await pilot.press("ctrl+p")
        await until(pilot, lambda: app.screen.__class__.__name__ == "CommandPalette")
        await pilot.press(*command.description)
        hint = f"key {app.key_display(command.id)} · {command.explanation.replace('`', '')[:12]}"
        await until(pilot, lambda h=hint: h in visible_text(app), timeout=10)
        since = len(heard)
        await pilot.press("enter")
        refusal = refusal_of(command)
        if refusal:
            await until(pilot, lambda r=refusal, n=since: one_line_saying(heard, n, r), timeout=10)
        elif command.opens:
            await until(pilot, lambda c=command, n=since: app.screen.__class__.__name__ == c.opens
                        or len(heard) > n, timeout=30)
        else:
            await until(pilot, lambda: app.screen.__class__.__name__ != "CommandPalette", timeout=10)
        if refusal or command.target == "service":
            assert no_action_screen(app) and no_action_flow(app), f"palette {command.description}: {app.screen}"
        await back_to_the_dashboard(pilot, app)


async def every_dialog_to_its_end(pilot, app, heard: list[str], services: list[ModelService],
                                  alert: Alert | None) -> None:
    """Each action's dialog opened behind the keys' back (as a UI bug would), filled in as it comes
    and submitted: the Fleet refuses it in one line, no preview opens, and `y` after it applies nothing."""
    assert set(DIALOGS) == set(ACTION_COMMANDS), "a new action command needs its dialog here"
    for command_id in ACTION_COMMANDS:
        command = BY_ID[command_id]
        if command.target == "alert":
            if alert is None:
                continue
            service, source = None, "alertmanager"
        else:
            service = next(s for s in services if set(needed_kinds(command)) & s.actions)
            source = service.key.cluster
        since = len(heard)
        dialog = DIALOGS[command_id](app, service, alert)  # type: ignore[arg-type]
        app.run_worker(run_action(app, service, dialog, source=source, target=alert), group="action")
        await until(pilot, lambda c=command: app.screen.__class__.__name__ == c.opens, timeout=15)
        burst(app, *FILL_IN.get(command_id, ("enter",)))
        await until(pilot, lambda s=source, n=since: one_line_saying(heard, n, "read-only mode: ",
                                                                     f" is disabled for {s}"), timeout=20)
        await until(pilot, lambda: no_action_flow(app), timeout=15)
        assert no_action_screen(app), f"{command_id}: {app.screen_stack}"
        await back_to_the_dashboard(pilot, app)


def assert_nothing_written(proxied: ProxiedDemo, reads_before: int, tmp_path: Path) -> None:
    assert proxied.writes() == {engine: [] for engine in proxied.proxies}
    assert proxied.reads() > reads_before, "the proxies saw no request at all: the count proves nothing"
    audit = tmp_path / "audit.jsonl"
    assert not audit.exists() or audit.read_text() == ""


async def test_readonly_every_key_palette_command_and_dialog_sends_no_write_to_any_engine(proxied, tmp_path):
    app = MlopsApp(proxied.settings(tmp_path, readonly=True), build_fleet)
    reads_before = proxied.reads()
    service_actions = [BY_ID[c] for c in ACTION_COMMANDS if BY_ID[c].target == "service"]
    async with app.run_test(size=(150, 45)) as pilot:
        heard = listen(app)
        for cluster, name in SERVICES.items():
            await select(pilot, app, cluster, name)
            await refused_keys(pilot, app, heard, readonly_refusal, service_actions)
        alert = await select_alert(pilot, app)
        await refused_keys(pilot, app, heard, readonly_refusal, [BY_ID[c] for c in ACTION_COMMANDS])
        await select(pilot, app, "demo-prod", SERVICES["demo-prod"])
        await every_other_key(pilot, app, heard, [BY_ID[c] for c in ACTION_COMMANDS])
        await every_palette_command(pilot, app, heard, lambda c: readonly_refusal(c) if c.mutates else None)
        await every_dialog_to_its_end(pilot, app, heard, list(app.state.services.values()), alert)
        await pilot.press("q")
    assert_nothing_written(proxied, reads_before, tmp_path)


async def test_a_readonly_cluster_gets_no_write_from_any_key_palette_command_or_dialog(proxied, tmp_path):
    """Both clusters listed in `readonly_clusters`. Alertmanager is not a cluster: silencing stays
    possible there, so its key and dialog are tried only as far as their cancel (nothing is sent)."""
    app = MlopsApp(proxied.settings(tmp_path, readonly_clusters=list(CLUSTERS)), build_fleet)
    reads_before = proxied.reads()
    service_actions = [BY_ID[c] for c in ACTION_COMMANDS if BY_ID[c].target == "service"]

    def refusal_on(cluster: str) -> Callable[[Command], str]:
        return lambda c: f"{cluster} is read-only (readonly_clusters): {c.words} is disabled there"

    async with app.run_test(size=(150, 45)) as pilot:
        heard = listen(app)
        for cluster, name in SERVICES.items():
            await select(pilot, app, cluster, name)
            await until(pilot, lambda c=cluster: app.state.health[c].readonly, timeout=30)
            await refused_keys(pilot, app, heard, refusal_on(cluster), service_actions)
        await every_other_key(pilot, app, heard, service_actions)
        await select(pilot, app, "swarm-ro", SERVICES["swarm-ro"])
        on_swarm = refusal_on("swarm-ro")
        await every_palette_command(pilot, app, heard,
                                    lambda c: on_swarm(c) if c.mutates and c.target == "service" else None)
        await every_dialog_to_its_end(pilot, app, heard,
                                      [s for s in app.state.services.values() if s.key.cluster in CLUSTERS], None)
        await pilot.press("q")
    assert_nothing_written(proxied, reads_before, tmp_path)


def test_the_keys_tried_here_are_every_binding_the_app_has():
    """The rule that keeps the stories above complete: every key the app binds is a command of
    tui/commands.py (the app's BINDINGS are made from that table, which the stories walk), and every
    action command has its dialog here. A key added any other way fails this test."""
    bound = {(binding.key, binding.action) for binding in Binding.make_bindings(MlopsApp.BINDINGS)}
    assert bound == {(key_event(command.key).key, command.action_name) for command in COMMANDS}
    assert set(DIALOGS) == set(ACTION_COMMANDS)
