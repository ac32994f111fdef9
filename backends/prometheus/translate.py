"""Prometheus API JSON → domain model. Pure functions, tested on recorded responses.

Prometheus hands out "NaN" whenever `histogram_quantile` sees a window without requests, and
"+Inf" when a quantile lands in the +Inf bucket of a summary; none of that reaches the model:
points are finite or dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from mlops_tui.backends.model import GpuDeviceMetrics, LatencySeries, ServiceKey, Slo

Point = tuple[float, float]
LabelMap = dict[str, str]


def finite(value: object) -> float | None:
    """The sample value as a float, or None for NaN, ±Inf and garbage."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def result_of(body: Mapping | Sequence) -> Sequence[Mapping]:
    """The `data.result` list of a query response, or the list itself when already unwrapped."""
    if isinstance(body, Mapping):
        if body.get("status") not in (None, "success"):
            raise ValueError(f"prometheus: {body.get('errorType', 'error')}: {body.get('error', '')}")
        data = body.get("data", body)
        result = data.get("result", []) if isinstance(data, Mapping) else []
    else:
        result = body
    if not isinstance(result, list):
        raise ValueError(f"prometheus: unreadable answer (expected a result list, got {type(result).__name__})")
    # A series that is not an object is skipped, never the others.
    return [series for series in result if isinstance(series, Mapping)]


def _metric(series: Mapping) -> LabelMap:
    metric = series.get("metric")
    return {str(k): str(v) for k, v in metric.items()} if isinstance(metric, Mapping) else {}


def _sample(pair: object) -> tuple[float | None, float | None]:
    """(time, value) of one `[unix time, "value"]` pair; Nones when it is not one."""
    if isinstance(pair, (list, tuple)) and len(pair) == 2:
        return finite(pair[0]), finite(pair[1])
    return None, None


def parse_matrix(body: Mapping | Sequence) -> list[tuple[LabelMap, tuple[Point, ...]]]:
    """A range query result: each series' labels and its finite (unix time, value) points."""
    out = []
    for series in result_of(body):
        points = []
        values = series.get("values")
        for pair in values if isinstance(values, list) else ():
            when, value = _sample(pair)
            if value is not None and when is not None:
                points.append((when, value))
        out.append((_metric(series), tuple(points)))
    return out


def parse_vector(body: Mapping | Sequence) -> list[tuple[LabelMap, float | None]]:
    """An instant query result: each series' labels and its value (None when NaN/inf or missing)."""
    return [(_metric(series), _sample(series.get("value"))[1]) for series in result_of(body)]


def label_values(body: Mapping | Sequence) -> list[str]:
    """`/api/v1/label/<name>/values` → the values."""
    if isinstance(body, Mapping):
        return [str(v) for v in body.get("data", [])]
    return [str(v) for v in body]


# ---------------------------------------------------------------------------------------------
# Latency

History = dict[tuple[tuple[str, str], ...], tuple[Point, ...]]
"""Range-query series kept between refreshes, keyed by their sorted labels."""


def merge_history(
    old: History, new: Sequence[tuple[LabelMap, tuple[Point, ...]]], *, since: float, keep_from: float
) -> History:
    """Points before `since` from `old`, points from `since` on from `new` (a range query over
    [since, now]), everything older than `keep_from` dropped. A series missing from `new` keeps
    its old points until they age out: an incremental refresh then fetches one or two steps, not
    the whole sparkline window, for every service."""
    merged: History = {}
    fresh = {tuple(sorted(labels.items())): points for labels, points in new}
    for key in old.keys() | fresh.keys():
        kept = [p for p in old.get(key, ()) if keep_from <= p[0] < since]
        kept += [p for p in fresh.get(key, ()) if p[0] >= keep_from]
        if kept:
            merged[key] = tuple(kept)
    return merged


def history_rows(history: History) -> list[tuple[LabelMap, tuple[Point, ...]]]:
    return [(dict(key), points) for key, points in history.items()]


@dataclass(frozen=True, slots=True)
class PresetResult:
    """What the fleet-wide queries of one preset returned (already parsed)."""

    preset: str
    p95: list[tuple[LabelMap, tuple[Point, ...]]]
    p50: list[tuple[LabelMap, tuple[Point, ...]]]
    rps: list[tuple[LabelMap, float | None]]
    errors: list[tuple[LabelMap, float | None]] | None = None
    mean_only: bool = False


Resolver = Callable[[Mapping[str, str]], ServiceKey | None]


def relabel(labels: Mapping[str, str], aliases: Mapping[str, str]) -> dict[str, str]:
    """Copy of `labels` where each configured alias (source label → canonical label such as
    'service' or 'namespace') fills the canonical name when the series does not have it."""
    if not aliases:
        return dict(labels)
    out = dict(labels)
    for source, target in aliases.items():
        if labels.get(source) and not out.get(target):
            out[target] = labels[source]
    return out


def build_latency(
    results: Iterable[PresetResult],
    resolve: Resolver,
    *,
    slo_for: Callable[[ServiceKey, str], Slo | None] = lambda _key, _preset: None,
    preset_for: Callable[[ServiceKey], str | None] = lambda _key: None,
    aliases: Mapping[str, str] | None = None,
) -> dict[ServiceKey, LatencySeries]:
    """Tie every series to a service and assemble one `LatencySeries` per service.

    A service takes its configured preset's data; otherwise the first preset (in `results` order)
    that has a series for it. Series that resolve to no service (or to several) are ignored, and
    when two series of one preset resolve to the same service the one with more points wins.
    `slo_for(key, preset)` gives each its SLO (None: none known).
    """
    aliases = aliases or {}
    chosen: dict[ServiceKey, LatencySeries] = {}
    for result in results:
        p95 = _by_service(((labels, pts) for labels, pts in result.p95), resolve, aliases, lambda pts: len(pts))
        p50 = _by_service(((labels, pts) for labels, pts in result.p50), resolve, aliases, lambda pts: len(pts))
        rps = _by_service(((labels, v) for labels, v in result.rps), resolve, aliases, lambda v: v or 0.0)
        errors = (
            _by_service(((labels, v) for labels, v in result.errors), resolve, aliases, lambda v: v or 0.0)
            if result.errors is not None
            else {}
        )
        for key in set(p95) | set(p50) | set(rps):
            if key in chosen:
                continue
            wanted = preset_for(key)
            if wanted is not None and wanted != result.preset:
                continue
            chosen[key] = LatencySeries(
                service=key,
                p50=p50.get(key, ()),
                p95=p95.get(key, ()),
                rps=rps.get(key),
                error_ratio=errors.get(key),
                slo=slo_for(key, result.preset),
                preset=result.preset,
                estimate="mean" if result.mean_only else "quantile",
            )
    return chosen


def _by_service(items, resolve: Resolver, aliases: Mapping[str, str], weight) -> dict:
    out: dict = {}
    best: dict = {}
    for labels, value in items:
        key = resolve(relabel(labels, aliases))
        if key is None:
            continue
        score = weight(value)
        if key not in out or score > best[key]:
            out[key] = value
            best[key] = score
    return out


# ---------------------------------------------------------------------------------------------
# GPUs (dcgm-exporter)

HOST_LABELS = ("Hostname", "hostname", "kubernetes_node", "node")
POD_LABELS = ("pod", "exported_pod", "pod_name")
NAMESPACE_LABELS = ("namespace", "exported_namespace", "pod_namespace")


def gpu_host(labels: Mapping[str, str]) -> str:
    """The host a DCGM series is about: `Hostname` (releases ≤ 4.8) or `hostname` (master), else
    the node label, else the scrape target's host."""
    for name in HOST_LABELS:
        if labels.get(name):
            return labels[name]
    instance = labels.get("instance", "")
    return instance.rsplit(":", 1)[0] if instance else ""


def _first(labels: Mapping[str, str], names: Sequence[str]) -> str:
    """First non-empty of `names`; the exporter's own `exported_*` label beats the target's."""
    for name in names:
        exported = labels.get("exported_" + name) if not name.startswith("exported_") else None
        if exported:
            return exported
        if labels.get(name):
            return labels[name]
    return ""


def gpu_metrics(
    util: Mapping | Sequence,
    used: Mapping | Sequence,
    free: Mapping | Sequence,
    idle_below: float | None = None,
) -> dict[str, tuple[GpuDeviceMetrics, ...]]:
    """Join DCGM's three gauges per GPU (host, gpu index, UUID) and group them by host.

    Memory is MiB as DCGM reports it. A GPU appears once even when several series describe it.
    `idle_below` (percent): a GPU whose utilisation (the averaged one the caller queried) is below
    it is `idle`.
    """
    devices: dict[tuple[str, str, str], dict] = {}
    parsed = [(body, parse_vector(body)) for body in (util, used, free)]
    # With honorLabels false (the Helm default), the exporter's pod/namespace become exported_*,
    # and a bare `pod` is the dcgm-exporter pod itself: not the workload holding the GPU.
    exporter_pods = {
        labels["pod"]
        for _body, rows in parsed
        for labels, _v in rows
        if labels.get("exported_pod") and labels.get("pod")
    }

    def take(rows, field_name):
        for labels, value in rows:
            host = gpu_host(labels)
            gpu = labels.get("gpu", labels.get("device", ""))
            uuid = labels.get("UUID", labels.get("uuid", ""))
            entry = devices.setdefault(
                (host, gpu, uuid),
                {"model": labels.get("modelName", ""), "pod": "", "namespace": ""},
            )
            pod = _first(labels, ("pod", "pod_name"))
            if pod in exporter_pods or "dcgm-exporter" in pod:
                pod = ""
            if pod and not entry["pod"]:
                entry["pod"] = pod
                entry["namespace"] = _first(labels, ("namespace", "pod_namespace"))
            if value is not None:
                entry[field_name] = value

    take(parsed[0][1], "utilisation")
    take(parsed[1][1], "memory_used_mib")
    take(parsed[2][1], "memory_free_mib")
    by_host: dict[str, list[GpuDeviceMetrics]] = {}
    for (host, gpu, uuid), entry in devices.items():
        by_host.setdefault(host, []).append(
            GpuDeviceMetrics(
                gpu=gpu,
                uuid=uuid,
                model=entry["model"],
                utilisation=entry.get("utilisation"),
                memory_used_mib=entry.get("memory_used_mib"),
                memory_free_mib=entry.get("memory_free_mib"),
                pod=entry["pod"],
                namespace=entry["namespace"],
                idle=idle_below is not None and entry.get("utilisation") is not None
                and entry["utilisation"] < idle_below,
            )
        )
    return {
        host: tuple(sorted(devs, key=lambda d: (_gpu_order(d.gpu), d.uuid)))
        for host, devs in sorted(by_host.items())
        if host
    }


def _gpu_order(gpu: str) -> tuple[int, str]:
    return (int(gpu), "") if gpu.isdigit() else (1 << 30, gpu)
