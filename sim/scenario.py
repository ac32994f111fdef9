"""The demo's incident story: a seeded timeline driven across the simulated engines.

Story time runs `time_scale` times faster than the wall clock. What happens (story seconds,
each moved by up to ±8 % by the seed, never out of order; the canaries' alert fires before the GPU
node is lost for every seed, so an operator reads the incident in the order it is told here):

    before 0   an Istio/Swarm canary `rent-predictor-canary` is already slow: HighInferenceLatency fires
    ~30        canaries start: Argo Rollout `ensemble-predictor`, KServe `property-price-predictor`
    ~60        both canaries' p95 regresses (0.25 s → ~1 s): HighInferenceLatency pending, firing 2 m later
    ~255       GPU node `gpu-node-2` goes NotReady (its pods go Pending, its DCGM series stop)
    ~305       Swarm `proptech-ml_model-api` update to rent-prediction:v1.2 fails: the update pauses
    ~360       Swarm `llm-embedder` update asks 4 GPUs per task (nodes have 2): new tasks stay Pending
    ~420       traffic surge on `property-valuation-model`: its HPA scales up (CPU 92 %)
    ~720       the surge ends (CPU 45 %)

Throughout, the GPUs `llm-reranker`'s running pods hold stay idle (`IDLE_GPU_HOLDERS`) while its
other replicas wait for GPUs.
Throughout, the KServe canary's revision receives 3 % of its service's requests whatever its set
weight (the set-versus-actual mismatch); the other canaries receive their set share.

Traffic follows waves (a 5-minute sine per service plus seeded noise). Metrics are written as
Prometheus would scrape them: cumulative counters for histogram buckets, `_sum`, `_count` and
request totals, DCGM gauges per GPU. `timeline(seed)` is pure; `Scenario.advance()` steps a fake
clock for tests, `Scenario.start()` runs a thread on the wall clock for the demo.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlops_tui.sim.prometheus.series import Labels, labels_of

log = logging.getLogger(__name__)

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""prometheus_client's default histogram buckets (seconds)."""
VLLM_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0)
SIGMA = 0.45
"""Log-normal spread of latencies: p95 ≈ 2.1 × median."""

BASE_EVENTS: tuple[tuple[float, str, str], ...] = (
    (30.0, "canary_start", "ensemble-predictor,property-price-predictor"),
    (60.0, "latency_regression", "ensemble-predictor,property-price-predictor"),
    (255.0, "gpu_node_lost", "gpu-node-2"),
    (305.0, "swarm_update_fails", "proptech-ml_model-api"),
    (360.0, "swarm_update_pending", "llm-embedder"),
    (420.0, "load_surge", "property-valuation-model"),
    (720.0, "load_normal", "property-valuation-model"),
)
ALREADY_SLOW = ("rent-predictor-canary",)
"""Slow from the start (median 0.45 s): its logs print the slow answers on both engines."""
DEMO_WORKLOADS: tuple[tuple[str, str, str], ...] = (
    ("ml-prod", "ensemble-predictor", ""), ("ml-prod", "ml-model-service", ""),
    ("ml-prod", "property-price-predictor", "kserve"), ("ml-prod", "property-valuation-model", ""),
    ("ml-prod", "rent-predictor-canary", ""), ("ml-prod", "rent-predictor-stable", ""),
)
"""The Kubernetes simulator's documented demo fleet (namespace ml-prod), used when a cluster's
store cannot be read (or no cluster object is given)."""
DEMO_GPU_NODES: list[dict[str, Any]] = [
    {"metadata": {"name": f"gpu-node-{i}"}, "status": {"capacity": {"nvidia.com/gpu": "2"}}} for i in (1, 2, 3)]
DEMO_GPU_PODS: list[dict[str, Any]] = [
    {"metadata": {"name": f"property-valuation-model-{i}", "namespace": "ml-prod"},
     "spec": {"nodeName": f"gpu-node-{i}", "containers": [{"resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}
    for i in (1, 2, 3)]
IDLE_GPU_HOLDERS = ("llm-reranker-",)
"""Pods whose GPUs stay idle (under 3 %) for the whole story: the demo's GPUs held but idle, found
by an operator whose GPU service is Pending (llm-reranker's own other replicas, and after the GPU
node is lost, property-valuation-model's)."""
CANARY_SHARES = {"ensemble-predictor": 0.20, "property-price-predictor": 0.03}
"""Share of its service's requests the `track="canary"` series serve: the Argo canary gets its set
20 %; the KServe canary (set 10 %, then 20 %) gets 3 %: its new revision is not receiving its traffic,
the demo's set-versus-actual mismatch (`20→3!` on its row)."""
RULE_WINDOW = 300.0
RULE_FOR = 120.0
THRESHOLD = 0.5


@dataclass(frozen=True)
class Event:
    at: float
    """Story seconds after the scenario starts."""
    kind: str
    target: str


def timeline(seed: int) -> list[Event]:
    """The story's events for `seed`: same seed, same times."""
    rng = random.Random(seed)
    events = [Event(round(at * (1 + rng.uniform(-0.08, 0.08)), 1), kind, target) for at, kind, target in BASE_EVENTS]
    return sorted(events, key=lambda e: e.at)


def expected_fire_time(seed: int) -> float:
    """Story time by which the regressed canaries' HighInferenceLatency is firing: the regression,
    the time the 5 m window needs to hold enough slow requests for its p95 to pass 0.5 s (about
    14 % of the window: a regressed canary answers ~46 % of requests above 0.5 s), then `for: 2m`."""
    regression = next(e.at for e in timeline(seed) if e.kind == "latency_regression")
    return regression + 0.14 * RULE_WINDOW + RULE_FOR


def _noise(seed: int, key: str, i: int) -> float:
    """Deterministic noise in [-1, 1) for (seed, series, scrape index)."""
    h = zlib.crc32(f"{seed}|{key}|{i}".encode())
    return (h / 2**31) - 1.0


def _cdf(le: float, median: float, sigma: float = SIGMA) -> float:
    return 0.5 * (1.0 + math.erf(math.log(le / median) / (sigma * math.sqrt(2.0))))


@dataclass
class MetricService:
    """One thing that serves requests and exports latency: a Kubernetes workload (per track) or
    a Swarm service."""

    name: str
    labels: dict[str, str]
    rps: float
    median: float
    native: str = ""
    """'kserve' or 'vllm' to also export that runtime's own histogram."""
    phase: float = 0.0
    median_now: float = 0.0
    rps_now: float = 0.0
    counters: dict[Labels, float] = field(default_factory=dict)
    keys: dict[str, Any] = field(default_factory=dict)
    """Label sets per exported family, built once (they never change)."""


class Scenario:
    def __init__(self, *, seed: int = 0, time_scale: float = 1.0, prometheus: Any = None, swarm: Any = None,
                 kube: list[Any] | None = None, kube_names: list[str] | None = None,
                 scrape_interval: float | None = None, backfill: float = 900.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.seed = seed
        self.time_scale = float(time_scale)
        self.prom = prometheus
        self.swarm = swarm
        self.kube = list(kube or [])
        self.kube_names = list(kube_names or [f"cluster-{i + 1}" for i in range(len(self.kube))])
        """Cluster names for the `cluster` label; a name without a cluster object still gets the
        documented demo fleet's series (metrics-only, e.g. in tests)."""
        self.scrape_interval = scrape_interval or max(0.25, min(5.0, 15.0 / self.time_scale))
        self.backfill = backfill
        self.clock = clock
        self.events = timeline(seed)
        self.done: list[tuple[float, Event]] = []
        self.t0 = clock()
        self.state: dict[str, Any] = {"canary": False, "regressed": False, "surge": False, "lost_nodes": set()}
        # The slow canary's request logs say what its latency series says (both engines' demos run one).
        if swarm is not None and hasattr(swarm, "slow_services"):
            swarm.slow_services = set(ALREADY_SLOW)
        for cluster in self.kube[:1]:
            if hasattr(cluster, "api"):
                cluster.api.slow_services = set(ALREADY_SLOW)
        self.services = self._services()
        self.gpus = self._gpus()
        self._i = 0
        self._last: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lock = threading.Lock()

    # --- rule scaled to story time -----------------------------------------------------------
    def rule_window(self) -> str:
        """The rule's range in PromQL's duration syntax, which has no fractions ('37500ms', not '37.5s')."""
        millis = round(max(RULE_WINDOW / self.time_scale, 4 * self.scrape_interval) * 1000)
        return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"

    def rule_for(self) -> float:
        return RULE_FOR / self.time_scale

    def story_time(self, wall: float | None = None) -> float:
        return ((self.clock() if wall is None else wall) - self.t0) * self.time_scale

    # --- who exports what ---------------------------------------------------------------------
    def _services(self) -> list[MetricService]:
        rng = random.Random(self.seed * 7919 + 1)
        out: list[MetricService] = []
        for k, name in enumerate(self.kube_names):
            cluster = self.kube[k] if k < len(self.kube) else None
            for ns, svc, native in self._kube_workloads(cluster) or DEMO_WORKLOADS:
                base = {"cluster": name, "namespace": ns, "service": svc, "job": "ml-models"}
                has_canary = svc in ("ensemble-predictor", "property-price-predictor")
                tracks = ["stable", "canary"] if has_canary else ["stable"]
                for track in tracks:
                    rps = rng.uniform(8, 40) * (0.2 if track == "canary" else 1.0)
                    median = 0.45 if svc in ALREADY_SLOW else rng.uniform(0.04, 0.11)
                    labels = {**base, "track": track} if len(tracks) > 1 else base
                    out.append(MetricService(svc, labels, rps, median, native, phase=rng.uniform(0, 2 * math.pi)))
        if self.swarm is not None:
            for s in self.swarm.services():
                spec = s["Spec"]
                if spec["Name"].endswith("load-balancer"):
                    continue
                labels = {"swarm_service": spec["Name"], "job": "swarm-models"}
                stack = spec.get("Labels", {}).get("com.docker.stack.namespace")
                if stack:
                    labels["stack"] = stack
                median = 0.45 if spec["Name"] in ALREADY_SLOW else rng.uniform(0.03, 0.1)
                out.append(MetricService(spec["Name"], labels, rng.uniform(5, 30), median,
                                         "vllm" if spec["Name"] == "llm-embedder" else "",
                                         phase=rng.uniform(0, 2 * math.pi)))
        self._share_traffic(out)
        return out

    def _share_traffic(self, services: list[MetricService]) -> None:
        """Each canary serves its share of its service's requests, in step with its stable's waves
        (same phase), so the actual share reads steady: `CANARY_SHARES` for the one-workload canaries,
        the VirtualService's 10 % for the Istio pair, the task split for the Swarm pair."""
        stable = {(m.labels.get("cluster"), m.name): m for m in services
                  if m.labels.get("track", "stable") == "stable" and "swarm_service" not in m.labels}
        swarm = {m.name: m for m in services if "swarm_service" in m.labels}
        for m in services:
            if m.labels.get("track") == "canary" and (m.labels.get("cluster"), m.name) in stable:
                share, base = CANARY_SHARES.get(m.name, 0.2), stable[(m.labels.get("cluster"), m.name)]
            elif m.name == "rent-predictor-canary" and (m.labels.get("cluster"), "rent-predictor-stable") in stable:
                share, base = 0.1, stable[(m.labels.get("cluster"), "rent-predictor-stable")]
            elif m.name in swarm and self.swarm is not None:
                pair = _swarm_pair(self.swarm.services(), m.name)
                if pair is None or pair[0] not in swarm:
                    continue
                share, base = pair[1], swarm[pair[0]]
            else:
                continue
            m.rps, m.phase = base.rps * share / (1.0 - share), base.phase

    @staticmethod
    def _kube_workloads(cluster: Any) -> list[tuple[str, str, str]]:
        """(namespace, name, native runtime) of the cluster's model workloads, from its store."""
        found: list[tuple[str, str, str]] = []
        store = getattr(cluster, "store", None)
        if store is None:
            return found
        for resource, native in (("deployments", ""), ("rollouts", ""), ("inferenceservices", "kserve")):
            try:
                objs = store.list(resource)
            except Exception:
                continue
            for obj in objs:
                meta = obj.get("metadata", {})
                ns, name = meta.get("namespace", ""), meta.get("name", "")
                if ns.startswith("kube-") or (resource == "deployments" and _owned(obj)):
                    continue
                found.append((ns, name, native))
        names = {n for _, n, _ in found}
        # the blue-green pair serves as one Service
        pair = ("ml-model-v2-0", "ml-model-v2-1")
        if set(pair) <= names:
            found = [f for f in found if f[1] not in pair] + [("ml-prod", "ml-model-service", "")]
        return sorted(found)

    def _gpus(self) -> list[dict[str, str]]:
        """One DCGM series set per GPU: Kubernetes GPU nodes (from the store) and Swarm GPUs."""
        rng = random.Random(self.seed * 31 + 5)
        gpus: list[dict[str, str]] = []
        for k, cname in enumerate(self.kube_names):
            store = getattr(self.kube[k], "store", None) if k < len(self.kube) else None
            try:
                nodes = store.list("nodes") if store is not None else []
                pods = store.list("pods") if store is not None else []
            except Exception:
                nodes, pods = [], []
            if not nodes:
                nodes, pods = DEMO_GPU_NODES, DEMO_GPU_PODS
            on_node: dict[str, list[dict[str, Any]]] = {}
            for p in pods:
                spec = p.get("spec", {})
                # dcgm-exporter labels each GPU with the pod it is assigned to: a pod holding 4 GPUs
                # labels 4 of them.
                held = sum(int((c.get("resources", {}).get("limits") or {}).get("nvidia.com/gpu", 0) or 0)
                           for c in spec.get("containers", []))
                if spec.get("nodeName") and held:
                    on_node.setdefault(spec["nodeName"], []).extend([p] * held)
            for node in nodes:
                cap = node.get("status", {}).get("capacity", {})
                count = int(cap.get("nvidia.com/gpu", 0) or 0)
                host = node["metadata"]["name"]
                users = on_node.get(host, [])
                for g in range(count):
                    pod = users[g] if g < len(users) else None
                    gpus.append({"gpu": str(g), "UUID": _uuid(rng), "Hostname": host,
                                 "modelName": "NVIDIA A100-SXM4-40GB",
                                 "exported_pod": pod["metadata"]["name"] if pod else "",
                                 "exported_namespace": pod["metadata"]["namespace"] if pod else "",
                                 "cluster": cname})
        if self.swarm is not None:
            for node in self.swarm.nodes():
                host = node["Description"]["Hostname"]
                generic = node["Description"]["Resources"].get("GenericResources", [])
                named = [r["NamedResourceSpec"]["Value"] for r in generic if "NamedResourceSpec" in r]
                for g, uuid in enumerate(named):
                    gpus.append({"gpu": str(g), "UUID": uuid, "Hostname": host, "modelName": "NVIDIA L4"})
        return [{k: v for k, v in g.items() if v} for g in gpus]  # DCGM leaves out empty labels

    # --- the story's effect on the series -------------------------------------------------------
    def _current(self, svc: MetricService, story: float, i: int) -> tuple[float, float]:
        wave = 1.0 + 0.3 * math.sin(2 * math.pi * story / 300.0 + svc.phase)
        rps = svc.rps * wave * (1.0 + 0.08 * _noise(self.seed, svc.name + svc.labels.get("track", ""), i))
        median = svc.median * (1.0 + 0.05 * _noise(self.seed + 1, svc.name, i))
        if svc.labels.get("track") == "canary" and self.state["regressed"] and svc.name in self.state["regressed"]:
            median = 0.48
        if self.state["surge"] and svc.name == self.state["surge"]:
            rps *= 2.5
            median *= 1.6
        return max(rps, 0.0), median

    def _scrape(self, wall: float, dt: float) -> None:
        story = self.story_time(wall)
        i = self._i
        samples: list[tuple[Labels, float]] = []
        for svc in self.services:
            rps, median = self._current(svc, story, i)
            svc.rps_now, svc.median_now = rps, median
            n = rps * dt
            errors = n * (0.02 if median > 0.3 else 0.002)
            self._histogram(svc, "model_inference_duration_seconds", svc.labels, BUCKETS, n, median, samples)
            if svc.native == "kserve":
                labels = {k: v for k, v in svc.labels.items() if k in ("namespace", "cluster", "track")}
                labels["model_name"] = svc.name
                self._histogram(svc, "request_predict_seconds", labels, BUCKETS, n, median * 0.8, samples)
            if svc.native == "vllm":
                labels = {"model_name": svc.name, "engine": "0", "swarm_service": svc.name}
                self._histogram(svc, "vllm:e2e_request_latency_seconds", labels, VLLM_BUCKETS, n * 0.2, median * 12,
                                samples)
            http = svc.keys.get("http")
            if http is None:
                http = svc.keys["http"] = [labels_of("http_requests_total", **svc.labels, handler="/predict",
                                                     method="POST", status=status) for status in ("2xx", "5xx")]
            for key, amount in zip(http, (n - errors, errors), strict=True):  # 2xx, 5xx
                value = svc.counters[key] = svc.counters.get(key, 0.0) + amount
                samples.append((key, value))
        for g in self.gpus:
            if g["Hostname"] in self.state["lost_nodes"]:
                continue
            wave = 25.0 * math.sin(2 * math.pi * story / 240.0 + int(g["gpu"]))
            busy = 35.0 + wave + 10 * _noise(self.seed, g["UUID"], i)
            if self.state["surge"] and g.get("exported_pod", "").startswith(str(self.state["surge"])):
                busy += 30
            if g.get("exported_pod", "").startswith(IDLE_GPU_HOLDERS):
                busy = 1.5 + 1.5 * _noise(self.seed, g["UUID"], i)
            util = float(min(100, max(0, round(busy))))
            used = round(12000 + 200 * util)
            samples.append((labels_of("DCGM_FI_DEV_GPU_UTIL", **g), util))
            samples.append((labels_of("DCGM_FI_DEV_FB_USED", **g), float(used)))
            samples.append((labels_of("DCGM_FI_DEV_FB_FREE", **g), float(40960 - used)))
        self.prom.store.append(wall, samples)
        self._i += 1

    @staticmethod
    def _histogram(svc: MetricService, name: str, labels: dict[str, str], buckets: tuple[float, ...], n: float,
                   median: float, samples: list[tuple[Labels, float]]) -> None:
        keys = svc.keys.get(name)
        if keys is None:
            keys = svc.keys[name] = (
                [labels_of(name + "_bucket", **labels, le=f"{le:g}") for le in buckets],
                labels_of(name + "_bucket", **labels, le="+Inf"), labels_of(name + "_count", **labels),
                labels_of(name + "_sum", **labels))
        bucket_keys, inf_key, count_key, sum_key = keys
        c = svc.counters
        for le, key in zip(buckets, bucket_keys, strict=True):
            value = c[key] = c.get(key, 0.0) + n * _cdf(le, median)
            samples.append((key, value))
        for key, add in ((inf_key, n), (count_key, n), (sum_key, n * median * math.exp(SIGMA**2 / 2))):
            value = c[key] = c.get(key, 0.0) + add
            samples.append((key, value))

    # --- events on the engines ------------------------------------------------------------------
    def _apply(self, event: Event, wall: float) -> None:
        self.done.append((self.story_time(wall), event))
        targets = event.target.split(",")
        try:
            if event.kind == "canary_start":
                self.state["canary"] = True
                self._kube_patch("inferenceservices", "ml-prod", "property-price-predictor",
                                 {"spec": {"predictor": {"canaryTrafficPercent": 20}}})
            elif event.kind == "latency_regression":
                self.state["regressed"] = set(targets)
                for cluster in self.kube[:1]:
                    cluster.api.slow_services = {*ALREADY_SLOW, *targets}  # their request logs show the slow answers
            elif event.kind == "gpu_node_lost":
                self.state["lost_nodes"].add(event.target)
                if self.kube:
                    self.kube[0].set_node_ready(event.target, False)
            elif event.kind == "swarm_update_fails" and self.swarm is not None:
                self.swarm.fail_update(event.target)
                self.swarm.update_service(event.target, _set_image("proptechusa/rent-prediction:v1.2"))
            elif event.kind == "swarm_update_pending" and self.swarm is not None:
                self.swarm.update_service(event.target, _gpu_update("proptechusa/embedder:v1.1", 4))
            elif event.kind == "load_surge":
                self.state["surge"] = event.target
                if self.kube:
                    self.kube[0].set_load("ml-prod", event.target, 92)
            elif event.kind == "load_normal":
                self.state["surge"] = False
                if self.kube:
                    self.kube[0].set_load("ml-prod", event.target, 45)
        except Exception as e:
            log.warning("scenario event %s on %s failed: %s", event.kind, event.target, e)

    def _kube_patch(self, resource: str, ns: str, name: str, patch: dict[str, Any]) -> None:
        for cluster in self.kube[:1]:
            try:
                cluster.store.patch(resource, ns, name, patch)
            except Exception as e:
                log.info("scenario: cannot patch %s %s/%s: %s", resource, ns, name, e)

    # --- running --------------------------------------------------------------------------------
    def _prefill(self) -> None:
        """History before the start, so rates, sparklines and the already-firing alert exist at once.
        Rules are evaluated twice over it (once `for` before the start, once at the start), which is
        all an alert needs to be firing at the first frame."""
        steps = int(self.backfill / self.scrape_interval)
        start = self.t0 - steps * self.scrape_interval
        window = max(RULE_WINDOW / self.time_scale, 4 * self.scrape_interval)
        first_eval = max(start + window, self.t0 - self.rule_for() - 2 * self.prom.rules.interval)
        evaluated = False
        for k in range(steps):
            wall = start + k * self.scrape_interval
            self._scrape(wall, self.scrape_interval)
            if not evaluated and wall >= first_eval:
                self.prom.rules.evaluate(wall)
                evaluated = True
        self._last = start + (steps - 1) * self.scrape_interval if steps else None
        if self._last is not None:
            self.prom.rules.evaluate(self._last)

    def step(self, wall: float) -> None:
        """Everything due up to `wall`: events, then scrapes every scrape interval."""
        with self.lock:
            story = self.story_time(wall)
            while self.events and self.events[0].at <= story:
                self._apply(self.events.pop(0), wall)
            if self._last is None or wall - self._last >= self.scrape_interval * 0.999:
                dt = self.scrape_interval if self._last is None else wall - self._last
                self._scrape(wall, dt)
                self._last = wall

    def advance(self, wall_seconds: float, on_eval: Callable[[float], None] | None = None) -> None:
        """Tests: move a fake clock (the one given as `clock`) forward, scraping and evaluating
        rules as the threads would. The clock must be settable: `clock.t`."""
        end = self.clock() + wall_seconds
        eval_every = self.prom.rules.interval
        next_eval = self.clock()
        while self.clock() < end - 1e-9:
            self.clock.t = min(end, self.clock.t + min(self.scrape_interval, eval_every))  # type: ignore[attr-defined]
            now = self.clock()
            self.step(now)
            if now >= next_eval - 1e-9:
                self.prom.rules.evaluate(now)
                if on_eval:
                    on_eval(now)
                next_eval = now + eval_every

    def prefill(self) -> None:
        with self.lock:
            self.t0 = self.clock()  # the story starts now, whatever setting up the engines took
            self._prefill()

    def start(self) -> Scenario:
        self.prefill()
        self._thread = threading.Thread(target=self._run, name="sim-scenario", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.scrape_interval):
            try:
                self.step(self.clock())
            except Exception:
                log.exception("scenario step failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _swarm_pair(services: list[dict[str, Any]], name: str) -> tuple[str, float] | None:
    """(stable's name, the canary's share by task count) of a Swarm canary labelled
    `mlops.canary-of`; None for any other service."""
    specs = {s["Spec"]["Name"]: s["Spec"] for s in services}
    stable = specs.get(name, {}).get("Labels", {}).get("mlops.canary-of")
    if stable not in specs:
        return None

    def replicas(spec: dict[str, Any]) -> int:
        return int(spec.get("Mode", {}).get("Replicated", {}).get("Replicas", 0) or 0)

    total = replicas(specs[stable]) + replicas(specs[name])
    return (stable, replicas(specs[name]) / total) if total and replicas(specs[stable]) else None


def _owned(obj: dict[str, Any]) -> bool:
    return bool(obj.get("metadata", {}).get("ownerReferences"))


def _uuid(rng: random.Random) -> str:
    h = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    return f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _set_image(image: str) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        spec["TaskTemplate"]["ContainerSpec"]["Image"] = image
    return mutate


def _gpu_update(image: str, gpus: int) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        spec["TaskTemplate"]["ContainerSpec"]["Image"] = image
        res = spec["TaskTemplate"].setdefault("Resources", {}).setdefault("Reservations", {})
        res["GenericResources"] = [{"DiscreteResourceSpec": {"Kind": "NVIDIA-GPU", "Value": gpus}}]
    return mutate
