"""The demo's scripted incident (sim/scenario.py), told back by the timeline: the on-call operator opens
`:timeline` after the night and reads, in the order it happened, the canary's latency regression, its
alert firing, the GPU node going NotReady, the Swarm update failing, the HPA's reaction and their own
scale. The simulated engines run in-process, spoken to by the real backends, 10 times faster than
the wall clock (the canaries regress ~6 s in; their p95 passes the SLO some seconds later, by which
time the app is connected). The scenario fires the canaries' alert before the GPU node goes NotReady
for every seed (tests/unit/test_scenario.py), so the whole order is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_tui.backends.timeline import EntrySource, TimelineEntry
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.config import Settings
from mlops_tui.tui.panes import ServicesPane
from mlops_tui.tui.panes.services import row_key
from mlops_tui.tui.sources import build_fleet
from mlops_tui.tui.timeline_cli import entry_document
from tests.tui.conftest import until, visible_text
from tests.tui.test_ages_tick import table_text

SEED = 2
"""A seed whose story leaves each fact well apart from the next (sim/scenario.py `timeline(seed)`)."""
TIME_SCALE = 10.0
CANARIES = ("ensemble-predictor", "property-price-predictor")


@pytest.fixture(scope="module")
def demo():
    from mlops_tui.sim.demo import start_demo

    env = start_demo(seed=SEED, time_scale=TIME_SCALE)
    yield env
    env.stop()


def settings_for(env, tmp_path: Path) -> Settings:
    return (Settings(audit_log=str(tmp_path / "audit.jsonl"))
            .with_engine("kubernetes", kubeconfig=env.kubeconfig, contexts=list(env.contexts))
            .with_engine("swarm", endpoints=[f"{env.docker_host}?name=swarm-demo"])
            .with_engine("prometheus", url=env.prometheus_url, refresh_seconds=1.0)
            .with_engine("alertmanager", url=env.alertmanager_url, refresh_seconds=1.0))


def named(entry: TimelineEntry) -> str:
    return entry.service.name if entry.service is not None else entry.name


STORY = {
    "latency regression": lambda e: ((e.source is EntrySource.ALERT and e.what.startswith("pending"))
                                     or e.source is EntrySource.LATENCY) and named(e) in CANARIES,
    "alert firing": lambda e: e.source is EntrySource.ALERT and e.what.startswith("firing") and named(e) in CANARIES,
    "GPU node NotReady": lambda e: e.name == "gpu-node-2" and "NotReady" in e.what,
    "Swarm update failing": lambda e: named(e) == "proptech-ml_model-api" and (
        e.what.startswith("update paused") or e.what.startswith("task failed")),
    "HPA reaction": lambda e: named(e) == "property-valuation-model" and (
        e.source is EntrySource.SCALING or "SuccessfulRescale" in e.what),
    "operator's scale": lambda e: e.source is EntrySource.ACTION and "scale to 4" in e.what,
}


def first_of(entries: list[TimelineEntry]) -> dict[str, int]:
    """Where each fact of the story first appears in the timeline."""
    return {fact: next((i for i, e in enumerate(entries) if test(e)), -1) for fact, test in STORY.items()}


async def test_the_scripted_incident_reads_in_order_in_the_timeline_and_in_its_json(demo, tmp_path):
    from mlops_tui.sim.scenario import timeline as story

    surge = next(e.at for e in story(SEED) if e.kind == "load_surge")
    app = MlopsApp(settings_for(demo, tmp_path), build_fleet)
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.fleet is not None, timeout=30)

        def told() -> bool:
            """every fact of the scripted incident is in the timeline"""
            found = first_of(list(app.fleet.timeline.entries()))
            return all(i >= 0 for fact, i in found.items() if fact != "operator's scale")

        # The surge is at ~436 story seconds (~22 s of wall time); the HPA reacts within its period.
        await until(pilot, told, timeout=surge / TIME_SCALE + 60)

        # The operator scales a service from the keyboard, as on any night.
        table = app.query_one(ServicesPane)
        target = next(k for k in app.state.services if k.name == "rent-predictor-stable")
        await until(pilot, lambda: row_key(target) in table.shown_keys, timeout=10)
        table.focus()
        table.move_cursor(row=table.shown_keys.index(row_key(target)))
        await pilot.pause()
        await pilot.press("s")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ScaleDialog")
        await pilot.press("4", "enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PreviewScreen", timeout=15)
        await pilot.press("y")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ProgressScreen" and app.screen.finished,
                    timeout=60)
        await pilot.press("enter")

        await pilot.press("colon")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PromptScreen")
        await pilot.press(*"timeline", "enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "TimelineScreen")
        screen = app.screen
        await until(pilot, lambda: first_of(screen.view.shown)["operator's scale"] >= 0, timeout=10)

        shown = list(screen.view.shown)
        found = first_of(shown)
        assert all(i >= 0 for i in found.values()), found
        story_order = [(shown[i].at.isoformat(), fact, shown[i].what) for fact, i in found.items()]
        for before, after in (("latency regression", "alert firing"), ("alert firing", "HPA reaction"),
                              ("alert firing", "GPU node NotReady"),
                              ("GPU node NotReady", "Swarm update failing"),
                              ("Swarm update failing", "HPA reaction"), ("HPA reaction", "operator's scale")):
            assert found[before] < found[after], (before, after, story_order)
        assert [e.at for e in shown] == sorted(e.at for e in shown)  # newest at the bottom
        # the newest (the operator's scale) is in sight: the view follows the end
        await until(pilot, lambda: "scale to 4" in visible_text(app), timeout=5)

        # The same story in what `mlops-tui timeline --json` prints for the postmortem.
        document = [entry_document(e) for e in app.fleet.timeline.entries()]
        printed = json.loads(json.dumps(document))
        times = [d["time"] for d in printed]
        assert times == sorted(times)
        assert any(d["source"] == "action" and "scale to 4" in d["what"] for d in printed)

    # After the app has gone: `mlops-tui timeline --json` for the postmortem, from what the engines
    # and the audit log kept (no diff of states: it reads them once).
    out = subprocess.run([sys.executable, "-m", "mlops_tui.tui.cli", "timeline", "--json", "--since", "1h",
                          "--kubeconfig", demo.kubeconfig, "--context", demo.contexts[0],
                          "--swarm", f"{demo.docker_host}?name=swarm-demo", "--prometheus", demo.prometheus_url,
                          "--alertmanager", demo.alertmanager_url, "--audit-log", str(tmp_path / "audit.jsonl"),
                          "--timeout", "30"], capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr
    kept = json.loads(out.stdout)["entries"]
    assert [d["time"] for d in kept] == sorted(d["time"] for d in kept)

    def at(test) -> int:
        return next(i for i, d in enumerate(kept) if test(d))

    notready = at(lambda d: "NodeNotReady" in d["what"])
    paused = at(lambda d: d["object"]["name"] == "proptech-ml_model-api" and d["what"].startswith("update paused"))
    rescale = at(lambda d: "SuccessfulRescale" in d["what"])
    scaled = at(lambda d: d["source"] == "action" and "scale to 4" in d["what"])
    assert notready < paused < rescale < scaled, [(d["time"], d["what"]) for d in kept]
    assert any(d["source"] == "alert" and d["what"].startswith("firing") and d["service"]
               and d["service"]["name"] in CANARIES for d in kept)


async def test_the_detail_screen_shows_the_services_own_timeline(demo, tmp_path):
    app = MlopsApp(settings_for(demo, tmp_path), build_fleet)
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.fleet is not None, timeout=30)
        table = app.query_one(ServicesPane)

        def swarm_row():
            keys = [k for k in app.state.services if k.name == "proptech-ml_model-api"]
            return row_key(keys[0]) if keys and row_key(keys[0]) in table.shown_keys else None

        await until(pilot, lambda: swarm_row() is not None, timeout=30)
        table.focus()
        table.move_cursor(row=table.shown_keys.index(swarm_row()))
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ServiceDetailScreen")
        # Swarm keeps its task history: the tasks' states are there from the first read.
        log = app.screen.query_one("#detail-timeline")
        await until(pilot, lambda: "task running" in table_text(log), timeout=10)
        text = table_text(log)
        assert text.startswith("Timeline (oldest first")
        assert "proptech-ml_model-api." in text and "rent-predictor" not in text  # only this service's entries
