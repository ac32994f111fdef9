"""The Prometheus backend: polls fleet-wide latency, rate, errors and DCGM GPU metrics.

Each refresh sends a constant number of requests, whatever the number of services: the metric
names (cached for `names_ttl`), the alert rules (cached for `rules_ttl`: their p95 thresholds are
SLOs, `slo.py`), then per detected serving stack two range queries (p95, p50) and
one or two instant queries (rate, error ratio), then three DCGM instant queries when DCGM is
scraped. Results are tied to services through `ServiceIndex` over the services the app passes in.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from mlops_tui.backends.base import Change, ChangeSink
from mlops_tui.backends.correlate import ServiceIndex
from mlops_tui.backends.http_access import HttpAccess
from mlops_tui.backends.model import ClusterHealth, ClusterRef, LatencySeries, ModelService, ServiceKey
from mlops_tui.backends.poller import Poller
from mlops_tui.backends.prometheus import queries as q
from mlops_tui.backends.prometheus import translate as t
from mlops_tui.backends.prometheus.client import PrometheusClient
from mlops_tui.backends.prometheus.rules import LatencyRule, latency_rules
from mlops_tui.backends.prometheus.slo import SloTable, config_lookup

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrometheusOptions:
    """How the Prometheus backend polls; every field has a sensible default."""

    refresh_seconds: float = 10.0
    window_seconds: float = 1800.0
    """How far back the p95/p50 sparkline goes (15-30 min is what an operator reads)."""
    step_seconds: float | None = None
    """Range query resolution; None: window / 120 (15 s for 30 min), at least 1 s."""
    rate_window: str = "1m"
    """The `rate(...[w])` window: at least 4x the scrape interval."""
    slo_seconds: float | None = None
    """The operator's default p95 SLO, for services no other source covers; None: such services
    have no SLO (an invented default would paint healthy services red)."""
    slo: Mapping[str, float] = field(default_factory=dict)
    """Per-service SLO in seconds, keyed by 'cluster/namespace/name', 'namespace/name' or 'name'."""
    rules_ttl: float = 60.0
    """How long the alert rules (SLOs from their thresholds) are cached; 0: never read them."""
    presets: Sequence[str] | None = None
    """Presets to query; None: detected from the metric names Prometheus has."""
    service_presets: Mapping[str, str] = field(default_factory=dict)
    """Preset per service (same keys as `slo`); others take the first preset with data for them."""
    service_labels: Sequence[str] = q.DEFAULT_SERVICE_LABELS
    """Target labels that identify a service, added to every `by (...)`."""
    label_aliases: Mapping[str, str] = field(default_factory=dict)
    """Series label → the label `ServiceIndex` understands, e.g. {'svc': 'service'} or
    {'container_label_com_docker_swarm_service_name': 'swarm_service'}. Their source labels are
    grouped by as well."""
    matchers: Sequence[q.Matcher] = ()
    """Extra matchers on every latency series (e.g. Matcher('job', 'inference.*', '=~'))."""
    timeout: float = 5.0
    """Read timeout of every request, seconds."""
    connect_timeout: float = 2.0
    full_resync_seconds: float = 300.0
    """Range queries fetch only the steps since the previous refresh; every this often (and
    after a gap longer than the window) the whole window is read again."""
    names_ttl: float = 60.0
    """How long the metric-name list (preset and DCGM detection) is cached."""
    max_backoff: float = 60.0
    gpu: bool = True
    """Query DCGM metrics when they exist."""
    gpu_idle_window: str = "10m"
    """GPU utilisation is averaged over this window (`avg_over_time`), so a GPU between bursts is
    not taken for an idle one."""
    gpu_idle_percent: float = 5.0
    """A GPU whose averaged utilisation is below this is idle (flagged when someone holds it)."""
    side_labels: Sequence[str] = q.DEFAULT_SIDE_LABELS
    """Labels that tell a canary's series from its stable's within one workload (Argo, KServe)."""

    @property
    def step(self) -> float:
        if self.step_seconds:
            return self.step_seconds
        return max(1.0, self.window_seconds / 120.0)


def _lookup(table: Mapping[str, object], key: ServiceKey) -> object | None:
    entry = config_lookup(table, key)
    return entry[1] if entry is not None else None


class PrometheusBackend:
    """A `Backend` reporting latency series and DCGM GPU metrics from one Prometheus."""

    cluster: ClusterRef | None = None

    def __init__(
        self,
        url: str,
        *,
        services: Callable[[], Iterable[ModelService]] = tuple,
        options: PrometheusOptions | None = None,
        name: str = "prometheus",
        client: PrometheusClient | None = None,
        clock: Callable[[], float] = time.time,
        refresh_seconds: float | None = None,
        slo_ms: float | None = None,
        slo_overrides: Mapping[str, float] | None = None,
        access: HttpAccess | None = None,
        gpu_idle_percent: float | None = None,
        gpu_idle_minutes: float | None = None,
    ) -> None:
        """`refresh_seconds`, `slo_ms`, `slo_overrides` (per service, ms), `gpu_idle_percent` and
        `gpu_idle_minutes` are shortcuts for the CLI's settings; they override the same fields of
        `options`."""
        self.name = name
        self.url = url
        options = options or PrometheusOptions()
        if refresh_seconds is not None:
            options = replace(options, refresh_seconds=float(refresh_seconds))
        if slo_ms is not None:
            options = replace(options, slo_seconds=float(slo_ms) / 1000.0)
        if gpu_idle_percent is not None:
            options = replace(options, gpu_idle_percent=float(gpu_idle_percent))
        if gpu_idle_minutes is not None:
            options = replace(options, gpu_idle_window=f"{max(1, round(gpu_idle_minutes * 60))}s")
        if slo_overrides:
            options = replace(options, slo={**options.slo, **{k: float(v) / 1000.0 for k, v in slo_overrides.items()}})
        self.options = options
        self._services = services
        self._clock = clock
        self.client = client or PrometheusClient(
            url, timeout=self.options.timeout, connect_timeout=self.options.connect_timeout, access=access
        )
        labels = list(self.options.service_labels)
        labels += [src for src in self.options.label_aliases if src not in labels]
        self.builder = q.QueryBuilder(
            rate_window=self.options.rate_window, service_labels=labels, matchers=self.options.matchers
        )
        for preset in (*(self.options.presets or ()), *self.options.service_presets.values()):
            if preset not in q.PRESETS:
                raise ValueError(f"unknown latency preset {preset!r}; known: {', '.join(q.PRESETS)}")
        self._names: set[str] | None = None
        self._names_at = 0.0
        self._rules: list[LatencyRule] = []
        self._rules_at: float | None = None
        self._sink: ChangeSink | None = None
        self._lock = threading.Lock()
        self.poller = Poller(
            name,
            self._poll,
            interval=self.options.refresh_seconds,
            on_health=self._health,
            endpoint=url,
            timeout=self.options.timeout,
            max_backoff=self.options.max_backoff,
            what="metrics",
        )
        self.last_change: Change | None = None
        self._history: dict[tuple[str, str], t.History] = {}
        self._history_end: float | None = None
        self._last_full = 0.0

    # -- Backend ------------------------------------------------------------------------------

    def start(self, sink: ChangeSink) -> None:
        self._sink = sink
        self.poller.start()

    def stop(self) -> None:
        self.poller.stop()
        self.client.close()

    def wake(self) -> None:
        """Refresh as soon as the current refresh (if any) ends: e.g. when the Fleet's services
        first arrive, so latency is tied to them without waiting a whole interval."""
        self.poller.wake()

    # -- polling ------------------------------------------------------------------------------

    def metric_names(self, force: bool = False) -> set[str]:
        now = time.monotonic()
        # Cached for names_ttl once a stack was found; while none is (Prometheus just started, or
        # its first scrape has not happened), asked again on every refresh.
        found = self._names and (self.options.presets is not None or q.detect_presets(self._names))
        ttl = self.options.names_ttl if found else 0.0
        if force or self._names is None or now - self._names_at >= ttl:
            self._names = set(self.client.metric_names())
            self._names_at = now
        return self._names

    def latency_rules(self) -> list[LatencyRule]:
        """Alert rules on p95 latency, read at most once per `rules_ttl`. A Prometheus that cannot
        list its rules (an old version, a proxy that forbids the path) still gives latency: the
        last rules read are kept, and the failure is logged, not raised."""
        ttl = self.options.rules_ttl
        now = time.monotonic()
        if ttl <= 0 or (self._rules_at is not None and now - self._rules_at < ttl):
            return self._rules
        self._rules_at = now
        try:
            self._rules = latency_rules(self.client.alert_rules())
        except Exception as exc:  # the metrics themselves were read: an SLO source is not worth failing them
            log.warning("%s: alert rules unreadable, SLOs from rules kept as they were: %s", self.name, exc)
        return self._rules

    def active_presets(self, metric_names: set[str] | None = None) -> tuple[str, ...]:
        if self.options.presets is not None:
            names = list(self.options.presets)
        else:
            names = list(q.detect_presets(self.metric_names() if metric_names is None else metric_names))
        for preset in self.options.service_presets.values():
            if preset not in names:
                names.append(preset)
        return tuple(names)

    def refresh(self) -> Change:
        """Query everything once and build the snapshot change (raises when Prometheus fails).

        Range queries are incremental: after the first refresh only the steps since the last one
        are fetched and merged into the kept history (a full re-read every `full_resync_seconds`),
        so a refresh costs the same small range whatever the sparkline window.
        """
        opts = self.options
        step = max(1, round(opts.step))  # the client sends whole seconds; keep one time grid
        now = self._clock()
        end = float(int(now // step) * step)
        keep_from = end - opts.window_seconds
        full = (
            self._history_end is None
            or now - self._last_full >= opts.full_resync_seconds
            or end - self._history_end > opts.window_seconds
        )
        # Re-read the last two steps too: the newest points may have been evaluated before the
        # scrape that completes them landed.
        # (`full` already covers "no history yet"; the None test is for the type checker.)
        start = keep_from if full or self._history_end is None else max(keep_from, self._history_end - 2 * step)
        results = []
        metric_names = self.metric_names()  # one request at most, whatever the TTL
        presets = self.active_presets(metric_names)
        self.builder.present = frozenset(metric_names)
        history: dict[tuple[str, str], t.History] = {}
        for preset_name in presets:
            preset = q.PRESETS[preset_name]
            qs = self.builder.queries(preset_name)
            rows: dict[str, list[tuple[t.LabelMap, tuple[t.Point, ...]]]] = {}
            for which, promql in (("p95", qs.p95), ("p50", qs.p50)):
                if which == "p50" and qs.p50 == qs.p95:
                    rows["p50"] = rows["p95"]
                    continue
                known = not full and (preset_name, which) in self._history
                since = start if known else keep_from  # a stack seen for the first time: whole window
                fresh = t.parse_matrix(self.client.query_range(promql, since, end, step))
                old = self._history[(preset_name, which)] if known else {}
                history[(preset_name, which)] = t.merge_history(old, fresh, since=since, keep_from=keep_from)
                rows[which] = t.history_rows(history[(preset_name, which)])
            rps = t.parse_vector(self.client.query(qs.rps))
            errors = t.parse_vector(self.client.query(qs.errors)) if qs.errors else None
            results.append(
                t.PresetResult(
                    preset_name,
                    p95=rows["p95"],
                    p50=rows["p50"],
                    rps=rps,
                    errors=errors,
                    mean_only=preset.latency == "mean",
                )
            )
        self._history = history
        self._history_end = end
        if full:
            self._last_full = now
        services = list(self._services())
        index = ServiceIndex(services)
        slos = SloTable(configured=opts.slo, default_seconds=opts.slo_seconds, services=services,
                        rules=self.latency_rules() if results else (), aliases=opts.label_aliases)

        def preset_for(key: ServiceKey) -> str | None:
            return _lookup(opts.service_presets, key)  # type: ignore[return-value]

        latency = t.build_latency(
            results, index.resolve, slo_for=slos.slo_for, preset_for=preset_for, aliases=opts.label_aliases
        )
        self._add_canary_figures(latency, services, presets, index.resolve, now)
        gpus: dict = {}
        if opts.gpu and q.DCGM_UTIL in metric_names:
            util = self.client.query(q.dcgm_util_average(opts.gpu_idle_window))
            used, free = (self.client.query(q.dcgm_query(m)) for m in (q.DCGM_FB_USED, q.DCGM_FB_FREE))
            gpus = t.gpu_metrics(util, used, free, idle_below=opts.gpu_idle_percent)
        return Change(source=self.name, latency=latency, gpu_metrics=gpus, snapshot=True)

    def _add_canary_figures(self, latency: dict[ServiceKey, LatencySeries], services: list[ModelService],
                            presets: Sequence[str], resolve: t.Resolver, now: float) -> None:
        """Each canary's sides into its service's `LatencySeries.canary`. The side-split queries (one
        instant p95, rate and error ratio per stack, fleet-wide) are sent only when a canary runs
        both sides in one workload (Argo, KServe); pairs (Istio, Swarm) read their two services' series."""
        canaries = [s.canary for s in services if s.canary is not None]
        if not canaries:
            return
        opts = self.options
        sides = []
        if any(not (c.stable_service and c.canary_service) for c in canaries):
            for preset_name in presets:
                sq = self.builder.side_queries(preset_name, opts.side_labels)
                sides.append(t.SideResult(
                    preset_name,
                    p95=t.parse_vector(self.client.query(sq.p95)),
                    rps=t.parse_vector(self.client.query(sq.rps)),
                    errors=t.parse_vector(self.client.query(sq.errors)) if sq.errors else None,
                    mean_only=q.PRESETS[preset_name].latency == "mean",
                ))
        # Three refreshes missed (or half a minute) and the figures are no longer judged.
        stale_after = max(3 * opts.refresh_seconds + opts.timeout, 30.0)
        figures = t.canary_figures(services, latency, sides, resolve, at=now, stale_after=stale_after,
                                   side_labels=opts.side_labels, aliases=opts.label_aliases)
        for key, fig in figures.items():
            series = latency.get(key)
            latency[key] = replace(series, canary=fig) if series is not None else LatencySeries(key, canary=fig)

    def forget_history(self) -> None:
        """Make the next refresh read the whole window again (tests, benchmarks, a config change)."""
        self._history = {}
        self._history_end = None

    def _poll(self) -> None:
        change = self.refresh()
        self.last_change = change
        if self._sink is not None and not self.poller.stopped:
            self._sink(change)

    def _health(self, health: ClusterHealth) -> None:
        if self._sink is not None and not self.poller.stopped:
            self._sink(Change(source=self.name, health=health))
