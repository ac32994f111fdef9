"""List + watch of one resource, as client-go's Reflector does it (client-go tools/cache/reflector.go).

Why our own reflector and not `kubernetes.watch.Watch` / `kubernetes.informer.SharedInformer`:
`Watch(deserialize=False)` never advances its resourceVersion and raises KeyError on an ERROR event
(kubernetes-client/python: kubernetes/base/watch/watch.py), and SharedInformer lists and watches
through the typed models, which costs several times the raw parse (figures in bench/RESULTS.md,
`bench/k8s_informer_choice.py`).

A reflector does what client-go's Reflector does: a paginated raw LIST (a 410 on `continue`
restarts it), a WATCH from the list's resourceVersion with bookmarks (skipped, but their RV kept),
a relist on 410 Expired (an ERROR event or an HTTP 410: apiserver storage/cacher/watch_cache.go
sends it as one ERROR event), a resume from the last RV on any other disconnect, exponential
backoff with jitter, and an explicit timeout on every call. Each resource has its own thread, each
cluster its own reflectors: a cluster that is down slows nobody else. What the reflector reads goes
to its `ReflectorHandler` (the backend, which feeds the cache); the reflector keeps no objects.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

from mlops_tui.backends.backoff import Backoff
from mlops_tui.backends.clock import SYSTEM_CLOCK, Clock
from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.client import ApiError, StreamHandle, Transport, api_path, gc_paused

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    name: str
    group: str
    version: str
    plural: str
    namespaced: bool = True
    essential: bool = True
    """A 403/404 on a non-essential resource switches it off instead of failing the cluster."""
    field_selector: str = ""
    model_selector: bool = False
    """The operator's model-service label selector applies to this list."""


class Expired(Exception):
    """410: the resourceVersion (or continue token) is too old: relist."""


class Reflector:
    """List + watch one resource (in one namespace or all) in its own thread."""

    def __init__(
        self,
        transport: Transport,
        spec: ResourceSpec,
        handler: ReflectorHandler,
        *,
        namespace: str = "",
        label_selector: str = "",
        page_limit: int = 500,
        watch_timeout: tuple[int, int] = (240, 300),
        idle_timeout: float = 90.0,
        backoff: Backoff | None = None,
        reduce: Callable[[Any], Any] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.transport = transport
        self.spec = spec
        self.handler = handler
        self.namespace = namespace
        self.label_selector = label_selector
        self.page_limit = page_limit
        self.watch_timeout = watch_timeout
        self.idle_timeout = idle_timeout
        self.backoff = backoff or Backoff()
        self.reduce = reduce or (lambda obj: obj)
        self.rv: str | None = None
        self.synced = False
        self.disabled = False
        self.error = ""
        self.failing_since: datetime | None = None
        self.requests: list[tuple[str, str]] = []
        """(kind, resourceVersion) of every list/watch request, oldest first (for tests and logs)."""
        self.relists = 0
        self.clock = clock
        self.last_heard: float | None = None
        """Monotonic time of the latest word from the server (a list page, a watch opened, an event or a
        bookmark): what `liveness.Liveness` reads to tell a quiet cluster from a frozen one."""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._stream: StreamHandle | None = None
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> str:
        ns = self.namespace if self.spec.namespaced else ""
        return api_path(self.spec.group, self.spec.version, self.spec.plural, namespace=ns)

    def _selectors(self) -> list[tuple[str, str]]:
        query = []
        if self.spec.field_selector:
            query.append(("fieldSelector", self.spec.field_selector))
        if self.label_selector:
            query.append(("labelSelector", self.label_selector))
        return query

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"k8s-{self.spec.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        stream = self._stream
        if stream is not None:
            stream.close()

    def wake(self) -> None:
        """The server answers again: a reflector waiting out its backoff after a failure retries now (a long
        freeze has grown every backoff to its cap; no one should wait 30 s more once it is over)."""
        self._wake.set()

    def _pause(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.rv is None and not self._relist():
                    return
                started = time.monotonic()
                seen = self.watch()
                if not seen and time.monotonic() - started < 1.0:
                    # A watch that closes at once, again and again, must not spin.
                    self._stop.wait(self.backoff.next())
            except Expired:
                self.rv = None
                self.relists += 1
                if self.relists > 1:
                    self._stop.wait(min(self.backoff.next(), 2.0))
            except ApiError as exc:
                if self._stop.is_set():
                    return
                if exc.status in (403, 404) and not self.spec.essential:
                    log.info("%s unavailable (%s): not watched", self.spec.name, exc)
                    self.disabled = True
                    self.error = str(exc)
                    self.handler.on_unavailable(self, exc)
                    return
                self._fail(exc)
                self._pause(self.backoff.next())
            except Exception as exc:  # a bug or a malformed answer: report it and keep going
                if self._stop.is_set():
                    return
                log.exception("%s reflector failed", self.spec.name)
                self._fail(ApiError(0, type(exc).__name__, str(exc)))
                self._pause(self.backoff.next())

    def _ok(self) -> None:
        self.backoff.reset()
        if self.failing_since is not None or self.error:
            self.failing_since = None
            self.error = ""
            self.handler.on_status(self)

    def _fail(self, exc: ApiError) -> None:
        first = self.failing_since is None
        if first:
            self.failing_since = utcnow()
        self.error = str(exc)
        self.handler.on_status(self)

    def list(self) -> tuple[list[tuple[tuple[str, str], Any]], str]:
        """Every object as (key, reduced value), and the list's resourceVersion.

        Pages are read one ahead: as soon as a page's continue token is known, a helper thread asks for
        the next one while this thread reduces the page in hand, so the server building the next page
        and its bytes on the wire overlap our translation instead of adding to it."""
        items: list[tuple[tuple[str, str], Any]] = []
        rv = ""
        restarts = 0
        reduce = self.reduce
        with gc_paused():
            asked = ""
            page = _PageAhead(self._page, asked, self.spec.name)
            while True:
                try:
                    body = page.result(self._stop)
                except ApiError as exc:
                    if exc.status == 410 and asked and restarts < 5:
                        # The continue token expired mid-list: start the list again from the top.
                        items, asked, rv, restarts = [], "", "", restarts + 1
                        page = _PageAhead(self._page, asked, self.spec.name)
                        continue
                    raise
                if self._stop.is_set():
                    break
                self.last_heard = self.clock.monotonic()
                body = body if isinstance(body, dict) else {}
                meta = body.get("metadata") or {}
                rv = rv or str(meta.get("resourceVersion") or "")
                asked = str(meta.get("continue") or "")
                if asked:
                    page = _PageAhead(self._page, asked, self.spec.name)
                for obj in body.get("items") or ():
                    if isinstance(obj, dict):
                        items.append((tr.obj_key(obj), reduce(obj)))
                if not asked:
                    break
        return items, rv

    def _relist(self) -> bool:
        """List and hand the result to the handler; False if stopped meanwhile. A method of its own so
        that the list dies with it: a local of `run` would live through every watch until the next
        relist, keeping each listed object alive after its watch event replaced it in the cache (the
        whole first list, held again beside the cache, once churn had touched every object)."""
        items, rv = self.list()
        if self._stop.is_set():
            return False
        self.rv = rv
        self.handler.on_list(self, items)
        self.synced = True
        self._ok()
        return True

    def _page(self, cont: str) -> Any:
        """One page of the list, parsed."""
        query = [("limit", str(self.page_limit)), *self._selectors()]
        if cont:
            query.append(("continue", cont))
        self.requests.append(("list", cont and "continue"))
        return self.transport.request("GET", self.path, query, timeout=(5.0, 60.0)).json()

    def watch(self) -> int:
        """Follow the stream until it closes; returns how many events it carried."""
        low, high = self.watch_timeout
        seconds = random.randint(low, high) if high > low else low
        query = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", self.rv or ""),
            ("timeoutSeconds", str(seconds)),
            *self._selectors(),
        ]
        self.requests.append(("watch", self.rv or ""))
        stream = self.transport.stream(self.path, query, timeout=(5.0, max(self.idle_timeout, 1.0)))
        self._stream = stream
        seen = 0
        try:
            if self._stop.is_set():
                return 0
            self.last_heard = self.clock.monotonic()
            self._ok()
            for line in stream.lines():
                if self._stop.is_set():
                    return seen
                self.last_heard = self.clock.monotonic()
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError:
                    log.warning("%s: undecodable watch line skipped", self.spec.name)
                    continue
                if not isinstance(event, dict):
                    continue
                kind = event.get("type")
                obj = event.get("object")
                obj = obj if isinstance(obj, dict) else {}
                rv = str(tr.meta(obj).get("resourceVersion") or "")
                if kind == "BOOKMARK":
                    if rv:
                        self.rv = rv
                    continue
                if kind == "ERROR":
                    code = tr.as_int(obj.get("code"))
                    if code == 410:
                        raise Expired(str(obj.get("message") or "Expired"))
                    raise ApiError(code, str(obj.get("reason") or "Error"), str(obj.get("message") or ""))
                if kind not in ("ADDED", "MODIFIED", "DELETED"):
                    continue
                seen += 1
                self.handler.on_event(self, kind, tr.obj_key(obj), self.reduce(obj))
                if rv:
                    self.rv = rv
        finally:
            self._stream = None
            stream.close()
        return seen


class _PageAhead:
    """One list page fetched and parsed in a daemon thread (a stopping app does not wait for it)."""

    def __init__(self, fetch: Callable[[str], Any], cont: str, resource: str) -> None:
        self._done = threading.Event()
        self._body: Any = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, args=(fetch, cont), name=f"k8s-{resource}-page", daemon=True).start()

    def _run(self, fetch: Callable[[str], Any], cont: str) -> None:
        try:
            self._body = fetch(cont)
        except BaseException as exc:  # handed to the reflector's thread, which decides
            self._error = exc
        finally:
            self._done.set()

    def result(self, stop: threading.Event) -> Any:
        """The parsed page (its error raised here); None once `stop` is set."""
        while not self._done.wait(0.2):
            if stop.is_set():
                return None
        if self._error is not None:
            raise self._error
        return self._body


class ReflectorHandler:
    """Where a reflector delivers what it read (called from the reflector's own thread)."""

    def on_list(self, reflector: Reflector, items: list[tuple[tuple[str, str], Any]]) -> None: ...

    def on_event(self, reflector: Reflector, kind: str, key: tuple[str, str], value: Any) -> None: ...

    def on_status(self, reflector: Reflector) -> None: ...

    def on_unavailable(self, reflector: Reflector, exc: ApiError) -> None: ...
