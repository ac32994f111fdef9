"""Prometheus API JSON → domain model. Pure functions, tested on recorded responses.

Prometheus hands out "NaN" whenever `histogram_quantile` sees a window without requests, and
"+Inf" when a quantile lands in the +Inf bucket of a summary; none of that reaches the model:
points are finite or dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from mlops_tui.backends.model import (
    Canary,
    CanaryFigures,
    GpuDeviceMetrics,
    LatencySeries,
    ModelService,
    ServiceKey,
    SideFigures,
    Slo,
)

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
# Canary against stable

CANARY_WORDS = frozenset({"canary"})
STABLE_WORDS = frozenset({"stable", "primary", "baseline"})
"""Side label values that name a side whatever the versions (`track=canary`, Flagger's `-primary`)."""


@dataclass(frozen=True, slots=True)
class SideResult:
    """One preset's instant queries split by the side labels (already parsed)."""

    preset: str
    p95: list[tuple[LabelMap, float | None]]
    rps: list[tuple[LabelMap, float | None]]
    errors: list[tuple[LabelMap, float | None]] | None = None
    mean_only: bool = False


def side_of(labels: Mapping[str, str], canary: Canary, side_labels: Sequence[str]) -> str | None:
    """'canary', 'stable' or None: which side of `canary` a series of its workload is about, by the
    first side label that names one (its word, or the side's version or revision)."""
    versions = {canary.canary_version: "canary", canary.stable_version: "stable"}
    versions.pop("", None)
    if canary.canary_version == canary.stable_version:
        versions = {}  # both sides run one version: only a track word can tell them apart
    for label in side_labels:
        value = labels.get(label)
        if not value:
            continue
        if value in CANARY_WORDS:
            return "canary"
        if value in STABLE_WORDS:
            return "stable"
        if value in versions:
            return versions[value]
    return None


def _side_of_series(series: LatencySeries | None) -> SideFigures | None:
    if series is None:
        return None
    return SideFigures(p95=series.current_p95, error_ratio=series.error_ratio, rps=series.rps)


def _sum_side(rows: list[tuple[float | None, float | None, float | None]]) -> SideFigures:
    """Several series on one side (pods, label variants): rates add up, errors weigh by rate, the
    worst p95 stands (quantiles cannot be added)."""
    rps = [r for _p, r, _e in rows if r is not None]
    p95 = [p for p, _r, _e in rows if p is not None]
    weighed = [(e, r or 0.0) for _p, r, e in rows if e is not None]
    total = sum(w for _e, w in weighed)
    errors = (sum(e * w for e, w in weighed) / total if total else max(e for e, _w in weighed)) if weighed else None
    return SideFigures(p95=max(p95) if p95 else None, error_ratio=errors, rps=sum(rps) if rps else None)


def canary_figures(
    services: Iterable[ModelService],
    latency: Mapping[ServiceKey, LatencySeries],
    sides: Sequence[SideResult],
    resolve: Resolver,
    *,
    at: float,
    stale_after: float,
    side_labels: Sequence[str],
    aliases: Mapping[str, str] | None = None,
) -> dict[ServiceKey, CanaryFigures]:
    """Each canary's two sides. A pair of workloads (Istio, Swarm: `Canary.stable_service` and
    `canary_service`) takes each side from that workload's own series; one workload running both
    (Argo, KServe) takes them from the side-split queries, its series told apart by `side_of`, from
    the preset its latency uses (else the first with both sides). No figures when a side is missing."""
    aliases = aliases or {}
    services = list(services)
    by_place = {(s.key.cluster, s.key.namespace, s.key.name): s.key for s in services}
    split: dict[tuple[str, ServiceKey], dict[str, list[tuple[float | None, float | None, float | None]]]] = {}
    canaries = {s.key: s.canary for s in services if s.canary is not None}
    for result in sides:
        rows: dict[tuple[ServiceKey, str, tuple], list[float | None]] = {}
        for column, table in enumerate((result.p95, result.rps, result.errors or ())):
            for labels, value in table:
                labels = relabel(labels, aliases)
                key = resolve(labels)
                canary = canaries.get(key) if key is not None else None
                if key is None or canary is None:
                    continue
                side = side_of(labels, canary, side_labels)
                if side is None:
                    continue
                ident = (key, side, tuple(sorted((k, v) for k, v in labels.items() if k != "__name__")))
                rows.setdefault(ident, [None, None, None])[column] = value
        for (key, side, _labels), (p95, rps, errors) in rows.items():
            split.setdefault((result.preset, key), {}).setdefault(side, []).append((p95, rps, errors))
    mean_only = {r.preset for r in sides if r.mean_only}
    out: dict[ServiceKey, CanaryFigures] = {}
    for service in services:
        canary = service.canary
        if canary is None:
            continue
        key = service.key
        stable: SideFigures | None
        if canary.stable_service and canary.canary_service:
            place = (key.cluster, key.namespace)
            stable_key, canary_key = by_place.get((*place, canary.stable_service)), by_place.get(
                (*place, canary.canary_service))
            series = latency.get(canary_key) if canary_key is not None else None
            stable = _side_of_series(latency.get(stable_key) if stable_key is not None else None)
            canary_side = _side_of_series(series)
            estimate = series.estimate if series is not None else "quantile"
        else:
            own = latency.get(key)
            order = [r.preset for r in sides]
            if own is not None and own.preset in order:
                order = [own.preset] + [p for p in order if p != own.preset]
            found = next((split[(p, key)] for p in order
                          if {"canary", "stable"} <= set(split.get((p, key), {}))), None)
            preset = next((p for p in order if split.get((p, key)) is found), "") if found else ""
            stable = _sum_side(found["stable"]) if found else None
            canary_side = _sum_side(found["canary"]) if found else None
            estimate = "mean" if preset in mean_only else "quantile"
        if stable is None or canary_side is None:
            continue
        out[key] = CanaryFigures(stable=stable, canary=canary_side, at=at, stale_after=stale_after,
                                 estimate=estimate)
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
