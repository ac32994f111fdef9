"""Is the API server still answering? Asked only when every watch has gone quiet.

A frozen API server (a stopped process, a hung etcd, a half-open connection) closes nothing: the
watch streams simply deliver nothing, and a reflector cannot tell that from a quiet cluster. Watches
ask for bookmarks (`allowWatchBookmarks`), so a live server speaks now and then even when nothing
changes (the simulator every few seconds, kube-apiserver's watch cache about once a minute:
apiserver storage/cacher/cacher.go `bookmarkFrequency`). When no watch has said anything, not even a
bookmark, for `quiet` seconds, one cheap probe (GET /version with a short timeout) settles it: an
answer proves the server alive (the quiet is real), no answer marks the data stale since the last word
heard. The next word from a watch or the next answer to a probe ends it; the watches were never torn
down, so recovery resumes them where they were (no relist).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from mlops_tui.backends.clock import SYSTEM_CLOCK, Clock
from mlops_tui.backends.kubernetes.client import ApiError, Transport

QUIET_SECONDS = 10.0
"""Watches silent this long (two of the simulator's bookmark intervals) get a probe."""
PROBE_TIMEOUT = (2.0, 3.0)
"""(connect, read) seconds the probe may take: a frozen server is marked stale within
quiet + tick + 3 s of its last word."""
TICK_SECONDS = 1.0


def version_probe(transport: Transport) -> Callable[[], None]:
    """GET /version: public on kube-apiserver (system:public-info-viewer), answered from memory."""
    def probe() -> None:
        transport.request("GET", "/version", timeout=PROBE_TIMEOUT)

    return probe


class Liveness:
    """Watches `last_heard()` (monotonic seconds of the latest word from any watch) and probes when it
    is older than `quiet`. `silent_since` (wall time of the last word) is set while the server does
    not answer; `on_change` is called whenever it is set or cleared."""

    def __init__(
        self,
        probe: Callable[[], None],
        last_heard: Callable[[], float | None],
        on_change: Callable[[], None],
        *,
        clock: Clock = SYSTEM_CLOCK,
        quiet: float = QUIET_SECONDS,
        tick: float = TICK_SECONDS,
    ) -> None:
        self._probe = probe
        self._last_heard = last_heard
        self._on_change = on_change
        self._clock = clock
        self.quiet = quiet
        self.tick = tick
        self._proven = clock.monotonic()
        """When the server last answered a probe (start-up counts: it has just been listed)."""
        self._heard_at_mark = 0.0
        self.silent_since: datetime | None = None
        self.error = ""
        self.probes = 0

    def run(self, stop: threading.Event) -> None:
        """Check once a tick until `stop` is set."""
        while not self._clock.wait(stop, self.tick):
            self.check()

    def check(self) -> None:
        now = self._clock.monotonic()
        heard = max(self._last_heard() or 0.0, self._proven)
        if self.silent_since is not None and heard > self._heard_at_mark:
            self._set(None, "")  # a watch spoke again
            return
        if now - heard < self.quiet:
            return
        self.probes += 1
        try:
            self._probe()
        except ApiError as exc:
            if not exc.status:  # any HTTP answer, even a refusal, proves the server alive
                if self.silent_since is None:
                    self._heard_at_mark = heard
                    last_word = self._clock.now() - timedelta(seconds=self._clock.monotonic() - heard)
                    self._set(last_word, f"API server not answering (GET /version: {exc})")
                return
        self._proven = self._clock.monotonic()
        if self.silent_since is not None:
            self._set(None, "")  # answering again

    def _set(self, since: datetime | None, error: str) -> None:
        self.silent_since = since
        self.error = error
        self._on_change()
