"""Scrape targets as Prometheus keeps them: every scrape writes `up{job, instance}` = 1 for each
target it read (Prometheus synthesises `up` itself; exporters never send it), and
/api/v1/targets lists each target with its last scrape."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .rules import rfc3339
from .series import Labels, SeriesStore

TARGET_LABELS = ("job", "instance")
"""What identifies a target: the labels Prometheus attaches to every series it scraped from it."""


class ScrapedStore(SeriesStore):
    """A SeriesStore whose scrapes come from targets: each scrape also records `up` per target."""

    def __init__(self, retention: float = 3600.0) -> None:
        super().__init__(retention=retention)
        self.targets: dict[Labels, dict[str, float]] = {}
        """Target labels → {"last": time of its last scrape, "interval": seconds between its scrapes}."""
        self._target_of: dict[Labels, Labels] = {}
        """Memo of each series' target labels: a scrape rereads the same series every time."""

    def append(self, ts: float, samples: Iterable[tuple[Labels, float]]) -> None:
        samples = list(samples)
        found: set[Labels] = set()
        explicit: set[Labels] = set()
        for labels, _ in samples:
            target = self._target_of.get(labels)
            if target is None:
                target = self._target_of[labels] = _target(labels)
            if not target:
                continue  # not scraped from a target (a test writing bare series): no `up`
            (explicit if ("__name__", "up") in labels else found).add(target)
        if len(self._target_of) > 2 * len(self.series) + 1024:
            self._target_of.clear()  # series come and go: keep the memo near the live ones
        ups = [(tuple(sorted((("__name__", "up"), *t))), 1.0) for t in sorted(found - explicit)]
        with self.lock:
            super().append(ts, samples + ups)
            for t in found | explicit:
                seen = self.targets.setdefault(t, {"last": ts, "interval": 0.0})
                if ts > seen["last"]:
                    seen["interval"] = ts - seen["last"]
                seen["last"] = ts

    def api_targets(self, state: str = "") -> dict[str, Any]:
        """The body of /api/v1/targets, field for field as Prometheus 2.42 writes it."""
        active = []
        with self.lock:
            for t, seen in sorted(self.targets.items()):
                labels = dict(t)
                job = labels.get("job", "")
                address = labels.get("instance") or job
                every = _duration(seen["interval"])
                active.append({
                    "discoveredLabels": {"__address__": address, "__metrics_path__": "/metrics",
                                         "__scheme__": "http", "__scrape_interval__": every,
                                         "__scrape_timeout__": every, "job": job},
                    "labels": labels, "scrapePool": job,
                    "scrapeUrl": f"http://{address}/metrics", "globalUrl": f"http://{address}/metrics",
                    "lastError": "", "lastScrape": rfc3339(seen["last"]), "lastScrapeDuration": 0.0,
                    "health": "up", "scrapeInterval": every, "scrapeTimeout": every,
                })
        # web/api/v1's targets(): an empty, "any" or "active" state lists the active targets; any
        # other word (even "Active") lists none, without an error
        if state not in ("", "any", "active"):
            active = []
        return {"activeTargets": active, "droppedTargets": []}


def _target(labels: Labels) -> Labels:
    return tuple(pair for pair in labels if pair[0] in TARGET_LABELS)  # labels are sorted: so is this


def _duration(seconds: float) -> str:
    """A scrape interval as Prometheus's model.Duration prints it: 15s, 1m, 250ms."""
    ms = round(seconds * 1000)
    if ms <= 0:
        return "0s"
    out = ""
    for unit, size in (("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000),
                       ("ms", 1)):
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return out
