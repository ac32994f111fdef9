"""Latency refresh for a big fleet: a constant number of HTTP requests, timed against curl.

Starts a real Prometheus (Debian's) on 127.0.0.1 scraping a real prometheus_client exporter with
N services' `model_inference_duration_seconds` histograms (the seed's metric), waits until
Prometheus holds --history seconds of data for all of them, then in the same run measures:

  curl      one `curl` (Debian's, via subprocess) of the fleet-wide p95 range query (best of --runs)
  fetch     the same query through our client (prometheus-api-client, explicit timeouts) and
            `translate.parse_matrix` (NaN dropped): the like-for-like comparison with curl
  full      a whole first `PrometheusBackend.refresh()` for N services: p95 and p50 range queries
            over the window, the rate query, all tied to N `ModelService`s through `ServiceIndex`
  incr      a steady-state refresh: the same three requests, but the range queries only fetch
            the steps since the previous refresh (plus two re-read) and merge them into the history
  requests  HTTP requests per refresh, counted on the session, for 20 and for N services

    .venv/bin/python bench/latency_refresh.py [--services 2000] [--history 60] [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prometheus_client import CollectorRegistry  # noqa: E402
from prometheus_client.registry import Collector  # noqa: E402

from mlops_tui.backends.model import ModelService, Platform, ServiceKey, ServiceKind  # noqa: E402
from mlops_tui.backends.prometheus import translate  # noqa: E402
from mlops_tui.backends.prometheus.watch import PrometheusBackend, PrometheusOptions  # noqa: E402
from tests.integration.metrics_servers import (  # noqa: E402
    SEED_BUCKETS,
    histogram,
    http_json,
    prometheus,
    serve_registry,
    wait_for,
)


class FleetHistograms(Collector):
    """N services' histograms whose counts grow with time (10 req/s each, service i in bucket i % 8):
    cheap to expose, no per-observation work."""

    def __init__(self, services: int) -> None:
        self.services = services
        self.started = time.monotonic()

    def collect(self):
        elapsed = time.monotonic() - self.started
        count = int(elapsed * 10)
        samples, sums = {}, {}
        for i in range(self.services):
            labels = (("namespace", "ml"), ("service", f"model-{i:05d}"))
            counts = [0] * (len(SEED_BUCKETS) + 1)
            counts[i % 8] = count
            samples[labels] = counts
            sums[labels] = count * SEED_BUCKETS[i % 8]
        yield histogram("model_inference_duration_seconds", SEED_BUCKETS, samples, sums)


def services(n: int) -> list[ModelService]:
    return [
        ModelService(key=ServiceKey("prod", "ml", ServiceKind.DEPLOYMENT, f"model-{i:05d}"), platform=Platform.K8S)
        for i in range(n)
    ]


def best(fn, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--history", type=float, default=60.0, help="seconds of data before measuring")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    curl = shutil.which("curl")
    binary = shutil.which("prometheus")
    if not curl or not binary:
        sys.exit("needs curl and prometheus on PATH (Debian packages curl, prometheus)")

    registry = CollectorRegistry()
    registry.register(FleetHistograms(args.services))
    options = PrometheusOptions(rate_window="10s", window_seconds=args.history, step_seconds=1.0, timeout=30)
    with (
        serve_registry(registry, text_format=True) as address,
        prometheus(binary, [address], scrape_interval="2s") as server,
    ):
        count_query = "count(model_inference_duration_seconds_count)"

        def all_scraped():
            body = http_json(f"{server.url}/api/v1/query?query={count_query}")
            result = body["data"]["result"]
            return result and int(float(result[0]["value"][1])) == args.services

        t0 = time.monotonic()
        wait_for(all_scraped, 60, f"{args.services} services scraped", interval=0.5)
        print(
            f"Prometheus holds {args.services} services' histograms; collecting {args.history:g} s of history",
            flush=True,
        )
        time.sleep(max(0.0, args.history - (time.monotonic() - t0)))

        fleet = services(args.services)
        backend = PrometheusBackend(server.url, services=lambda: fleet, options=options)
        backend.refresh()  # warm: metric names cached, connection open
        end = time.time()
        start = end - options.window_seconds
        p95 = backend.builder.queries("generic").p95
        argv = [
            curl,
            "-sS",
            "--fail",
            "-G",
            f"{server.url}/api/v1/query_range",
            "--data-urlencode",
            f"query={p95}",
            "--data-urlencode",
            f"start={start:.3f}",
            "--data-urlencode",
            f"end={end:.3f}",
            "--data-urlencode",
            f"step={options.step:g}",
            "-o",
            "/dev/null",
        ]
        subprocess.run(argv, check=True)

        curl_best, curl_median = best(lambda: subprocess.run(argv, check=True), args.runs)

        points = []

        def fetch():
            rows = translate.parse_matrix(backend.client.query_range(p95, start, end, options.step))
            points.append(sum(len(p) for _l, p in rows))

        fetch_best, fetch_median = best(fetch, args.runs)
        changes = []

        def full_refresh():
            backend.forget_history()
            changes.append(backend.refresh())

        refresh_best, refresh_median = best(full_refresh, args.runs)
        tied = len(changes[-1].latency)

        def incremental_refresh():
            time.sleep(1.0)  # one more step of data, as between two polls (not timed below)

        incr = []
        for _ in range(args.runs):
            incremental_refresh()
            t0 = time.perf_counter()
            change = backend.refresh()
            incr.append(time.perf_counter() - t0)
            assert len(change.latency) == tied
            assert all(len(s.p95) >= len(changes[-1].latency[k].p95) - 2 for k, s in change.latency.items())
        incr_best, incr_median = min(incr), statistics.median(incr)

        per_refresh = {}
        for n in (20, args.services):
            subset = fleet[:n]
            counted = PrometheusBackend(server.url, services=lambda s=subset: s, options=options)
            counted.refresh()  # first refresh also fetches the metric-name list and the alert rules
            before = counted.client.requests_sent
            counted.refresh()
            per_refresh[n] = counted.client.requests_sent - before
            counted.stop()
        backend.stop()

    print()
    print(f"services: {args.services}, p95 points in one range query: {points[-1]}, services tied: {tied}")
    print(f"HTTP requests per refresh: {per_refresh}  (first refresh +2: cached metric names, alert rules)")
    print(f"{'path':<44}{'best':>10}{'median':>10}{'vs curl':>10}")
    rows = [
        ("curl, one p95 range query", curl_best, curl_median),
        ("ours, same query: client + parse_matrix", fetch_best, fetch_median),
        ("ours, full refresh (p95, p50, rate, tie)", refresh_best, refresh_median),
        ("ours, incremental refresh (same 3 requests)", incr_best, incr_median),
    ]
    for name, b, m in rows:
        print(f"{name:<44}{b * 1000:>8.0f}ms{m * 1000:>8.0f}ms{b / curl_best:>9.2f}x")


if __name__ == "__main__":
    main()
