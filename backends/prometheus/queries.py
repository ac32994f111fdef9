"""PromQL for the latency pane and the GPU pane: the one module that builds queries.

Every query is fleet-wide: grouped `by (...)` the labels that identify a service, never filtered
to one service, so a refresh costs the same number of requests for 20 services or 20,000. Each
serving stack has a `Preset` naming its metrics, units and labels as the server itself exports them:
KServe `python/kserve/kserve/metrics.py`, Knative Serving queue-proxy metrics, Triton
`docs/user_guide/metrics.md`, TorchServe `docs/metrics.md`, TF Serving's monitoring config, vLLM
`vllm/v1/metrics/loggers.py`, BentoML's metrics docs, prometheus-fastapi-instrumentator
`src/prometheus_fastapi_instrumentator/metrics.py`. Label values
that reach a query go through `escape_label_value` here and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------------------------
# Escaping

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


def escape_label_value(value: str) -> str:
    """A label value as a PromQL double-quoted string body: backslash, quote and newline escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def check_label_name(name: str) -> str:
    if not _LABEL_NAME.match(name):
        raise ValueError(f"not a Prometheus label name: {name!r}")
    return name


def check_metric_name(name: str) -> str:
    if not _METRIC_NAME.match(name):
        raise ValueError(f"not a Prometheus metric name: {name!r}")
    return name


def check_duration(text: str) -> str:
    if not _DURATION.match(text):
        raise ValueError(f"not a PromQL duration: {text!r} (e.g. '1m', '30s')")
    return text


@dataclass(frozen=True, slots=True)
class Matcher:
    label: str
    value: str
    op: str = "="

    def __post_init__(self) -> None:
        check_label_name(self.label)
        if self.op not in ("=", "!=", "=~", "!~"):
            raise ValueError(f"not a PromQL matcher operator: {self.op!r}")

    def render(self) -> str:
        return f'{self.label}{self.op}"{escape_label_value(self.value)}"'


def selector(metric: str, matchers: Iterable[Matcher] = ()) -> str:
    """`metric{a="x",b=~"y"}` with every value escaped (`metric` alone when no matchers)."""
    check_metric_name(metric)
    inner = ",".join(m.render() for m in matchers)
    return f"{metric}{{{inner}}}" if inner else metric


def by_clause(labels: Sequence[str]) -> str:
    return ", ".join(check_label_name(label) for label in labels)


# ---------------------------------------------------------------------------------------------
# Presets


@dataclass(frozen=True, slots=True)
class Preset:
    """How one serving stack exports latency, and how its series map to services."""

    name: str
    title: str
    latency: str
    """'histogram' (quantiles from buckets), 'summary' (pre-computed quantiles) or 'mean'
    (cumulative duration and count counters only: p50 and p95 both carry the mean)."""
    metric: str
    """Histogram base name (without _bucket), summary name, or the duration-sum counter."""
    requests: tuple[str, ...]
    """Counters whose summed rate is the request rate (Triton: success + failure)."""
    labels: tuple[str, ...]
    """The runtime's own labels that name a model/service, kept in every `by (...)`."""
    divisor: float = 1.0
    """Divide by this to get seconds (1000 for ms, 1e6 for µs)."""
    errors: tuple[str, tuple[Matcher, ...]] | None = None
    """(counter, matchers) counting failed requests; None when the stack has no error signal."""
    detect: tuple[str, ...] = ()
    """Metric names whose presence means this stack is being scraped."""
    replaces: str = ""
    """A preset this one makes redundant when both are detected (Triton summaries vs counters)."""
    note: str = ""


def _h(base: str) -> tuple[str, ...]:
    return (base + "_bucket",)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="generic",
            title="Prometheus histogram (model_inference_duration_seconds)",
            latency="histogram",
            metric="model_inference_duration_seconds",
            requests=("model_inference_duration_seconds_count",),
            labels=("model",),
            detect=_h("model_inference_duration_seconds"),
        ),
        Preset(
            name="fastapi",
            title="prometheus-fastapi-instrumentator",
            latency="histogram",
            metric="http_request_duration_highr_seconds",
            requests=("http_requests_total",),
            labels=("job",),
            errors=("http_requests_total", (Matcher("status", "5..", "=~"),)),
            detect=_h("http_request_duration_highr_seconds"),
            note="the per-service histogram has no labels of its own: services come from target labels",
        ),
        Preset(
            name="kserve",
            title="KServe ModelServer",
            latency="histogram",
            metric="request_predict_seconds",
            requests=("request_predict_seconds_count",),
            labels=("model_name",),
            detect=_h("request_predict_seconds"),
            note="predict step only, not end to end",
        ),
        Preset(
            name="knative",
            title="Knative queue-proxy (OpenTelemetry)",
            latency="histogram",
            metric="kn_serving_invocation_duration_seconds",
            requests=("kn_serving_invocation_duration_seconds_count",),
            labels=("k8s_namespace_name", "kn_service_name"),
            errors=(
                "kn_serving_invocation_duration_seconds_count",
                (Matcher("http_response_status_code", "5..", "=~"),),
            ),
            detect=_h("kn_serving_invocation_duration_seconds"),
        ),
        Preset(
            name="knative-legacy",
            title="Knative queue-proxy (OpenCensus, ms)",
            latency="histogram",
            metric="revision_request_latencies",
            requests=("revision_request_count",),
            labels=("namespace_name", "service_name"),
            divisor=1000.0,
            errors=("revision_request_count", (Matcher("response_code_class", "5xx"),)),
            detect=_h("revision_request_latencies"),
        ),
        Preset(
            name="triton",
            title="NVIDIA Triton (summaries)",
            latency="summary",
            metric="nv_inference_request_summary_us",
            requests=("nv_inference_request_success", "nv_inference_request_failure"),
            labels=("model",),
            divisor=1e6,
            errors=("nv_inference_request_failure", ()),
            detect=("nv_inference_request_summary_us",),
            replaces="triton-mean",
            note="summaries cannot be aggregated across replicas: the worst replica (max) is shown",
        ),
        Preset(
            name="triton-mean",
            title="NVIDIA Triton (counters: mean latency)",
            latency="mean",
            metric="nv_inference_request_duration_us",
            requests=("nv_inference_request_success", "nv_inference_request_failure"),
            labels=("model",),
            divisor=1e6,
            errors=("nv_inference_request_failure", ()),
            detect=("nv_inference_request_duration_us",),
            note="counters only give a mean; start Triton with --metrics-config summary_latencies=true for p95",
        ),
        Preset(
            name="torchserve",
            title="TorchServe (counters: mean latency)",
            latency="mean",
            metric="ts_inference_latency_microseconds",
            requests=("ts_inference_requests_total",),
            labels=("model_name",),
            divisor=1e6,
            detect=("ts_inference_latency_microseconds",),
        ),
        Preset(
            name="tfserving",
            title="TensorFlow Serving (µs)",
            latency="histogram",
            metric=":tensorflow:serving:request_latency",
            requests=(":tensorflow:serving:request_count",),
            labels=("model_name",),
            divisor=1e6,
            errors=(":tensorflow:serving:request_count", (Matcher("status", "OK", "!="),)),
            detect=_h(":tensorflow:serving:request_latency"),
        ),
        Preset(
            name="vllm",
            title="vLLM (end-to-end request latency)",
            latency="histogram",
            metric="vllm:e2e_request_latency_seconds",
            requests=("vllm:e2e_request_latency_seconds_count",),
            labels=("model_name",),
            detect=_h("vllm:e2e_request_latency_seconds"),
        ),
        Preset(
            name="bentoml",
            title="BentoML >= 1.2",
            latency="histogram",
            metric="bentoml_service_request_duration_seconds",
            requests=("bentoml_service_request_duration_seconds_count",),
            labels=("service_name",),
            errors=("bentoml_service_request_duration_seconds_count", (Matcher("http_response_code", "5..", "=~"),)),
            detect=_h("bentoml_service_request_duration_seconds"),
        ),
    )
}
"""Known stacks, in the order a service tries them when none is configured for it."""

DEFAULT_SERVICE_LABELS: tuple[str, ...] = ("cluster", "namespace", "service", "swarm_service")
"""Target labels that identify a service, added to every preset's `by (...)`: Kubernetes
relabelling usually gives namespace/service; for Swarm, relabel `__meta_dockerswarm_service_name`
to `swarm_service` (or configure the label you use). Labels absent from a series are harmless."""


DEFAULT_SIDE_LABELS: tuple[str, ...] = (
    "track",
    "version",
    "app_kubernetes_io_version",
    "rollouts_pod_template_hash",
    "kn_revision_name",
    "revision_name",
    "serving_knative_dev_revision",
)
"""Labels that tell a canary's series from its stable's when one workload runs both (Argo, KServe):
pod labels as Prometheus' `labelmap` relabelling copies them (`track`, `version`, Argo's
`rollouts-pod-template-hash`, Knative's `serving.knative.dev/revision`) and Knative queue-proxy's own
revision labels (`kn_revision_name` in OpenTelemetry, `revision_name` in OpenCensus)."""


def escaped_name(metric: str) -> str:
    """The name a colon-named metric gets when its exporter escapes it: prometheus_client's
    OpenMetrics output (which Prometheus asks for first) turns 'vllm:e2e_…' into 'vllm_e2e_…' and
    ':tensorflow:serving:…' into '_tensorflow_serving_…'. Query whichever form exists."""
    return metric.replace(":", "_")


def detect_presets(metric_names: Iterable[str], presets: Mapping[str, Preset] = PRESETS) -> tuple[str, ...]:
    """Names of the presets whose metrics exist, in preference order, without redundant ones."""
    names = set(metric_names)
    found = [p for p in presets.values() if any(d in names or escaped_name(d) in names for d in p.detect)]
    replaced = {p.replaces for p in found if p.replaces}
    return tuple(p.name for p in found if p.name not in replaced)


@dataclass(frozen=True, slots=True)
class QuerySet:
    """The fleet-wide queries for one preset: range queries for quantiles, instant for the rest."""

    preset: str
    p95: str
    p50: str
    rps: str
    errors: str | None
    group_by: tuple[str, ...] = field(default=())


class QueryBuilder:
    """Builds every PromQL string the backend sends, from presets and the label mapping."""

    def __init__(
        self,
        *,
        rate_window: str = "1m",
        service_labels: Sequence[str] = DEFAULT_SERVICE_LABELS,
        presets: Mapping[str, Preset] = PRESETS,
        matchers: Sequence[Matcher] = (),
    ) -> None:
        self.rate_window = check_duration(rate_window)
        self.service_labels = tuple(check_label_name(label) for label in service_labels)
        self.presets = presets
        self.matchers = tuple(matchers)
        """Extra matchers on every latency series (e.g. job=~"inference.*"), values escaped."""
        self.present: frozenset[str] | None = None
        """Metric names Prometheus holds, when known: a colon name that only exists escaped
        (see `escaped_name`) is queried under its escaped form."""

    def series(self, metric: str, matchers: Sequence[Matcher] = ()) -> str:
        """Selector for `metric`, under its escaped name too when only that form, or both, exist."""
        escaped = escaped_name(metric)
        if self.present is None or escaped == metric or escaped not in self.present:
            return selector(metric, matchers)
        if metric not in self.present:
            return selector(escaped, matchers)
        check_metric_name(metric)
        both = Matcher("__name__", f"{re.escape(metric)}|{re.escape(escaped)}", "=~")
        return "{" + ",".join(m.render() for m in (both, *matchers)) + "}"

    def group_by(self, preset: Preset, extra: Sequence[str] = ()) -> tuple[str, ...]:
        labels = list(preset.labels)
        labels += [label for label in (*self.service_labels, *extra) if label not in labels]
        return tuple(labels)

    def _rate_sum(self, metric: str, group: Sequence[str], extra: Sequence[Matcher] = ()) -> str:
        sel = self.series(metric, (*self.matchers, *extra))
        return f"sum by ({by_clause(group)}) (rate({sel}[{self.rate_window}]))"

    def _requests(self, preset: Preset, group: Sequence[str]) -> str:
        parts = [self._rate_sum(metric, group) for metric in preset.requests]
        return parts[0] if len(parts) == 1 else "(" + " + ".join(parts) + ")"

    def _scaled(self, expr: str, preset: Preset) -> str:
        if preset.divisor == 1.0:
            return expr
        return f"{expr} / {preset.divisor:.0f}" if preset.divisor.is_integer() else f"{expr} / {preset.divisor!r}"

    def quantile(self, preset: Preset, q: float, extra: Sequence[str] = ()) -> str:
        group = self.group_by(preset, extra)
        if preset.latency == "histogram":
            inner = self._rate_sum(preset.metric + "_bucket", ("le", *group))
            return self._scaled(f"histogram_quantile({q:g}, {inner})", preset)
        if preset.latency == "summary":
            sel = self.series(preset.metric, (*self.matchers, Matcher("quantile", f"{q:g}")))
            return self._scaled(f"max by ({by_clause(group)}) ({sel})", preset)
        if preset.latency == "mean":
            return self.mean(preset, extra)
        raise ValueError(f"unknown latency kind {preset.latency!r} in preset {preset.name}")

    def mean(self, preset: Preset, extra: Sequence[str] = ()) -> str:
        group = self.group_by(preset, extra)
        duration = self._rate_sum(preset.metric, group)
        return self._scaled(f"{duration} / {self._requests(preset, group)}", preset)

    def rps(self, preset: Preset, extra: Sequence[str] = ()) -> str:
        return self._requests(preset, self.group_by(preset, extra))

    def error_ratio(self, preset: Preset, extra: Sequence[str] = ()) -> str | None:
        """Failed / all requests; 0 (not absent) for a service that served requests without errors."""
        if preset.errors is None:
            return None
        group = self.group_by(preset, extra)
        metric, failing = preset.errors
        failed = self._rate_sum(metric, group, failing)
        total = self._requests(preset, group)
        return f"({failed} or {total} * 0) / {total}"

    def queries(self, preset_name: str) -> QuerySet:
        preset = self.presets[preset_name]
        return QuerySet(
            preset=preset.name,
            p95=self.quantile(preset, 0.95),
            p50=self.quantile(preset, 0.5),
            rps=self.rps(preset),
            errors=self.error_ratio(preset),
            group_by=self.group_by(preset),
        )

    def side_queries(self, preset_name: str, side_labels: Sequence[str] = DEFAULT_SIDE_LABELS) -> QuerySet:
        """Instant p95, rate and error ratio split by the labels that tell a canary's sides apart
        (`DEFAULT_SIDE_LABELS`): one query each for the whole fleet, as the others. `p50` repeats
        `p95` (a side's median is not shown)."""
        preset = self.presets[preset_name]
        extra = tuple(check_label_name(label) for label in side_labels)
        p95 = self.quantile(preset, 0.95, extra)
        return QuerySet(
            preset=preset.name,
            p95=p95,
            p50=p95,
            rps=self.rps(preset, extra),
            errors=self.error_ratio(preset, extra),
            group_by=self.group_by(preset, extra),
        )


# ---------------------------------------------------------------------------------------------
# GPUs (NVIDIA dcgm-exporter, `etc/default-counters.csv`: utilisation in %, framebuffer in MiB)

DCGM_UTIL = "DCGM_FI_DEV_GPU_UTIL"
DCGM_FB_USED = "DCGM_FI_DEV_FB_USED"
DCGM_FB_FREE = "DCGM_FI_DEV_FB_FREE"
DCGM_METRICS = (DCGM_UTIL, DCGM_FB_USED, DCGM_FB_FREE)


def dcgm_query(metric: str) -> str:
    """The raw gauge: one series per GPU (and per pod using it); joined by host in translate."""
    return selector(metric)


def dcgm_util_average(window: str) -> str:
    """Utilisation averaged over `window` (one sample says nothing about a GPU that idles between
    bursts), for the series present now only: a pod that left the GPU within the window is not
    its holder any more (`and` matches every label; avg_over_time drops only the name)."""
    check_duration(window)
    return f"avg_over_time({selector(DCGM_UTIL)}[{window}]) and {selector(DCGM_UTIL)}"
