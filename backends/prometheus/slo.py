"""Which p95 SLO a service has, and where it came from. Pure: built once per refresh.

Sources, most specific first: the operator's per-service config entry, the workload's own
`SLO_ANNOTATION` (a Kubernetes annotation or a Swarm label), the threshold of a Prometheus alert rule
watching the service's p95, then the operator's explicit default `slo_ms`. Nothing invents one: a
service none of them covers has no SLO, and its latency is never called breached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from mlops_tui.backends.correlate import CLUSTER_LABELS, NAME_LABELS, NAMESPACE_LABELS
from mlops_tui.backends.model import SLO_ANNOTATION, ModelService, ServiceKey, Slo, SloSource
from mlops_tui.backends.prometheus.queries import PRESETS
from mlops_tui.backends.prometheus.rules import LatencyRule, matcher_matches, sorted_rules


def config_lookup(table: Mapping[str, object], key: ServiceKey) -> tuple[str, object] | None:
    """(entry, value) of the most specific config entry naming the service:
    'cluster/namespace/name', then 'namespace/name', then 'name'."""
    for name in (str(key), f"{key.namespace}/{key.name}" if key.namespace else key.name, key.name):
        if name in table:
            return name, table[name]
    return None


class SloTable:
    """`slo_for(key, preset)`: a service's SLO, looked up in the order above."""

    def __init__(
        self,
        *,
        configured: Mapping[str, float] | None = None,
        default_seconds: float | None = None,
        services: Iterable[ModelService] = (),
        rules: Sequence[LatencyRule] = (),
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        """`configured`: seconds per service entry; `rules` from `rules.latency_rules`; `aliases` the
        backend's label aliases (series label → the label the service index understands)."""
        self._configured = configured or {}
        self._default = default_seconds
        self._services = {s.key: s for s in services}
        self._rules = sorted_rules(rules)
        self._aliases = aliases or {}
        names = set()
        for key in self._services:
            names.add(key.name)
            if key.namespace and key.name.startswith(key.namespace + "_"):
                names.add(key.name[len(key.namespace) + 1 :])  # a Swarm stack's short name
        self._known_names = names

    def slo_for(self, key: ServiceKey, preset: str = "") -> Slo | None:
        entry = config_lookup(self._configured, key)
        if entry is not None:
            return Slo(float(entry[1]), SloSource.CONFIG, entry[0])  # type: ignore[arg-type]
        service = self._services.get(key)
        if service is not None and service.slo_seconds is not None:
            return Slo(service.slo_seconds, SloSource.ANNOTATION, SLO_ANNOTATION)
        rule = self.rule_for(key, preset)
        if rule is not None:
            return Slo(rule.threshold / PRESETS[preset].divisor, SloSource.ALERT_RULE, rule.name)
        if self._default is not None:
            return Slo(self._default, SloSource.CONFIG_DEFAULT, "slo_ms")
        return None

    def rule_for(self, key: ServiceKey, preset: str) -> LatencyRule | None:
        """The rule on this service's latency metric whose selector names it, else one that watches
        the metric fleet-wide (or its namespace/cluster); the tightest threshold among equals."""
        spec = PRESETS.get(preset)
        if spec is None:
            return None
        best: tuple[int, LatencyRule] | None = None
        for rule in self._rules:
            if rule.metric != spec.metric or rule.kind != spec.latency:
                continue
            rank = self._watches(rule, key)
            if rank is not None and (best is None or rank > best[0]):
                best = (rank, rule)
        return best[1] if best else None

    def _watches(self, rule: LatencyRule, key: ServiceKey) -> int | None:
        """None when the rule's selector rules the service out; 1 when it watches it with others
        (no name matcher), 2 when a matcher names it. A name matcher whose value names no service
        at all (`job="models"`, a scrape job) is a filter this cannot judge, so it is not held
        against the service, as alert labels that name nothing are not tied to one."""
        named = False
        short = key.name[len(key.namespace) + 1 :] if key.namespace and key.name.startswith(key.namespace + "_") else ""
        for label, op, value in rule.matchers:
            label = self._aliases.get(label, label)
            if label in CLUSTER_LABELS:
                if not matcher_matches(op, value, key.cluster):
                    return None
            elif label in NAMESPACE_LABELS:
                if not matcher_matches(op, value, key.namespace):
                    return None
            elif label in NAME_LABELS:
                hit = matcher_matches(op, value, key.name) or (bool(short) and matcher_matches(op, value, short))
                if op == "=" and value not in self._known_names:
                    continue
                if not hit:
                    return None
                named = named or op in ("=", "=~")
        return 2 if named else 1
