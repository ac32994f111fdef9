"""Actions under faults, exactly once and truthfully reported (issue 16 §3). The real backends speak to the
simulated engines through the fault proxy (tests/faults.py), which counts every mutating request; the
judges are kubectl, the docker CLI and Alertmanager's API, spoken to directly (not through the proxy).

The operator's story each time: they confirmed one action; the engine froze, or the connection dropped,
before the answer came back. The app never says "failed" for what the engine applied, never sends the
call twice, and the audit log holds the intent, the moment it was unknown, and how it was resolved."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from mlops_tui.backends.alerts.watch import AlertmanagerBackend
from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.kubernetes import resolve_backends
from mlops_tui.backends.model import Alert, AlertState, HealthState, ServiceKey, ServiceKind, Severity, freeze_labels
from mlops_tui.backends.plans import Outcome, Scale, SetCanaryWeight, SilenceAlert
from mlops_tui.backends.swarm.client import parse_endpoint
from mlops_tui.backends.swarm.watch import SwarmBackend
from tests.engines import require_binary
from tests.faults import FaultProxy
from tests.waiting import eventually

pytestmark = pytest.mark.integration
NS = "ml-prod"
D = ServiceKind.DEPLOYMENT


def apply_in_background(fleet: Fleet, plan, verify_timeout: float = 30.0) -> tuple[threading.Thread, list]:
    """The operator confirmed: the apply runs in a worker, as in the app."""
    result: list = []
    # Where the preview asks for the name (production), the operator typed it.
    worker = threading.Thread(target=lambda: result.append(fleet.apply(plan, confirmed_text=plan.confirm_text,
                                                                       verify_timeout=verify_timeout)),
                              daemon=True)
    worker.start()
    return worker, result


def results(audit: list[dict], plan) -> list[str]:
    return [r["result"] for r in audit if r.get("id") == plan.id]


# -- Kubernetes ----------------------------------------------------------------------------------


class Kube:
    def __init__(self, tmp_path_factory) -> None:
        from mlops_tui.sim.kube import SimKubeCluster, write_kubeconfig
        from mlops_tui.sim.kube.cluster import kubeconfig

        self.kubectl_bin = require_binary("kubectl")
        from mlops_tui.sim.kube.tls import client_context

        self.cluster = SimKubeCluster.start(name="sim-f", seed=5, fleet="demo", ready_delay=0.2)
        where = urlsplit(self.cluster.url)
        self.proxy = FaultProxy(where.hostname or "127.0.0.1", where.port or 443, upstream_tls=client_context())
        folder = tmp_path_factory.mktemp("faults-kube")
        self.direct = write_kubeconfig(str(folder / "direct"), [self.cluster])
        doc = kubeconfig([self.cluster])
        for entry in doc["clusters"]:
            entry["cluster"] = {"server": self.proxy.url}  # plain HTTP to the proxy, TLS from it to the engine
        self.proxied = str(folder / "proxied")
        with open(self.proxied, "w") as handle:
            yaml.safe_dump(doc, handle)
        self.audit: list[dict] = []
        self.backends = resolve_backends(contexts=["sim-f"], kubeconfig=self.proxied)
        for backend in self.backends:
            backend._backoff = (0.05, 0.5)
        self.fleet = Fleet(self.backends, audit=self.audit.append, operator="oncall-ana", max_rate=20)
        self.fleet.start()
        eventually(lambda: self.fleet.state.health["sim-f"].state is HealthState.CONNECTED, what="sim-f up")

    def kubectl(self, *args: str) -> str:
        out = subprocess.run([self.kubectl_bin, "--kubeconfig", self.direct, "--context", "sim-f", *args],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def replicas(self, name: str) -> str:
        return self.kubectl("get", "deploy", name, "-n", NS, "-o", "jsonpath={.spec.replicas}")

    def plan_scale(self, name: str, replicas: int):
        key = ServiceKey("sim-f", NS, D, name)
        service = eventually(lambda: (s := self.fleet.state.services.get(key)) is not None
                             and Scale(0).kind not in s.denied and s, what=f"{name} offered")
        return self.fleet.plan(service, Scale(replicas))

    def close(self) -> None:
        self.fleet.stop()
        self.proxy.close()
        self.cluster.stop()


@pytest.fixture(scope="module")
def kube(tmp_path_factory):
    env = Kube(tmp_path_factory)
    yield env
    env.close()


def test_a_cancelled_preview_sends_nothing(kube):
    before = kube.proxy.mutations()
    plan = kube.plan_scale("ml-model-v2-1", 6)  # the operator looks at the preview and presses Esc
    assert plan.mutations and kube.proxy.mutations() == before


def test_a_scale_frozen_after_sending_is_resolved_applied_once_the_engine_wakes(kube):
    """The API server took the scale and froze before answering; the 15 s read timeout passed. Once it
    wakes, the app re-reads the Scale and reports the change applied, never 'failed', sent once."""
    plan = kube.plan_scale("ml-model-v2-1", 5)
    sent_before = kube.proxy.mutations()
    kube.proxy.set_mode("freeze")
    worker, result = apply_in_background(kube.fleet, plan)
    eventually(lambda: "unknown" in results(kube.audit, plan), timeout=40, what="the answer declared lost")
    assert kube.replicas("ml-model-v2-1") == "5"  # the engine has it, while the app cannot tell yet
    kube.proxy.wake()
    worker.join(60)
    outcome = result[0]
    assert outcome.outcome is Outcome.SUCCEEDED, outcome.detail
    assert "re-reading showed it applied" in outcome.detail
    assert kube.proxy.mutations() - sent_before == 1
    assert results(kube.audit, plan) == ["intent", "unknown", "succeeded"]
    assert kube.replicas("ml-model-v2-1") == "5"


def test_a_scale_lost_on_the_way_is_resolved_not_applied_and_nothing_changed(kube):
    """The connection dropped with the request in it: the API server never saw it. Re-reading shows the
    replicas unchanged and the guards intact: 'not applied', not 'failed', and not sent again."""
    current = kube.replicas("ml-model-v2-1")
    plan = kube.plan_scale("ml-model-v2-1", int(current) + 2)
    sent_before = kube.proxy.mutations()
    kube.proxy.set_mode("lose", only_mutating=True)
    try:
        outcome = kube.fleet.apply(plan, confirmed_text=plan.confirm_text, verify_timeout=30)
    finally:
        kube.proxy.wake()
    assert outcome.outcome is Outcome.NOT_APPLIED, outcome.detail
    assert kube.proxy.mutations() - sent_before == 1
    assert kube.replicas("ml-model-v2-1") == current
    assert results(kube.audit, plan) == ["intent", "unknown", "not-applied"]


# -- Swarm ---------------------------------------------------------------------------------------


class Swarm:
    def __init__(self) -> None:
        from mlops_tui.sim.docker import SimSwarm

        self.docker_bin = require_binary("docker")
        self.sim = SimSwarm.start(seed=3)
        self.proxy = FaultProxy("127.0.0.1", self.sim.port)
        self.audit: list[dict] = []
        self.backend = SwarmBackend(parse_endpoint(f"tcp://127.0.0.1:{self.proxy.port}"), name="swarm-f",
                                    resync_seconds=1.0, timeout=3.0)
        self.fleet = Fleet([self.backend], audit=self.audit.append, operator="oncall-ana", max_rate=20)
        self.fleet.start()
        eventually(lambda: self.fleet.state.health["swarm-f"].state is HealthState.CONNECTED, what="swarm up")

    def replicas(self, name: str) -> int:
        out = subprocess.run([self.docker_bin, "service", "inspect", name], capture_output=True, text=True,
                             timeout=30, env={**os.environ, "DOCKER_HOST": self.sim.url})
        assert out.returncode == 0, out.stderr
        return int(json.loads(out.stdout)[0]["Spec"]["Mode"]["Replicated"]["Replicas"])

    def service(self, name: str):
        return eventually(lambda: next((s for k, s in self.fleet.state.services.items() if k.name == name), None),
                          what=f"{name} in the Fleet")

    def close(self) -> None:
        self.fleet.stop()
        self.proxy.close()
        self.sim.stop()


@pytest.fixture(scope="module")
def swarm():
    env = Swarm()
    yield env
    env.close()


def test_a_swarm_scale_whose_connection_reset_before_the_answer_is_resolved_applied(swarm):
    start = swarm.replicas("rent-predictor")
    plan = swarm.fleet.plan(swarm.service("rent-predictor"), Scale(start + 1))
    sent_before = swarm.proxy.mutations()
    swarm.proxy.set_mode("reset", only_mutating=True)
    try:
        outcome = swarm.fleet.apply(plan, confirmed_text=plan.confirm_text, verify_timeout=30)
    finally:
        swarm.proxy.wake()
    assert outcome.outcome in (Outcome.SUCCEEDED, Outcome.APPLIED_NOT_CONVERGED), outcome.detail
    assert "re-reading showed it applied" in outcome.detail
    assert swarm.proxy.mutations() - sent_before == 1
    assert swarm.replicas("rent-predictor") == start + 1
    assert results(swarm.audit, plan)[:2] == ["intent", "unknown"]


def test_a_canary_shift_cut_half_way_names_the_landed_call_and_its_completing_plan_finishes_it(swarm):
    """Two calls: the canary grows (lands), the stable shrinks (lost on the way). The outcome names
    both; the completing plan sends only the missing call, and the services end as previewed."""
    service = swarm.service("rent-predictor-canary")
    stable, canary = swarm.replicas("rent-predictor"), swarm.replicas("rent-predictor-canary")
    total = stable + canary
    target = 50 if round(100 * canary / total) != 50 else 25
    plan = swarm.fleet.plan(service, SetCanaryWeight(target))
    assert len(plan.mutations) == 2, plan.mutations
    sent_before = swarm.proxy.mutations()
    swarm.proxy.set_mode("lose", only_mutating=True, skip=1)
    try:
        outcome = swarm.fleet.apply(plan, confirmed_text=plan.confirm_text, verify_timeout=30)
    finally:
        swarm.proxy.wake()
    assert outcome.outcome is Outcome.PARTIAL, outcome.detail
    assert outcome.landed == (plan.mutations[0].summary,)
    assert outcome.not_landed == (plan.mutations[1].summary,)
    assert swarm.proxy.mutations() - sent_before == 2
    assert swarm.audit[-1]["landed"] == [plan.mutations[0].summary]
    assert outcome.completing is not None and outcome.reverting is not None
    assert [m.summary for m in outcome.completing.mutations] == [plan.mutations[1].summary]
    finished = swarm.fleet.apply(outcome.completing, confirmed_text=outcome.completing.confirm_text, verify_timeout=30)
    assert finished.outcome in (Outcome.SUCCEEDED, Outcome.APPLIED_NOT_CONVERGED), finished.detail
    assert (swarm.replicas("rent-predictor"), swarm.replicas("rent-predictor-canary")) == (
        plan.context["stable_replicas"], plan.context["canary_replicas"])


def test_a_canary_shift_cut_half_way_can_be_reverted_to_where_it_started(swarm):
    service = swarm.service("rent-predictor-canary")
    stable, canary = swarm.replicas("rent-predictor"), swarm.replicas("rent-predictor-canary")
    total = stable + canary
    target = 75 if round(100 * canary / total) != 75 else 25
    plan = swarm.fleet.plan(service, SetCanaryWeight(target))
    assert len(plan.mutations) == 2, plan.mutations
    swarm.proxy.set_mode("lose", only_mutating=True, skip=1)
    try:
        outcome = swarm.fleet.apply(plan, confirmed_text=plan.confirm_text, verify_timeout=30)
    finally:
        swarm.proxy.wake()
    assert outcome.outcome is Outcome.PARTIAL and outcome.reverting is not None, outcome.detail
    reverted = swarm.fleet.apply(outcome.reverting, confirmed_text=outcome.reverting.confirm_text, verify_timeout=30)
    assert reverted.outcome in (Outcome.SUCCEEDED, Outcome.APPLIED_NOT_CONVERGED), reverted.detail
    assert (swarm.replicas("rent-predictor"), swarm.replicas("rent-predictor-canary")) == (stable, canary)


# -- Alertmanager -----------------------------------------------------------------------------------


def test_a_silence_frozen_after_posting_is_found_again_not_posted_twice():
    """Alertmanager makes a new silence per POST: after a lost answer the app looks for the silence by
    its matchers, comment and author instead of posting again. One POST, one silence."""
    from mlops_tui.sim.alertmanager import SimAlertmanager

    am = SimAlertmanager.start()
    proxy = FaultProxy("127.0.0.1", urlsplit(am.url).port or 80)
    audit: list[dict] = []
    backend = AlertmanagerBackend(proxy.url, name="am-f", refresh_seconds=1.0)
    fleet = Fleet([backend], audit=audit.append, operator="oncall-ana")
    fleet.start()
    try:
        alert = Alert(name="HighInferenceLatency", severity=Severity.WARNING, state=AlertState.FIRING,
                      labels=freeze_labels({"alertname": "HighInferenceLatency", "service": "slow-model"}))
        comment = f"faults test {time.time_ns()}"
        plan = fleet.plan_on("am-f", alert, SilenceAlert(
            matchers=(("alertname", "HighInferenceLatency", False), ("service", "slow-model", False)),
            duration_seconds=3600, comment=comment))
        proxy.set_mode("freeze", only_mutating=True)
        worker, result = apply_in_background(fleet, plan, verify_timeout=20)
        eventually(lambda: "unknown" in results(audit, plan), timeout=30, what="the answer declared lost")
        proxy.wake()
        worker.join(40)
        outcome = result[0]
        assert outcome.outcome in (Outcome.SUCCEEDED, Outcome.APPLIED_NOT_CONVERGED), outcome.detail
        assert "re-reading showed it applied" in outcome.detail
        silences = [s for s in requests.get(f"{am.url}/api/v2/silences", timeout=5).json() if s["comment"] == comment]
        assert len(silences) == 1 and proxy.mutations() == 1
        assert backend.silence_id_of(plan) == silences[0]["id"]
        assert results(audit, plan)[:2] == ["intent", "unknown"]
        ends = datetime.fromisoformat(silences[0]["endsAt"].replace("Z", "+00:00"))
        assert ends - datetime.now(timezone.utc) > timedelta(minutes=50)
    finally:
        fleet.stop()
        proxy.close()
        am.stop()
