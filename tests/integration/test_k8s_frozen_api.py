"""A frozen Kubernetes API server is noticed, over the real protocol, and recovery needs no one.

The operator's story (issue 15): the API server hangs (here: `kill -STOP` of the simulator's process,
which this test started). Its watch connections stay open and say nothing. Within ~15 s the cluster
turns stale, saying since when; after `kill -CONT` it is connected again by itself, without relisting
everything, and a change made with kubectl after the recovery shows up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.kubernetes import resolve_backends
from mlops_tui.backends.model import HealthState, ServiceKey, ServiceKind
from tests.engines import require_binary
from tests.waiting import eventually

pytestmark = pytest.mark.integration

SERVICE = ServiceKey("sim-1", "ml-prod", ServiceKind.DEPLOYMENT, "property-valuation-model")


@pytest.fixture
def simulator(tmp_path):
    """`python -m mlops_tui.sim` in its own process: the one this test may stop and continue."""
    out = tmp_path / "sim"
    proc = subprocess.Popen([sys.executable, "-m", "mlops_tui.sim", "--out", str(out), "--clusters", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield proc, str(out / "kubeconfig")
    finally:
        os.kill(proc.pid, signal.SIGCONT)  # a stopped process would never act on the SIGTERM
        proc.terminate()
        proc.wait(timeout=30)


def test_a_frozen_api_server_turns_the_cluster_stale_within_15s_and_it_recovers_by_itself(simulator):
    proc, kubeconfig = simulator
    kubectl = require_binary("kubectl")
    (backend,) = resolve_backends(contexts=["sim-1"], kubeconfig=kubeconfig)
    fleet = Fleet([backend], audit=[].append, max_rate=20)
    fleet.start()
    try:
        health = lambda: fleet.state.health.get("sim-1")  # noqa: E731
        eventually(lambda: (h := health()) is not None and h.state is HealthState.CONNECTED, 60, "sim-1 connected")
        eventually(lambda: SERVICE in fleet.state.services, 30, "the seed service")
        lists = sum(1 for r in backend.reflectors for kind, _ in r.requests if kind == "list")

        os.kill(proc.pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        stale = eventually(lambda: (h := health()) is not None and h.state is HealthState.STALE and h, 25,
                           "sim-1 stale")
        noticed = time.monotonic() - frozen_at
        assert noticed <= 20, f"stale only after {noticed:.1f}s"
        assert "API server not answering" in stale.error
        # Since the last word heard: at most a bookmark interval (5 s) and a little before the freeze.
        assert stale.since is not None and (stale.since.timestamp() - (time.time() - noticed)) > -8

        os.kill(proc.pid, signal.SIGCONT)
        continued_at = time.monotonic()
        eventually(lambda: (h := health()) is not None and h.state is HealthState.CONNECTED, 20,
                   "sim-1 connected again")
        recovered = time.monotonic() - continued_at
        out = subprocess.run([kubectl, "--kubeconfig", kubeconfig, "--context", "sim-1", "-n", SERVICE.namespace,
                              "scale", "deployment", SERVICE.name, "--replicas=7"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        eventually(lambda: (s := fleet.state.services.get(SERVICE)) is not None and s.desired == 7, 20,
                   "kubectl's scale in the Fleet")
        # The watches resumed where they were: nothing was listed again.
        assert sum(1 for r in backend.reflectors for kind, _ in r.requests if kind == "list") == lists
        print(f"stale noticed {noticed:.1f}s after the freeze, connected {recovered:.1f}s after SIGCONT")
    finally:
        fleet.stop()
