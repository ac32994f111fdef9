"""The incident timeline against the real engines: Swarm's task transitions and UpdateStatus on the
real dockerd (.ci/start-swarm.sh), alert transitions on a real Prometheus and Alertmanager (Debian's
packages). Each story ends with a restart: a new Fleet finds what the engines kept, at the times the
engines gave it, and nothing twice."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime

import pytest

from mlops_tui.backends.alerts import actions
from mlops_tui.backends.alerts.translate import parse_time
from mlops_tui.backends.alerts.watch import AlertmanagerBackend, PrometheusAlertsSource
from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import AlertState
from mlops_tui.backends.plans import ExpireSilence, Outcome
from mlops_tui.backends.swarm.client import SwarmEndpoint
from mlops_tui.backends.swarm.watch import SwarmBackend
from mlops_tui.backends.timeline import EntrySource, TimelineEntry
from tests.engines import require
from tests.integration.metrics_servers import wait_for as wait_metrics
from tests.integration.test_alertmanager_real import FAST_OPTIONS, SLOW, slow_alert
from tests.integration.test_alertmanager_real import servers as servers
from tests.integration.test_swarm_backend import SOCKET, Lab, docker, wait_for

pytestmark = pytest.mark.integration


def swarm_fleet() -> Fleet:
    fleet = Fleet([SwarmBackend(SwarmEndpoint(url=f"unix://{SOCKET}"), name="it-swarm", resync_seconds=1.0)])
    fleet.start()
    return fleet


def of(fleet: Fleet, name: str) -> list[TimelineEntry]:
    return [e for e in fleet.timeline.entries() if e.service is not None and e.service.name == name]


def dockerd_time(text: str) -> datetime:
    """dockerd's RFC 3339 time with nanoseconds, as Python reads it (to the microsecond)."""
    head, _, rest = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(rest + '000000')[:6]}+00:00")


@pytest.fixture
def swarm_engine() -> None:
    from mlops_tui.backends.swarm.client import is_swarm_manager, local_socket_info

    info = local_socket_info(SOCKET)
    require(info is not None and is_swarm_manager(info), f"no Swarm manager on {SOCKET} (run .ci/start-swarm.sh)")


@pytest.fixture
def lab():
    lab = Lab()
    yield lab
    lab.cleanup()


def test_swarm_task_failures_and_a_paused_update_appear_at_dockerds_times_and_once_after_a_restart(swarm_engine, lab):
    # No restarts: the failed task stays the one Swarm keeps (restarts would push it out of the history).
    name = lab.create("tl", "--replicas", "1", "--update-failure-action", "pause", "--update-monitor", "2s",
                      "--restart-condition", "none", "mlops/model:v1")
    fleet = swarm_fleet()
    try:
        wait_for("the running task in the timeline", lambda: any(
            e.source is EntrySource.TASK and e.what.startswith("task running") for e in of(fleet, name)), 60)
        # An update whose tasks cannot start: Swarm fails them and pauses the update.
        docker("service", "update", "--detach", "--entrypoint", "/no/such/binary", name)
        wait_for("the failed task and the paused update", lambda: any(
            e.what.startswith("update paused") for e in of(fleet, name)) and any(
            e.source is EntrySource.TASK and e.severity.name == "WARNING" for e in of(fleet, name)), 90)
        seen = of(fleet, name)
    finally:
        fleet.stop()
    failed = next(e for e in seen if e.source is EntrySource.TASK and e.severity.name == "WARNING")
    task = next(t for t in json.loads(docker("inspect", *docker("service", "ps", "-q", "--no-trunc", name).split()))
                if t["Status"]["State"] == "failed")
    assert failed.at == dockerd_time(task["Status"]["Timestamp"])
    paused = next(e for e in seen if e.what.startswith("update paused"))
    status = json.loads(docker("service", "inspect", name))[0]["UpdateStatus"]
    assert status["State"] == "paused" and paused.what == f"update paused: {status['Message']}"
    assert [e.at for e in seen] == sorted(e.at for e in seen)

    # A restart: the new Fleet finds the same history (Swarm keeps it), each fact once.
    again = swarm_fleet()
    try:
        wait_for("the history read again", lambda: any(e.what.startswith("update paused") for e in of(again, name)), 30)
        reread = of(again, name)
    finally:
        again.stop()
    assert {(e.at, e.what) for e in reread if e.source in (EntrySource.TASK, EntrySource.ROLLOUT)} >= {
        (failed.at, failed.what), (paused.at, paused.what)}
    assert len({e.key for e in reread}) == len(reread)


def alert_words(fleet: Fleet) -> list[str]:
    return [e.what.split(":")[0].removesuffix(" on slow-model") for e in fleet.timeline.entries()
            if e.source is EntrySource.ALERT and e.service == SLOW.key]


def test_alert_transitions_pending_firing_silenced_and_expired_on_the_real_alertmanager(servers):
    prom, am = servers
    fleet = Fleet([PrometheusAlertsSource(prom.url, options=FAST_OPTIONS),
                   AlertmanagerBackend(am.url, options=FAST_OPTIONS)], operator="alice")
    from tests.integration.test_alertmanager_real import FAST, StaticServices

    fleet.add_backend(StaticServices("prod", [FAST, SLOW]))
    fleet.start()
    try:
        alert = wait_metrics(lambda: slow_alert(fleet, AlertState.FIRING), 45, "the alert firing")
        wait_metrics(lambda: slow_alert(fleet, AlertState.FIRING).source == "alertmanager", 20, "Alertmanager's report")
        plan = fleet.plan_on("alertmanager", alert, actions.silence_intent(alert, 900, "OPS-42: new build"))
        assert fleet.apply(plan, verify_timeout=20).outcome is Outcome.SUCCEEDED
        silenced = wait_metrics(lambda: slow_alert(fleet, AlertState.SILENCED), 20, "the alert silenced")
        expire = fleet.plan_on("alertmanager", silenced, ExpireSilence(silenced.silenced_by[0]))
        assert fleet.apply(expire, verify_timeout=20).outcome is Outcome.SUCCEEDED
        wait_metrics(lambda: "firing again" in alert_words(fleet), 30, "the silence expired")
        words = alert_words(fleet)
        started = slow_alert(fleet).since
    finally:
        fleet.stop()
    # The rule's `for: 2s` is seen pending first when the poll (0.3 s) catches it; firing always.
    assert words[-2:] == ["silenced", "firing again"] and "firing" in words, words
    actions_seen = [e.what for e in fleet.timeline.entries() if e.source is EntrySource.ACTION]
    assert len(actions_seen) == 2 and all(w.startswith("alice (as ") for w in actions_seen), actions_seen

    # A restart: the firing alert is dated by its own start, not by when this Fleet first saw it.
    again = Fleet([PrometheusAlertsSource(prom.url, options=FAST_OPTIONS),
                   AlertmanagerBackend(am.url, options=FAST_OPTIONS), StaticServices("prod", [FAST, SLOW])])
    again.start()
    try:
        wait_metrics(lambda: slow_alert(again, AlertState.FIRING), 20, "the alert after a restart")
        wait_metrics(lambda: alert_words(again), 10, "its entry")
        first = next(e for e in again.timeline.entries() if e.source is EntrySource.ALERT and e.service == SLOW.key)
    finally:
        again.stop()
    # Each engine gives the alert's own start: Alertmanager when it fired (`startsAt`, shown once it has
    # reported), Prometheus when it became active (`activeAt`, the rule's `for: 2s` earlier). The entry
    # carries the start of whichever report this Fleet had first (CI saw both orders).
    with urllib.request.urlopen(f"{prom.url}/api/v1/alerts", timeout=10) as answer:
        active_at = next(parse_time(a["activeAt"]) for a in json.load(answer)["data"]["alerts"]
                         if a["labels"].get("alertname") == "HighInferenceLatency"
                         and SLOW.key.name in a["labels"].values())
    assert started is not None and first.at in (slow_alert(again).since, active_at), (first.at, active_at)
