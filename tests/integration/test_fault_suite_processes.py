"""The fault suite's process-level faults (issue 16 §1): engines the suite starts itself, stopped by their
PID and started again on the same address and data: a real Prometheus and a real Alertmanager (Debian's
binaries, own ports on 127.0.0.1, own data directories) and a dockerd of its own beside the CI one (own
--data-root, --exec-root, --pidfile and unix socket, a single-node Swarm). The app's backends are built
from Settings through the engine registry with their default timings, as in test_fault_suite.py, whose
table these rows join. Each row: stale within 15 s (with the age shown), connected again within a bound,
the Fleet equal to what the docker CLI, Prometheus and Alertmanager report, no crash.
The simulated Kubernetes API server's restart is in test_fault_suite.py (its simulator runs in-process).
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import HealthState
from mlops_tui.tui.config import Settings
from mlops_tui.tui.sources import build_backends
from tests.engines import require_binary
from tests.integration.metrics_servers import SEED_RULES, SeedExporter, alertmanager, prometheus
from tests.integration.own_engines import OwnDockerd, own_dockerd, restart_in_place, stop_process
from tests.integration.test_fault_suite import (
    RECOVER_WITHIN,
    STALE_WITHIN,
    alert_differences,
    differences,
    each_until,
    measured,
    stale_ages,
    wait,
)

pytestmark = pytest.mark.integration
ENGINE_CLI = "/usr/bin/docker"
"""Debian's CLI, the engine's own version (a newer client on PATH may speak a newer API), as .ci/start-swarm.sh."""

SWARM = "swarm-own"
SOURCES = (SWARM, "prometheus", "prometheus-alerts", "alertmanager")


class OwnEngines:
    """The suite's own engine processes and the app's backends reading them (no proxy: the fault is the
    process itself going away)."""

    def __init__(self, dockerd: OwnDockerd, prom, am) -> None:
        self.dockerd, self.prom, self.am = dockerd, prom, am
        for name, replicas in (("fs-price-model", 1), ("fs-rent-model", 2)):
            dockerd.docker("service", "create", "--detach", "--name", name, "--replicas", str(replicas),
                           "mlops/busybox:1")
        settings = (Settings()
                    .with_engine("swarm", endpoints=[f"{dockerd.url}?name={SWARM}"])
                    .with_engine("prometheus", url=prom.url)
                    .with_engine("alertmanager", url=am.url))
        self.fleet = Fleet()
        for backend in build_backends(settings, lambda: self.fleet.state):
            if backend.name in SOURCES:  # no kubeconfig here: the Kubernetes engine is not this suite's
                self.fleet.add_backend(backend)
        self.crashes: list[BaseException] = []
        self._old_hook = threading.excepthook
        threading.excepthook = self._crashed
        self.fleet.start()
        for source in SOURCES:
            wait(lambda s=source: self.state(s) is HealthState.CONNECTED, 120, f"{source} connected")
        self.last_differences: list[str] = []
        wait(self.all_equal, 90, lambda: f"the first sync complete: {self.last_differences}")

    def _crashed(self, args) -> None:
        self.crashes.append(args.exc_value)
        self._old_hook(args)

    def state(self, source: str) -> HealthState:
        return self.fleet.state.health[source].state

    def swarm_differences(self) -> list[str]:
        judged: dict[Any, int | None] = {}
        for line in self.dockerd.docker("service", "ls", "--format", "{{.Name}} {{.Replicas}}").splitlines():
            name, replicas = line.split(" ", 1)
            judged[name] = int(replicas.split("/")[1].split(" ")[0]) if "/" in replicas else None
        shown = {k.name: s.desired for k, s in self.fleet.state.services.items() if k.cluster == SWARM}
        return differences("swarm", judged, shown)

    def all_equal(self) -> bool:
        try:
            self.last_differences = (self.swarm_differences()
                                     + alert_differences(self.fleet.state, self.prom.url, self.am.url))
        except Exception as exc:
            self.last_differences = [f"judge not answering: {exc}"]
        return not self.last_differences

    def scale_behind_the_apps_back(self) -> None:
        """A colleague scales while the app cannot see: the app must show it once it follows again."""
        current = json.loads(self.dockerd.docker("service", "inspect", "fs-price-model"))[0]
        replicas = current["Spec"]["Mode"]["Replicated"]["Replicas"]
        self.dockerd.docker("service", "scale", "--detach", f"fs-price-model={replicas % 3 + 1}")

    def close(self) -> None:
        threading.excepthook = self._old_hook
        self.fleet.stop()


@pytest.fixture(scope="module")
def engines() -> Iterator[OwnEngines]:
    docker_bin = require_binary("docker")
    dockerd_bin = require_binary("dockerd")
    prom_bin = require_binary("prometheus")
    am_bin = require_binary("prometheus-alertmanager", "alertmanager")
    exporter = SeedExporter({("ml", "fast-model"): [0.015], ("ml", "slow-model"): [0.3] * 9 + [0.8]})
    rules = SEED_RULES.format(window="10s", for_="2s")
    with (
        own_dockerd(ENGINE_CLI if os.path.exists(ENGINE_CLI) else docker_bin, dockerd_bin) as dockerd,
        alertmanager(am_bin) as am,
        exporter.running() as address,
        prometheus(prom_bin, [address], rules=rules, alertmanager_url=am.url) as prom,
    ):
        env = OwnEngines(dockerd, prom, am)
        try:
            yield env
        finally:
            env.close()
            stop_process(prom.process)  # a restarted process is ours too: stopped by its PID
            stop_process(am.process)


def restarted(env: OwnEngines, fault: str, sources: tuple[str, ...], stop: Callable[[], None],
              start: Callable[[], None], change: Callable[[], None] | None = None) -> None:
    """The process behind `sources` is stopped: they are shown stale within 15 s with the age of what they
    show, the others stay connected; it is started again (the same address and data); a colleague's
    change made meanwhile is shown; the Fleet equals the engines again."""
    with measured(env.crashes, fault) as figure:
        stop()
        try:
            each_until(sources, lambda s: env.state(s) is HealthState.STALE, STALE_WITHIN + 10, "stale",
                       figure.stale)
            figure.ages = stale_ages(env.fleet.state, sources)
            for other in set(SOURCES) - set(sources):
                assert env.state(other) is HealthState.CONNECTED, f"{other} was not stopped, yet it is not connected"
        finally:  # started again whatever happened: the next story needs it
            restarting = time.monotonic()
            start()
        if change is not None:
            change()
        started = time.monotonic() - restarting
        each_until(sources, lambda s: env.state(s) is HealthState.CONNECTED, RECOVER_WITHIN, "connected again",
                   figure.recovered)
        # Counted from the restart: the process's own start-up and the colleague's change are in it.
        figure.recovered = {s: v + started for s, v in figure.recovered.items() if v is not None}
        wait(env.all_equal, RECOVER_WITHIN, lambda: f"the Fleet equal to the engines after {fault}: "
                                                    f"{env.last_differences}")
        figure.equal = True
    assert figure.crashes == 0, env.crashes
    assert all(v is not None and v <= STALE_WITHIN for v in figure.stale.values()), figure.stale
    # The age counts from the last good word, not from the moment the app noticed (never 'stale 0s').
    assert all(age is not None and age >= figure.stale[s] - 1.0 for s, age in figure.ages.items()), figure.ages


def test_our_own_dockerd_restarted_by_its_pid_is_stale_within_15_s_and_followed_again(engines):
    restarted(engines, "dockerd restarted (the suite's own, by PID)", (SWARM,), engines.dockerd.stop,
              engines.dockerd.start, engines.scale_behind_the_apps_back)


def test_prometheus_stopped_and_started_again_is_stale_within_15_s_and_followed_again(engines):
    prom = engines.prom
    restarted(engines, "Prometheus stopped and started again", ("prometheus", "prometheus-alerts"),
              lambda: stop_process(prom.process),
              lambda: restart_in_place(prom, lambda: _ready(prom.url)))


def test_alertmanager_stopped_and_started_again_is_stale_within_15_s_and_followed_again(engines):
    am = engines.am
    restarted(engines, "Alertmanager stopped and started again", ("alertmanager",),
              lambda: stop_process(am.process),
              lambda: restart_in_place(am, lambda: _ready(am.url)))


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/-/ready", timeout=1.0) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
