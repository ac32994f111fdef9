"""Pod logs: `GET /api/v1/namespaces/{ns}/pods/{name}/log`, one stream per pod, merged by the caller.

Semantics follow kubectl (staging/src/k8s.io/kubectl/pkg/cmd/logs/logs.go and
pkg/polymorphichelpers/logsforobject.go): every pod of the workload, each line prefixed with its pod;
`container` picks one, else the `kubectl.kubernetes.io/default-container` annotation, else the first
(KServe's `kserve-container` first: the Istio sidecar is never what an operator means); `previous` reads
the last terminated instance once. The API server's own refusals (pod not started, wrong container,
403) are passed on as they are worded (pkg/registry/core/pod/strategy.go LogLocation).

Lines are asked with `timestamps=true`: the time is split off each line, and a stream that ends (an
idle read timeout, the API server restarting) is resumed with `sinceTime` from the last line seen,
skipping what was already delivered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime, timezone
from typing import Any

from mlops_tui.backends.backoff import Backoff
from mlops_tui.backends.kubernetes.client import ApiError, StreamHandle, Transport, api_path
from mlops_tui.backends.model import LogLine, LogOptions

MAIN_CONTAINER = "kserve-container"
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
READ_TIMEOUT = 300.0
"""A quiet container's stream is reopened after this long (an ended stream is resumed, not an error)."""


def containers_of(pod: Any) -> tuple[str, ...]:
    """The pod's containers, the one kubectl would pick first."""
    spec = pod.get("spec") if isinstance(pod, dict) else None
    names = [str(c.get("name") or "") for c in (spec or {}).get("containers") or () if isinstance(c, dict)]
    annotations = ((pod.get("metadata") or {}).get("annotations") or {}) if isinstance(pod, dict) else {}
    first = next((n for n in (annotations.get(DEFAULT_CONTAINER_ANNOTATION), MAIN_CONTAINER) if n in names), "")
    return tuple([first] + [n for n in names if n != first]) if first else tuple(names)


def split_timestamp(raw: str) -> tuple[datetime | None, str]:
    """`2026-12-01T10:00:00.123456789Z text` → (time, text); a line without a time stays whole."""
    stamp, sep, text = raw.partition(" ")
    if not sep or not stamp[:4].isdigit() or "T" not in stamp:
        return None, raw
    try:
        base, _, frac = stamp.rstrip("Z").partition(".")
        micros = (frac + "000000")[:6] if frac else "000000"
        moment = datetime.fromisoformat(f"{base}.{micros}").replace(tzinfo=timezone.utc)
    except ValueError:
        return None, raw
    return moment, text


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class PodLogStream:
    """One pod's log stream, followed and resumed until stopped."""

    def __init__(self, transport: Transport, namespace: str, pod: str, options: LogOptions,
                 on_line: Callable[[LogLine], None], on_status: Callable[[str], None], stop: threading.Event,
                 backoff: Backoff | None = None) -> None:
        self.transport, self.namespace, self.pod, self.options = transport, namespace, pod, options
        self.on_line, self.on_status, self.stop = on_line, on_status, stop
        self.backoff = backoff or Backoff(base=1.0, cap=30.0)
        self._handle: StreamHandle | None = None
        self._last: datetime | None = None
        self._seen_at_last: set[str] = set()

    def query(self, container: str) -> list[tuple[str, str]]:
        opts = self.options
        query = [("timestamps", "true")]
        if container:
            query.append(("container", container))
        if opts.previous:
            query.append(("previous", "true"))
        elif opts.follow:
            query.append(("follow", "true"))
        if self._last is not None:
            query.append(("sinceTime", rfc3339(self._last)))
        else:
            if opts.since_seconds is not None:
                query.append(("sinceSeconds", str(opts.since_seconds)))
            if opts.tail_lines is not None:
                query.append(("tailLines", str(opts.tail_lines)))
        return query

    def container(self) -> str:
        if self.options.container:
            return self.options.container
        pod = self.transport.request("GET", api_path("", "v1", "pods", self.namespace, self.pod)).json()
        names = containers_of(pod)
        return names[0] if names else ""

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                container = self.container()
                handle = self.transport.stream(api_path("", "v1", "pods", self.namespace, self.pod, "log"),
                                               self.query(container), timeout=(5.0, READ_TIMEOUT))
                self._handle = handle
                if self.stop.is_set():
                    handle.close()
                    return
                self.on_status("")
                self.backoff.reset()
                for raw in handle.lines():
                    self._deliver(raw.decode("utf-8", "replace"))
                if not self.options.follow or self.options.previous:
                    return
            except ApiError as exc:
                if self.stop.is_set():
                    return
                if exc.status == 404:  # the pod is gone (a rollout replaced it): its stream ends here
                    self.on_status(f"{self.pod}: gone")
                    return
                self.on_status(f"{self.pod}: {describe(exc)}")
                if self.stop.wait(self.backoff.next()):
                    return
            finally:
                self._handle = None

    def _deliver(self, raw: str) -> None:
        moment, text = split_timestamp(raw.rstrip("\r"))
        # A resumed stream starts at the last second seen: skip what was already delivered.
        if moment is not None and self._last is not None and (
                moment < self._last or (moment == self._last and raw in self._seen_at_last)):
            return
        if moment is not None:
            if moment != self._last:
                self._last, self._seen_at_last = moment, set()
            self._seen_at_last.add(raw)
        self.on_line(LogLine(self.pod, text, moment))

    def close(self) -> None:
        handle = self._handle
        if handle is not None:
            with suppress(Exception):
                handle.close()


def describe(exc: ApiError) -> str:
    """The API server's own sentence: it names the pod, the container and the verb (403 included)."""
    if exc.status == 403:
        return f"forbidden (403): {exc.message or exc.reason}"
    if exc.status == 0:
        return f"API server unreachable: {exc.message or exc.reason}; reconnecting"
    return exc.message or exc.reason or f"HTTP {exc.status}"


POD_REFRESH = 5.0
"""While following, how often the workload's pods are listed again (from the cache): a rollout's new
pods are followed as they appear, as `kubectl logs -f -l ...` does not."""


def stream_pods(transport: Transport, namespace: str, pods: Sequence[str] | Callable[[], Sequence[str]],
                options: LogOptions, on_line: Callable[[LogLine], None], on_status: Callable[[str], None],
                stop: threading.Event, refresh: float = POD_REFRESH) -> None:
    """Every pod's stream in its own thread; returns when stopped or, without follow, when all ended.
    `pods` may be a callable: then, while following, pods that appear later are followed too."""
    listing = pods if callable(pods) else (lambda: pods)
    streams: dict[str, tuple[PodLogStream, threading.Thread]] = {}

    def start_new() -> None:
        for pod in listing():
            if pod not in streams:
                stream = PodLogStream(transport, namespace, pod, options, on_line, on_status, stop)
                thread = threading.Thread(target=stream.run, name=f"logs {pod}", daemon=True)
                streams[pod] = (stream, thread)
                thread.start()

    start_new()
    if not streams:
        on_status("no pods yet: the workload has no replica to read logs from")
    following = options.follow and not options.previous
    next_listing = time.monotonic() + refresh
    while not stop.is_set():
        if following and callable(pods) and time.monotonic() >= next_listing:
            start_new()
            next_listing = time.monotonic() + refresh
        if not following and not any(t.is_alive() for _, t in streams.values()):
            break
        stop.wait(0.2)
    for stream, _ in streams.values():
        stream.close()
