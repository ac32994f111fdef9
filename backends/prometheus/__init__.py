"""Prometheus: fleet-wide latency (p50/p95, rate, errors) per service and DCGM GPU metrics.

`queries.py` builds every PromQL string (presets per serving stack), `translate.py` turns API
JSON into `LatencySeries`/`GpuDeviceMetrics`, `client.py` talks HTTP with explicit timeouts,
`watch.py` holds `PrometheusBackend` (the poller). Import `backends.prometheus.watch` lazily:
it pulls in requests and prometheus-api-client.
"""
