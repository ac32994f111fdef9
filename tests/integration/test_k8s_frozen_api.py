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
import yaml

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
        if proc.poll() is None:  # (a test may have ended it)
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


def test_a_request_the_api_server_never_answers_reads_as_not_answering_in_plain_words(tmp_path):
    """What the cluster's health line shows for a frozen server, whichever request noticed first: the
    fact, not urllib3's repr of its connection pool, and no status number when there was no answer."""
    from mlops_tui.backends.kubernetes.client import ApiError, connect, resolve_targets
    from tests.integration.metrics_servers import closed_port_url, hanging_port

    def client_for(url: str):
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "frozen",
            "clusters": [{"name": "c", "cluster": {"server": url}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "frozen", "context": {"cluster": "c", "user": "u"}}]}))
        (target,) = resolve_targets(kubeconfig=str(kubeconfig))
        return connect(target)

    with hanging_port() as url, pytest.raises(ApiError) as frozen:
        client_for(url).request("GET", "/api/v1/pods", timeout=(2.0, 0.5))
    assert str(frozen.value) == "Timeout: API server not answering (nothing within 0.5 s)"
    with pytest.raises(ApiError) as refused:
        client_for(closed_port_url()).request("GET", "/api/v1/pods", timeout=(2.0, 0.5))
    assert refused.value.status == 0 and not str(refused.value).startswith("0 ")
    assert "refused" in str(refused.value).lower()


def test_the_simulator_stopped_and_continued_still_ends_on_sigterm(simulator):
    """After SIGSTOP and SIGCONT the kernel handed SIGTERM to another thread of the simulator, and its
    main thread, in one wait without a timeout, never ran the handler (CI: teardown stuck 30 s)."""
    proc, kubeconfig = simulator
    # A client's watch open, as the app's are (with one, the lost signal came every time).
    watch = subprocess.Popen([require_binary("kubectl"), "--kubeconfig", kubeconfig, "--context", "sim-1", "get",
                              "deployments", "-A", "-w"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert watch.stdout is not None and watch.stdout.readline()  # the list before the watch
        stop_continue_and_terminate(proc, while_stopped=watch.kill)  # the client gave up on it meanwhile
    finally:
        watch.kill()
        watch.wait(10)
    assert proc.wait(timeout=15) == 0


def stop_continue_and_terminate(proc, while_stopped) -> None:
    os.kill(proc.pid, signal.SIGSTOP)
    eventually(lambda: _state(proc.pid) == "T", 10, "the simulator stopped")
    time.sleep(3)  # the scenario itself: frozen long enough for its threads' timed waits to run out
    while_stopped()
    os.kill(proc.pid, signal.SIGCONT)
    eventually(lambda: _state(proc.pid) != "T", 10, "the simulator running again")
    proc.terminate()


def _state(pid: int) -> str:
    """The process's state letter from /proc (T: stopped)."""
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0]
