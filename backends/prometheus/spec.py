"""Prometheus' settings and how its sources are built (see backends/registry.py): one URL serves both
the latency series and the rule alerts (`/api/v1/alerts`), read by two sources with the same
authentication, TLS and headers (`HTTP_OPTIONS`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mlops_tui.backends.engine_spec import BuildContext, EngineOption, EngineSpec, OptionKind
from mlops_tui.backends.http_options import HTTP_OPTIONS

if TYPE_CHECKING:
    from mlops_tui.backends.base import Backend


def _build(options: Mapping[str, Any], context: BuildContext) -> Sequence[Backend]:
    if not options["url"]:
        return []
    from mlops_tui.backends.http_access import HttpAccess

    access = HttpAccess.from_options(options)
    access.check_url(options["url"])
    from mlops_tui.backends.alerts import PrometheusAlertsSource
    from mlops_tui.backends.prometheus import PrometheusBackend

    return [
        PrometheusBackend(options["url"], services=context.services, refresh_seconds=options["refresh_seconds"],
                          slo_ms=options["slo_ms"], slo_overrides=options["slo"], access=access,
                          gpu_idle_percent=options["gpu_idle_percent"], gpu_idle_minutes=options["gpu_idle_minutes"]),
        PrometheusAlertsSource(options["url"], refresh_seconds=options["refresh_seconds"], access=access),
    ]


PROMETHEUS = EngineSpec(
    name="prometheus",
    title="Metrics",
    platform=None,
    options=(
        EngineOption("url", OptionKind.URL, "Prometheus base URL", flags=("--prometheus",), metavar="URL",
                     env="PROMETHEUS_URL", default=""),
        EngineOption("refresh_seconds", OptionKind.POSITIVE_NUMBER, "how often Prometheus is polled", default=10.0),
        EngineOption("slo_ms", OptionKind.POSITIVE_NUMBER,
                     "p95 latency SLO for services with none from `slo`, their annotation or an alert rule",
                     default=None),
        EngineOption("slo", OptionKind.MS_BY_NAME, "p95 SLO in ms per service name", default={}),
        EngineOption("gpu_idle_percent", OptionKind.POSITIVE_NUMBER,
                     "a held GPU whose DCGM utilisation, averaged over gpu_idle_minutes, is below this is flagged idle",
                     default=5.0),
        EngineOption("gpu_idle_minutes", OptionKind.POSITIVE_NUMBER,
                     "the window GPU utilisation is averaged over", default=10.0),
        *HTTP_OPTIONS,
    ),
    build=_build,
)
