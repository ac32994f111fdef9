"""A Prometheus HTTP API subset on 127.0.0.1 over series the scenario writes.

    prom = SimPrometheus.start(rules=[seed_rule()], notify=am.receive)
    prom.store.append(ts, [(labels_of("up", job="x"), 1.0)])   # one scrape
    prom.url   # http://127.0.0.1:PORT
    prom.stop()

Endpoints: /api/v1/query, /api/v1/query_range (GET or POST form), /api/v1/series, /api/v1/labels,
/api/v1/label/<name>/values, /api/v1/alerts, /api/v1/rules, /api/v1/targets, /api/v1/metadata,
/api/v1/status/buildinfo. Scrapes record `up` per target (sim/prometheus/targets.py); rule
evaluations write ALERTS and ALERTS_FOR_STATE. PromQL is
parsed and evaluated (sim/prometheus/promql.py, evaluate.py); anything outside the subset gets
Prometheus's error body.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..docker.httpd import Server
from .evaluate import Evaluator
from .promql import VectorSelector
from .rules import AlertRule, RuleManager, seed_rule
from .series import Labels, SeriesStore, labels_of
from .server import PromHandler
from .targets import ScrapedStore

__all__ = ["AlertRule", "SeriesStore", "SimPrometheus", "labels_of", "seed_rule"]


class SimPrometheus:
    def __init__(self, rules: list[AlertRule] | None = None, *, eval_interval: float = 1.0,
                 notify: Callable[[list[dict[str, Any]]], None] | None = None,
                 clock: Callable[[], float] = time.time, retention: float = 3600.0) -> None:
        self.clock = clock
        self.store = ScrapedStore(retention=retention)
        self.rule_series = SeriesStore(retention=retention)
        """ALERTS / ALERTS_FOR_STATE, kept apart from the scrapes (each store has its own timeline)."""
        self.evaluator = Evaluator(self.store, self.rule_series)
        self.rules = RuleManager(self.evaluator, list(rules or []), interval=eval_interval, clock=clock, notify=notify,
                                 store=self.rule_series)
        self.described: dict[str, dict[str, str]] = {}
        """Metric family → the `# TYPE` / `# HELP` an exporter would send (see describe)."""
        self._server: Server | None = None

    def describe(self, family: str, kind: str, help_text: str, unit: str = "") -> None:
        """What /api/v1/metadata says of `family` (otherwise read from its name, help empty)."""
        self.described[family] = {"type": kind, "help": help_text, "unit": unit}

    @classmethod
    def start(cls, rules: list[AlertRule] | None = None, *, eval_interval: float = 1.0,
              notify: Callable[[list[dict[str, Any]]], None] | None = None, port: int = 0,
              evaluate_rules: bool = True, retention: float = 3600.0) -> SimPrometheus:
        sim = cls(rules, eval_interval=eval_interval, notify=notify, retention=retention)
        sim._server = Server(PromHandler, sim, port)
        sim.rules.external_url = sim.url
        if evaluate_rules:
            sim.rules.start()
        return sim

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def stores(self) -> tuple[SeriesStore, ...]:
        return self.evaluator.stores

    def matching_labels(self, sel: VectorSelector) -> Iterator[Labels]:
        """Callers hold every store's lock (see `locked`)."""
        for store in self.stores:
            for s in store.candidates(sel.name):
                labels = dict(s.labels)
                if all(m.matches(labels.get(m.label, "")) for m in sel.matchers):
                    yield s.labels

    def all_labels(self) -> Iterator[Labels]:
        """Every stored series' labels; callers hold every store's lock."""
        for store in self.stores:
            yield from store.series

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with contextlib.ExitStack() as locks:
            for store in self.stores:  # the evaluator's order
                locks.enter_context(store.lock)
            yield

    def stop(self) -> None:
        self.rules.stop()
        if self._server is not None:
            self._server.stop()
            self._server = None
