"""Real Prometheus and Alertmanager for integration tests and benchmarks, plus a real
`prometheus_client` exporter with known latency distributions.

Everything binds 127.0.0.1 on a free port, keeps its storage in a temp dir, and is stopped by the
context manager that started it, also on failure. Waits poll with a deadline, never sleep long.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

HOST = "127.0.0.1"

SEED_RULES = """\
groups:
- name: model.performance
  interval: 1s
  rules:
  - alert: HighInferenceLatency
    expr: histogram_quantile(0.95, rate(model_inference_duration_seconds_bucket[{window}])) > 0.5
    for: {for_}
    labels:
      severity: warning
    annotations:
      summary: "Model inference latency is high"
      description: "p95 of {{{{ $labels.service }}}} is {{{{ $value }}}} s"
"""
"""The seed article's alert, with test-sized windows (the article uses [5m] and for: 2m)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    """Poll `check` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # the server may not be up yet
            last_error = exc
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what}"
                + (f" (last error: {last_error})" if last_error else "")
            )
        time.sleep(interval)


def http_json(url: str, method: str = "GET", body: object = None, timeout: float = 5.0) -> object:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen
    workdir: Path
    log: Path

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def _run(name: str, argv: list[str], workdir: Path, url: str, ready_path: str, timeout: float,
         is_ready: Callable[[], bool] | None = None) -> Iterator[Server]:
    """Start the server, wait until it answers `ready_path` (or `is_ready()`), stop it (by PID) after."""
    log = workdir / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir)
    server = Server(name, url, process, workdir, log)
    probe = is_ready or (lambda: _ready(url + ready_path))
    try:
        deadline = time.monotonic() + timeout
        while not probe():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{server.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready after {timeout:g} s:\n{server.tail()}")
            time.sleep(0.1)
        yield server
    finally:
        _stop(process)


@contextlib.contextmanager
def alertmanager(binary: str, *, extra_config: str = "", timeout: float = 20.0) -> Iterator[Server]:
    """A real Alertmanager on 127.0.0.1 with gossip off and a receiver that sends nowhere."""
    workdir = Path(tempfile.mkdtemp(prefix="am-"))
    try:
        port = free_port()
        config = workdir / "alertmanager.yml"
        config.write_text(
            "route:\n  receiver: blackhole\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n"
            "receivers:\n- name: blackhole\n" + extra_config
        )
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address={HOST}:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        with _run("alertmanager", argv, workdir, f"http://{HOST}:{port}", "/-/ready", timeout) as server:
            yield server
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def prometheus(
    binary: str,
    targets: Sequence[str],
    *,
    rules: str = "",
    alertmanager_url: str = "",
    scrape_interval: str = "1s",
    target_labels: Mapping[str, str] | None = None,
    extra_jobs: Sequence[tuple[str, Sequence[str], Mapping[str, str]]] = (),
    external_labels: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Iterator[Server]:
    """A real Prometheus on 127.0.0.1 scraping `targets` ('127.0.0.1:PORT') every `scrape_interval`.

    `target_labels` are added to every scraped series; an exporter label of the same name is then
    renamed `exported_<name>` (honor_labels false), as with dcgm-exporter behind a ServiceMonitor.
    Prometheus' target discovery publishes its first targets about 5 s after start."""
    workdir = Path(tempfile.mkdtemp(prefix="prom-"))
    try:
        port = free_port()
        lines = [
            "global:",
            f"  scrape_interval: {scrape_interval}",
            f"  evaluation_interval: {scrape_interval}",
            f"  scrape_timeout: {scrape_interval}",
        ]
        if external_labels:
            lines += [f"  external_labels: {json.dumps(dict(external_labels))}"]
        if rules:
            (workdir / "rules.yml").write_text(rules)
            lines += ["rule_files:", f"- {workdir / 'rules.yml'}"]
        if alertmanager_url:
            lines += [
                "alerting:",
                "  alertmanagers:",
                "  - static_configs:",
                f"    - targets: ['{alertmanager_url.split('://', 1)[-1]}']",
            ]
        lines += [
            "scrape_configs:",
            "- job_name: models",
            "  static_configs:",
            f"  - targets: {json.dumps(list(targets))}",
        ]
        if target_labels:
            lines += [f"    labels: {json.dumps(dict(target_labels))}"]
        for job, job_targets, labels in extra_jobs:
            lines += [f"- job_name: {job}", "  static_configs:", f"  - targets: {json.dumps(list(job_targets))}"]
            if labels:
                lines += [f"    labels: {json.dumps(dict(labels))}"]
        config = workdir / "prometheus.yml"
        config.write_text("\n".join(lines) + "\n")
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={HOST}:{port}",
            "--log.level=warn",
            "--rules.alert.resend-delay=1s",
        ]
        with _run("prometheus", argv, workdir, f"http://{HOST}:{port}", "/-/ready", timeout) as server:
            yield server
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def scraped(prometheus_url: str, metric: str) -> bool:
    """True once Prometheus holds at least one series of `metric`."""
    body = http_json(f"{prometheus_url}/api/v1/query?query={urllib.request.quote(metric)}")
    return bool(body and body["data"]["result"])


# ---------------------------------------------------------------------------------------------
# Exporters


@contextlib.contextmanager
def serve_registry(registry: CollectorRegistry, *, text_format: bool = False) -> Iterator[str]:
    """Expose `registry` on 127.0.0.1:free port; yields 'host:port'.

    Prometheus asks for OpenMetrics first, and prometheus_client's OpenMetrics output escapes ':'
    in sample names ('vllm:x' is scraped as 'vllm_x'). `text_format=True` ignores the Accept header
    and answers the classic text format, which keeps the colons, as the runtimes' own Go/C++
    exporters (Triton, TF Serving) do."""
    port = free_port()
    if not text_format:
        server, thread = start_http_server(port, addr=HOST, registry=registry)
    else:
        from wsgiref.simple_server import WSGIRequestHandler, make_server

        from prometheus_client import make_wsgi_app

        app = make_wsgi_app(registry)

        def text_only(environ, start_response):
            environ.pop("HTTP_ACCEPT", None)
            return app(environ, start_response)

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args):  # no access log on stderr
                pass

        server = make_server(HOST, port, text_only, handler_class=Quiet)
        thread = threading.Thread(target=server.serve_forever, name="exporter-http", daemon=True)
        thread.start()
    try:
        yield f"{HOST}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class Ticker:
    """Calls `step()` every `period` seconds on a background thread until stopped."""

    def __init__(self, step: Callable[[], None], period: float = 0.1) -> None:
        self._step = step
        self._period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="exporter-ticker", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._step()
            self._stop.wait(self._period)

    def __enter__(self) -> Ticker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


SEED_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class SeedExporter:
    """`model_inference_duration_seconds` (the seed's histogram) for several services, each with
    a fixed cycle of latencies observed on a background thread."""

    services: Mapping[tuple[str, str], Sequence[float]]
    """(namespace, service) → latencies (seconds) observed in a cycle, 10 per tick."""
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.histogram = Histogram(
            "model_inference_duration_seconds",
            "Model inference latency",
            ["namespace", "service"],
            buckets=SEED_BUCKETS,
            registry=self.registry,
        )
        self._cursor = {key: 0 for key in self.services}
        self._lock = threading.Lock()

    def set(self, key: tuple[str, str], values: Sequence[float]) -> None:
        with self._lock:
            self.services = {**self.services, key: values}
            self._cursor.setdefault(key, 0)

    def step(self) -> None:
        with self._lock:
            for key, values in self.services.items():
                child = self.histogram.labels(*key)
                for _ in range(10):
                    i = self._cursor[key]
                    child.observe(values[i % len(values)])
                    self._cursor[key] = i + 1

    @contextlib.contextmanager
    def running(self, period: float = 0.1) -> Iterator[str]:
        with serve_registry(self.registry) as address, Ticker(self.step, period):
            yield address


class ExactNames(Collector):
    """A collector exposing families under exact names (no `_total` added): Triton, TorchServe and
    TF Serving counters carry no suffix. `families` is a callable giving fresh Metrics each scrape."""

    def __init__(self, families: Callable[[], list[Metric]]) -> None:
        self._families = families

    def collect(self):
        yield from self._families()


def counter(name: str, samples: Mapping[tuple[tuple[str, str], ...], float]) -> Metric:
    metric = Metric(name, name, "counter")
    for labels, value in samples.items():
        metric.add_sample(name, dict(labels), value)
    return metric


def histogram(
    name: str, buckets: Sequence[float], samples: Mapping[tuple[tuple[str, str], ...], Sequence[int]], sums: Mapping
) -> Metric:
    """Cumulative bucket counts given per label set (len(buckets) + 1 counts, the last for +Inf)."""
    metric = Metric(name, name, "histogram")
    for labels, counts in samples.items():
        base = dict(labels)
        total = 0
        for bound, count in zip((*buckets, float("inf")), counts, strict=False):
            total += count
            metric.add_sample(name + "_bucket", {**base, "le": _le(bound)}, total)
        metric.add_sample(name + "_count", base, total)
        metric.add_sample(name + "_sum", base, sums[labels])
    return metric


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


def summary(
    name: str, samples: Mapping[tuple[tuple[str, str], ...], Mapping[str, float]], counts: Mapping, sums: Mapping
) -> Metric:
    metric = Metric(name, name, "summary")
    for labels, quantiles in samples.items():
        base = dict(labels)
        for quantile, value in quantiles.items():
            metric.add_sample(name, {**base, "quantile": quantile}, value)
        metric.add_sample(name + "_count", base, counts[labels])
        metric.add_sample(name + "_sum", base, sums[labels])
    return metric


def require_metrics_binaries() -> tuple[str, str]:
    from tests.engines import require_binary

    return require_binary("prometheus"), require_binary("prometheus-alertmanager", "alertmanager")


def env_timeout(default: float) -> float:
    return float(os.environ.get("METRICS_TEST_TIMEOUT", default))


# ---------------------------------------------------------------------------------------------
# Failure doubles and a static cluster


@contextlib.contextmanager
def hanging_port() -> Iterator[str]:
    """A URL whose port accepts TCP connections (kernel backlog) and never answers a byte."""
    sock = socket.socket()
    sock.bind((HOST, 0))
    sock.listen(64)
    try:
        yield f"http://{HOST}:{sock.getsockname()[1]}"
    finally:
        sock.close()


def closed_port_url() -> str:
    """A URL nobody listens on (connection refused)."""
    return f"http://{HOST}:{free_port()}"


class StaticServices:
    """A cluster `Backend` that reports a fixed list of services once: what a Kubernetes backend
    would report, without one."""

    def __init__(self, name: str, services) -> None:
        from mlops_tui.backends.model import ClusterRef, Platform

        self.name = name
        self.cluster = ClusterRef(name, Platform.K8S, "static")
        self.services = tuple(services)

    def start(self, sink) -> None:
        from mlops_tui.backends.base import Change
        from mlops_tui.backends.model import ClusterHealth, HealthState

        sink(
            Change(
                source=self.name,
                services={s.key: s for s in self.services},
                snapshot=True,
                health=ClusterHealth(self.name, self.cluster.platform, HealthState.CONNECTED),
            )
        )

    def stop(self) -> None:
        pass


def model_service(name: str, namespace: str = "ml", cluster: str = "prod"):
    from mlops_tui.backends.model import ActionKind, ModelService, Platform, ServiceKey, ServiceKind

    return ModelService(
        key=ServiceKey(cluster, namespace, ServiceKind.DEPLOYMENT, name),
        platform=Platform.K8S,
        actions=frozenset({ActionKind.SILENCE, ActionKind.EXPIRE_SILENCE}),
    )


# ---------------------------------------------------------------------------------------------
# dcgm-exporter look-alike

DCGM_GPUS = (
    # (host label name, host, gpu, uuid, pod, namespace, util %, FB used MiB, FB free MiB)
    ("Hostname", "gpu-node-1", "0", "GPU-1a2b", "llm-7d9f-abcde", "ml", 87.0, 30512.0, 10448.0),
    ("Hostname", "gpu-node-1", "1", "GPU-3c4d", "", "", 0.0, 0.0, 40960.0),
    ("hostname", "gpu-node-2", "0", "GPU-5e6f", "vision-5c8-xyz", "vision", 42.0, 8000.0, 32960.0),
    ("hostname", "gpu-node-2", "1", "GPU-7a8b", "pvm-6c9-qwert", "ml-prod", 2.0, 1024.0, 39936.0),  # held, idle
)
"""Releases up to 4.8 label the host `Hostname`, master `hostname`: one host of each."""


def dcgm_families() -> list[Metric]:
    families = []
    for metric, index in (("DCGM_FI_DEV_GPU_UTIL", 6), ("DCGM_FI_DEV_FB_USED", 7), ("DCGM_FI_DEV_FB_FREE", 8)):
        family = Metric(metric, metric, "gauge")
        for row in DCGM_GPUS:
            labels = {
                "gpu": row[2],
                "UUID": row[3],
                row[0]: row[1],
                "modelName": "NVIDIA A100-SXM4-40GB",
                "device": f"nvidia{row[2]}",
                "DCGM_FI_DRIVER_VERSION": "550.54.15",
            }
            if row[4]:
                labels.update(pod=row[4], namespace=row[5], container="server")
            family.add_sample(metric, labels, row[index])
        families.append(family)
    return families


# ---------------------------------------------------------------------------------------------
# Every serving stack's metric names, with known latencies and error shares


@dataclass(frozen=True)
class StackSpec:
    """One serving stack as its exporter shows it: exact metric names, native units, labels."""

    preset: str
    service: str
    """The model service the series belong to (a name in the stack's own label)."""
    kind: str
    """'histogram', 'counters' (duration + request counters), 'triton' (counters and summary)."""
    metric: str
    labels: Mapping[str, str]
    latency: float
    """Every request's latency, in the stack's native unit."""
    buckets: Sequence[float] = ()
    ok: int = 5
    err: int = 0
    """Requests per tick that succeed / fail."""
    status_label: str = ""
    status_values: tuple[str, str] = ("", "")
    """(ok value, error value) of the label that tells a failed request, on the counted series."""
    count_metric: str = ""
    """Separate request counter (when the histogram's _count is not the request counter)."""


TFS_BUCKETS = tuple(10 * 1.8**k for k in range(33))
PROM_DEFAULT = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

STACKS: tuple[StackSpec, ...] = (
    StackSpec(
        "generic",
        "gen-svc",
        "histogram",
        "model_inference_duration_seconds",
        {"namespace": "ml", "service": "gen-svc"},
        0.03,
        SEED_BUCKETS,
    ),
    StackSpec(
        "fastapi",
        "fastapi-app",
        "histogram",
        "http_request_duration_highr_seconds",
        {"namespace": "ml", "service": "fastapi-app"},
        0.2,
        (0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 7.5, 10, 30, 60),
        ok=9,
        err=1,
        status_label="status",
        status_values=("2xx", "5xx"),
        count_metric="http_requests_total",
    ),
    StackSpec(
        "kserve",
        "sklearn-iris",
        "histogram",
        "request_predict_seconds",
        {"namespace": "ml", "model_name": "sklearn-iris"},
        0.004,
        PROM_DEFAULT,
    ),
    StackSpec(
        "knative",
        "kn-new",
        "histogram",
        "kn_serving_invocation_duration_seconds",
        {"k8s_namespace_name": "ml", "kn_service_name": "kn-new", "kn_revision_name": "kn-new-00001"},
        0.12,
        PROM_DEFAULT,
        ok=19,
        err=1,
        status_label="http_response_status_code",
        status_values=("200", "503"),
    ),
    StackSpec(
        "knative-legacy",
        "kn-old",
        "histogram",
        "revision_request_latencies",
        {"namespace_name": "ml", "service_name": "kn-old", "revision_name": "kn-old-00003"},
        350.0,
        (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
        ok=4,
        err=1,
        status_label="response_code_class",
        status_values=("2xx", "5xx"),
        count_metric="revision_request_count",
    ),
    StackSpec(
        "triton",
        "resnet50",
        "triton",
        "nv_inference_request_duration_us",
        {"model": "resnet50", "version": "1"},
        25000.0,
        ok=9,
        err=1,
    ),
    StackSpec(
        "torchserve",
        "densenet",
        "counters",
        "ts_inference_latency_microseconds",
        {"model_name": "densenet", "model_version": "default", "hostname": "ts-0"},
        80000.0,
        count_metric="ts_inference_requests_total",
    ),
    StackSpec(
        "tfserving",
        "half-plus-two",
        "histogram",
        ":tensorflow:serving:request_latency",
        {"model_name": "half-plus-two", "API": "predict", "entrypoint": "REST"},
        1500.0,
        TFS_BUCKETS,
        ok=3,
        err=1,
        status_label="status",
        status_values=("OK", "INVALID_ARGUMENT"),
        count_metric=":tensorflow:serving:request_count",
    ),
    StackSpec(
        "vllm",
        "llama-chat",
        "histogram",
        "vllm:e2e_request_latency_seconds",
        {"model_name": "llama-chat", "engine": "0"},
        1.2,
        (
            0.3,
            0.5,
            0.8,
            1.0,
            1.5,
            2.0,
            2.5,
            5.0,
            10.0,
            15.0,
            20.0,
            30.0,
            40.0,
            50.0,
            60.0,
            120.0,
            240.0,
            480.0,
            960.0,
            1920.0,
            7680.0,
        ),
    ),
    StackSpec(
        "bentoml",
        "bento-svc",
        "histogram",
        "bentoml_service_request_duration_seconds",
        {"service_name": "bento-svc", "endpoint": "/classify", "service_version": "abc123"},
        0.06,
        PROM_DEFAULT,
        ok=4,
        err=1,
        status_label="http_response_code",
        status_values=("200", "500"),
    ),
)
TRITON_SUMMARY_US = {"0.5": 20000.0, "0.95": 45000.0}


class StackExporter(Collector):
    """Exposes every `STACKS` entry under its exact names; `step()` adds one tick of requests."""

    def __init__(self, stacks: Sequence[StackSpec] = STACKS, *, dcgm: bool = False) -> None:
        self.stacks = tuple(stacks)
        self.dcgm = dcgm
        self._lock = threading.Lock()
        self._requests = {s.preset: [0, 0] for s in self.stacks}  # ok, err

    def step(self) -> None:
        with self._lock:
            for stack in self.stacks:
                counts = self._requests[stack.preset]
                counts[0] += stack.ok
                counts[1] += stack.err

    def collect(self):
        with self._lock:
            snapshot = {k: tuple(v) for k, v in self._requests.items()}
        for stack in self.stacks:
            ok, err = snapshot[stack.preset]
            yield from self._families(stack, ok, err)
        if self.dcgm:
            yield from dcgm_families()

    def _families(self, stack: StackSpec, ok: int, err: int) -> list[Metric]:
        base = tuple(sorted(stack.labels.items()))
        out: list[Metric] = []
        if stack.kind == "histogram":
            split = bool(stack.status_label) and not stack.count_metric
            groups = (
                {
                    (*base, (stack.status_label, stack.status_values[0])): ok,
                    (*base, (stack.status_label, stack.status_values[1])): err,
                }
                if split
                else {base: ok + err}
            )
            index = next(i for i, b in enumerate((*stack.buckets, float("inf"))) if stack.latency <= b)
            samples = {}
            sums = {}
            for labels, n in groups.items():
                counts = [0] * (len(stack.buckets) + 1)
                counts[index] = n
                samples[tuple(sorted(labels))] = counts
                sums[tuple(sorted(labels))] = n * stack.latency
            out.append(histogram(stack.metric, stack.buckets, samples, sums))
            if stack.count_metric:
                if stack.status_label:
                    out.append(
                        counter(
                            stack.count_metric,
                            {
                                tuple(sorted((*base, (stack.status_label, stack.status_values[0])))): ok,
                                tuple(sorted((*base, (stack.status_label, stack.status_values[1])))): err,
                            },
                        )
                    )
                else:
                    out.append(counter(stack.count_metric, {base: ok + err}))
        elif stack.kind == "counters":
            out.append(counter(stack.metric, {base: (ok + err) * stack.latency}))
            out.append(counter(stack.count_metric, {base: ok + err}))
        elif stack.kind == "triton":
            out.append(counter(stack.metric, {base: (ok + err) * stack.latency}))
            out.append(counter("nv_inference_request_success", {base: ok}))
            out.append(counter("nv_inference_request_failure", {base: err}))
            out.append(counter("nv_inference_count", {base: ok + err}))
            out.append(
                summary(
                    "nv_inference_request_summary_us",
                    {base: TRITON_SUMMARY_US},
                    {base: ok + err},
                    {base: (ok + err) * TRITON_SUMMARY_US["0.5"]},
                )
            )
        return out

    @contextlib.contextmanager
    def running(self, period: float = 0.1, *, text_format: bool = True) -> Iterator[str]:
        registry = CollectorRegistry()
        registry.register(self)
        with serve_registry(registry, text_format=text_format) as address, Ticker(self.step, period):
            yield address
