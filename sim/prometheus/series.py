"""Time series storage: one shared list of scrape timestamps, one float array per series
(NaN = the series was absent from that scrape, which Prometheus records as a staleness marker),
indexed by metric name. Thread-safe; old scrapes are trimmed."""

from __future__ import annotations

import math
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator

Labels = tuple[tuple[str, str], ...]
"""Sorted (name, value) pairs, `__name__` included."""

NAN = float("nan")
LOOKBACK = 300.0


def labels_of(name: str, **labels: str) -> Labels:
    return tuple(sorted({"__name__": name, **labels}.items()))


class Series:
    __slots__ = ("labels", "name", "start", "values")

    def __init__(self, labels: Labels, start: int) -> None:
        self.labels = labels
        self.name = dict(labels).get("__name__", "")
        self.start = start
        self.values = array("d")


class SeriesStore:
    def __init__(self, retention: float = 3600.0) -> None:
        self.lock = threading.RLock()
        self.times: list[float] = []
        self.base = 0
        """Global index of times[0] (grows as old scrapes are trimmed)."""
        self.series: dict[Labels, Series] = {}
        self.by_name: dict[str, list[Series]] = {}
        self.retention = retention

    def append(self, ts: float, samples: Iterable[tuple[Labels, float]]) -> None:
        """One scrape at `ts` (after any earlier one): every series gets a sample or a gap."""
        with self.lock:
            if self.times and ts <= self.times[-1]:
                raise ValueError("scrapes must move forward in time")
            self.times.append(ts)
            idx = self.base + len(self.times) - 1
            for labels, value in samples:
                s = self.series.get(labels)
                if s is None:
                    s = self.series[labels] = Series(labels, idx)
                    self.by_name.setdefault(s.name, []).append(s)
                missing = idx - (s.start + len(s.values))
                if missing > 0:
                    s.values.extend([NAN] * missing)
                if missing >= 0:
                    s.values.append(float(value))
            self._trim(ts)

    def _trim(self, now: float) -> None:
        cut = bisect_right(self.times, now - self.retention)
        if cut < 64:
            return
        self.base += cut
        del self.times[:cut]
        for s in list(self.series.values()):
            drop = self.base - s.start
            if drop > 0:
                del s.values[:drop]
                s.start = self.base
            if not s.values:
                del self.series[s.labels]
                self.by_name[s.name].remove(s)

    def candidates(self, name: str | None) -> list[Series]:
        if name is not None:
            return list(self.by_name.get(name, ()))
        return list(self.series.values())

    def names(self) -> list[str]:
        with self.lock:
            return sorted(n for n, lst in self.by_name.items() if lst)

    # --- sample access (callers hold the lock) ----------------------------------------------
    def index_at(self, t: float) -> int:
        """Global index of the last scrape at or before t (base-1 when none)."""
        return self.base + bisect_right(self.times, t) - 1

    def instant(self, s: Series, t: float, lookback: float = LOOKBACK) -> float | None:
        i = self.index_at(t)
        while i >= max(s.start, self.base):
            ts = self.times[i - self.base]
            if ts <= t - lookback:
                return None
            k = i - s.start
            if k >= len(s.values):
                return None  # absent from the latest scrape: stale
            v = s.values[k]
            # a scrape without the series is a staleness marker: the series is gone
            return None if math.isnan(v) else v
        return None

    def window(self, s: Series, start: float, end: float) -> Iterator[tuple[float, float]]:
        """Samples with start <= ts <= end: Prometheus 2.x keeps a sample exactly `range` old
        (3.0 made the window left-open)."""
        lo = self.base + bisect_left(self.times, start)
        hi = self.index_at(end)
        for i in range(max(lo, s.start), hi + 1):
            k = i - s.start
            if k >= len(s.values):
                break
            v = s.values[k]
            if not math.isnan(v):
                yield self.times[i - self.base], v
