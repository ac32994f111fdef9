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
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))
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
def _run(name: str, argv: list[str], workdir: Path, url: str, ready_path: str, timeout: float) -> Iterator[Server]:
    log = workdir / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir)
    server = Server(name, url, process, workdir, log)
    try:
        deadline = time.monotonic() + timeout
        while not _ready(url + ready_path):
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
        lines += ["scrape_configs:", "- job_name: models", "  static_configs:", f"  - targets: {json.dumps(list(targets))}"]
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
def serve_registry(registry: CollectorRegistry) -> Iterator[str]:
    """Expose `registry` on 127.0.0.1:free port; yields 'host:port'."""
    port = free_port()
    server, thread = start_http_server(port, addr=HOST, registry=registry)
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


def histogram(name: str, buckets: Sequence[float], samples: Mapping[tuple[tuple[str, str], ...], Sequence[int]], sums: Mapping) -> Metric:
    """Cumulative bucket counts given per label set (len(buckets) + 1 counts, the last for +Inf)."""
    metric = Metric(name, name, "histogram")
    for labels, counts in samples.items():
        base = dict(labels)
        total = 0
        for bound, count in zip((*buckets, float("inf")), counts):
            total += count
            metric.add_sample(name + "_bucket", {**base, "le": _le(bound)}, total)
        metric.add_sample(name + "_count", base, total)
        metric.add_sample(name + "_sum", base, sums[labels])
    return metric


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


def summary(name: str, samples: Mapping[tuple[tuple[str, str], ...], Mapping[str, float]], counts: Mapping, sums: Mapping) -> Metric:
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
