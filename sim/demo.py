"""Everything `mlops-tui --demo` needs, in-process: Kubernetes sim clusters (kubeconfig in a temp
dir), a Swarm, Prometheus and Alertmanager sims, and the incident scenario driving them.

    env = start_demo(seed=0, scale=1, clusters=1, time_scale=1.0)
    env.kubeconfig, env.contexts, env.docker_host, env.prometheus_url, env.alertmanager_url
    env.stop()

`scale` <= 1 starts the demo fleets (seed article); a larger `scale` starts the "scaled" fleets
with `scale` services per Kubernetes cluster and per Swarm, for benchmarks.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

from mlops_tui.sim.alertmanager import SimAlertmanager
from mlops_tui.sim.docker import SimSwarm
from mlops_tui.sim.prometheus import SimPrometheus, seed_rule
from mlops_tui.sim.scenario import Scenario

log = logging.getLogger(__name__)

SAMPLE_BUDGET = 1_500_000
"""Samples written before the first frame (history backfill), whatever the fleet's size."""


def cluster_names(n: int) -> list[str]:
    return ["demo-prod" if i == 0 else f"demo-{i + 1}" for i in range(n)]


@dataclass
class DemoEnvironment:
    kubeconfig: str | None
    contexts: list[str]
    docker_host: str
    prometheus_url: str
    alertmanager_url: str
    clusters: list[Any] = field(default_factory=list)
    swarm: SimSwarm | None = None
    prometheus: SimPrometheus | None = None
    alertmanager: SimAlertmanager | None = None
    scenario: Scenario | None = None
    tmpdir: str | None = None
    notes: list[str] = field(default_factory=list)
    """What could not be started (e.g. the Kubernetes simulator missing), for the demo banner."""

    def env(self) -> dict[str, str]:
        out = {"DOCKER_HOST": self.docker_host, "PROMETHEUS_URL": self.prometheus_url,
               "ALERTMANAGER_URL": self.alertmanager_url}
        if self.kubeconfig:
            out["KUBECONFIG"] = self.kubeconfig
        return out

    def write_env(self, path: str | os.PathLike[str]) -> str:
        """`KEY=value` lines (the endpoints.env format `python -m mlops_tui.sim --out DIR` writes)."""
        with open(path, "w") as f:
            for key in ("DOCKER_HOST", "PROMETHEUS_URL", "ALERTMANAGER_URL"):
                f.write(f"{key}={self.env()[key]}\n")
        return os.fspath(path)

    def stop(self) -> None:
        for part in (self.scenario, self.prometheus, self.alertmanager, self.swarm, *self.clusters):
            if part is None:
                continue
            try:
                part.stop()
            except Exception:
                log.exception("stopping %r failed", part)
        self.clusters = []
        self.scenario = self.prometheus = self.alertmanager = self.swarm = None
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def __enter__(self) -> DemoEnvironment:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_engines(*, seed: int = 0, scale: int = 1, time_scale: float = 1.0, clusters: list[Any] | None = None,
                  cluster_labels: list[str] | None = None, swarm: bool = True) -> DemoEnvironment:
    """The Swarm, Prometheus and Alertmanager sims and the scenario, driving `clusters` (already
    running Kubernetes sims, may be empty). Used by `start_demo` and by `python -m mlops_tui.sim`."""
    clusters = list(clusters or [])
    labels = cluster_labels or [getattr(c, "name", f"cluster-{i + 1}") for i, c in enumerate(clusters)]
    env = DemoEnvironment(kubeconfig=None, contexts=[], docker_host="", prometheus_url="", alertmanager_url="",
                          clusters=[])
    try:
        if swarm:
            fleet = "demo" if scale <= 1 else "scaled"
            env.swarm = SimSwarm.start(seed=seed, fleet=fleet, services=max(int(scale), 0))
            env.docker_host = env.swarm.url
        env.alertmanager = SimAlertmanager.start()
        env.alertmanager_url = env.alertmanager.url
        interval = max(0.25, min(5.0, 15.0 / time_scale))
        env.prometheus = SimPrometheus.start(eval_interval=interval, notify=env.alertmanager.receive,
                                             evaluate_rules=False)
        env.prometheus_url = env.prometheus.url
        scenario = Scenario(seed=seed, time_scale=time_scale, prometheus=env.prometheus, swarm=env.swarm,
                            kube=clusters, kube_names=labels, scrape_interval=interval)
        per_scrape = max(1, sum(len(s.labels) for s in scenario.services) * 2 + 20 * len(scenario.services))
        scenario.backfill = min(900.0, max(12, SAMPLE_BUDGET // per_scrape) * interval)
        env.prometheus.rules.rules.append(seed_rule(window=scenario.rule_window(), for_seconds=scenario.rule_for()))
        env.scenario = scenario.start()
        env.prometheus.rules.start()
        return env
    except BaseException:
        env.stop()
        raise


def start_demo(seed: int = 0, scale: int = 1, clusters: int = 1, time_scale: float = 1.0) -> DemoEnvironment:
    """Start every simulated engine in-process; the caller must `stop()` the result."""
    tmpdir = tempfile.mkdtemp(prefix="mlops-tui-demo-")
    started: list[Any] = []
    notes: list[str] = []
    kubeconfig: str | None = None
    try:
        try:
            from mlops_tui.sim.kube.cluster import SimKubeCluster, write_kubeconfig
        except ImportError as e:
            notes.append(f"Kubernetes simulator unavailable ({e}); Swarm only")
        else:
            if clusters > 0:
                for i, name in enumerate(cluster_names(clusters)):
                    if scale <= 1:
                        started.append(SimKubeCluster.start(name=name, seed=seed + i, fleet="demo"))
                    else:
                        started.append(SimKubeCluster.start(name=name, seed=seed + i, fleet="scaled",
                                                            services=int(scale)))
                kubeconfig = write_kubeconfig(os.path.join(tmpdir, "kubeconfig"), started)
        env = start_engines(seed=seed, scale=scale, time_scale=time_scale, clusters=started,
                            cluster_labels=[c.name for c in started])
    except BaseException:
        for c in started:
            c.stop()
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    env.clusters = started
    env.kubeconfig = kubeconfig
    env.contexts = [c.name for c in started]
    env.tmpdir = tmpdir
    env.notes = notes
    return env


class EnginesStarter:
    """`python -m mlops_tui.sim` starter for the Swarm, Prometheus and Alertmanager sims and the scenario:
    writes DIR/endpoints.env (DOCKER_HOST=, PROMETHEUS_URL=, ALERTMANAGER_URL=). The scenario drives
    the Kubernetes clusters the `kube` starter started (its `clusters`), when it has any."""

    name = "engines"

    def __init__(self, kube: Any = None) -> None:
        self.kube = kube

    def add_arguments(self, parser: Any) -> None:
        group = parser.add_argument_group("swarm, prometheus, alertmanager")
        group.add_argument("--time-scale", type=float, default=1.0,
                           help="story seconds per wall second for the incident scenario (default 1)")
        group.add_argument("--swarm-services", type=int, default=None,
                           help="services in a scaled Swarm fleet (default: the demo fleet, or --services)")

    def start(self, args: Any, out: Any) -> list[Any]:
        clusters = list(getattr(self.kube, "clusters", None) or [])
        scale = args.swarm_services or getattr(args, "services", None) or 1
        env = start_engines(seed=args.seed, scale=scale, time_scale=args.time_scale, clusters=clusters,
                            cluster_labels=[c.name for c in clusters])
        env.write_env(os.path.join(os.fspath(out), "endpoints.env"))
        return [env]
