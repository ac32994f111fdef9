"""Prometheus: fleet-wide latency (p50/p95, rate, errors) per service and DCGM GPU metrics.

`queries.py` builds every PromQL string (presets per serving stack), `translate.py` turns API
JSON into `LatencySeries`/`GpuDeviceMetrics`, `client.py` talks HTTP with explicit timeouts,
`watch.py` holds `PrometheusBackend` (the poller). Import `backends.prometheus.watch` lazily:
it pulls in requests and prometheus-api-client.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_tui.backends.prometheus.watch import PrometheusBackend, PrometheusOptions

__all__ = ["PrometheusBackend", "PrometheusOptions"]


def __getattr__(name: str) -> Any:
    # Lazy: `import backends.prometheus` stays cheap; the client comes with the first use.
    if name in __all__:
        from mlops_tui.backends.prometheus import watch

        return getattr(watch, name)
    raise AttributeError(name)
