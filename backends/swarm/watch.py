"""The Swarm live cache and `SwarmBackend`, the facade the Fleet talks to (`ActionBackend`,
`DescribesServices`, `ListsRevisions`, `RecordsActions`).

Every Engine API call goes through `client.EngineClient`; the actions (`actions.SwarmActions`) get the
same client and never see this cache. Pacing (resync interval, follow-ups, backoff) reads the injected
`Clock`, so the unit tests drive time by hand.

Two threads per Swarm manager:
- `events`: reads `GET /events` (service, node and container events) and marks what moved;
- `sync`: refreshes what the events marked (`GET /services?filters=id` + `GET /tasks?filters=service`:
  small upserts), and runs a full resync every `resync_seconds` (tasks change state without any service
  event) that ends in a `snapshot=True` Change.
Everything derived (canary pairs, blue-green pairs, GPU holders, GPU-pending tasks) is re-translated from
the raw cache after each refresh and only what differs from the last push is sent.

Health: connecting -> connected after the first full sync; a failed resync after a good one is `stale`
(since the last good word heard, a read or an event; the last data stays shown); never synced is `error`.
A failure (dockerd restarting, a network cut) is retried with exponential backoff and jitter; an events
stream that ends triggers an immediate resync, which decides the health. Every call carries an explicit timeout.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from mlops_tui.backends.backoff import backoff_delay
from mlops_tui.backends.base import Change, ChangeSink
from mlops_tui.backends.clock import SYSTEM_CLOCK, Clock
from mlops_tui.backends.model import (
    ClusterHealth,
    ClusterRef,
    GpuNode,
    HealthState,
    LogLine,
    LogOptions,
    LogSources,
    ModelService,
    ObjectText,
    Platform,
    Revision,
    ServiceDetail,
    ServiceKey,
)
from mlops_tui.backends.plans import ActionPlan, Intent, VerifyResult
from mlops_tui.backends.swarm import inspect
from mlops_tui.backends.swarm import translate as tr
from mlops_tui.backends.swarm.actions import SwarmActions
from mlops_tui.backends.swarm.client import (
    DEFAULT_TIMEOUT,
    EngineClient,
    EngineError,
    EventStream,
    SwarmEndpoint,
    endpoint_name,
    one_line,
    open_api,
    parse_endpoint,
)
from mlops_tui.backends.swarm.history import history as swarm_history
from mlops_tui.backends.swarm.logs import TaskNames, stream_service
from mlops_tui.backends.swarm.memo import Memo

log = logging.getLogger(__name__)

EVENT_TYPES = ("service", "node", "container")
EVENT_READ_TIMEOUT = 60.0
"""Docker sends nothing on an idle stream; after this many quiet seconds the stream is re-opened."""
MAX_BACKOFF = 30.0
PARTIAL_LIMIT = 50
"""More services than this (or a tenth of the Swarm's, if more) marked at once: a full resync is
cheaper than a filtered one."""
RESYNC_SHARE = 0.05
"""The periodic full resync takes at most this share of one core: on a Swarm so large that one costs
more CPU than a twentieth of `resync_seconds`, the next comes 20 of its CPU times later (events and
follow-ups keep the services fresh in between; the screen needs the GIL more than the resync)."""
SETTLING_STATES = frozenset({"new", "allocated", "assigned", "accepted", "preparing", "ready", "starting"})
"""Task states that become `running` without an event: such a service is read again shortly."""
FOLLOW_UP_SECONDS = 0.5
FOLLOW_UPS = 40
"""At most this many follow-up reads (20 s) per event; the periodic resync covers the rest."""


class SwarmBackend:
    """One Swarm manager, watched live and acted upon: `ActionBackend`, `DescribesServices`,
    `ListsRevisions`, `RecordsActions`, `ShowsObjects`.

    `client` (default: one built from the endpoint, `timeout` and `api_factory`) makes every Engine API
    call, for the cache and for the actions alike; `clock` paces the resyncs, follow-ups and backoff."""

    def __init__(
        self,
        endpoint: SwarmEndpoint | str,
        *,
        name: str | None = None,
        resync_seconds: float = 5.0,
        timeout: float = DEFAULT_TIMEOUT,
        api_factory: Callable[[SwarmEndpoint, float], Any] = open_api,
        client: EngineClient | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.endpoint = parse_endpoint(endpoint) if isinstance(endpoint, str) else endpoint
        self.name = name or endpoint_name(self.endpoint)
        self.cluster = ClusterRef(self.name, Platform.SWARM, self.endpoint.display)
        self.resync_seconds = resync_seconds
        self.client = client or EngineClient(self.endpoint, timeout, api_factory)
        self._clock = clock
        self._lock = threading.RLock()
        self._services: dict[str, dict] = {}
        self._tasks: dict[str, list[dict]] = {}
        """Tasks by service id: a refresh replaces one service's list and the translation re-reads
        only the lists it was told about."""
        self._nodes: list[dict] = []
        self._view: tr.SwarmView | None = None
        self._memo = Memo()
        """What the last translation made of each unchanged object (2,000 services, 10,000 tasks)."""
        self._told: set[bytes] = set()
        """The JSON bytes of every service and task whose history the last full resync reported."""
        self._without_id = 0
        self._sink: ChangeSink | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._dirty: set[str] = set()
        self._dirty_all = True
        self._threads: list[threading.Thread] = []
        self._event_stream: EventStream | None = None
        self._health: ClusterHealth | None = None
        self._synced_once = False
        self._last_sync: datetime | None = None
        self._last_word: datetime | None = None
        """The latest good word from dockerd (a full or partial read, an event): what a stale view's
        age counts from, so that it shows how old the data is, not when the failure was noticed."""
        self._user = _os_user()
        self.resyncs = 0
        """Full resyncs done (tests and the benchmark read it)."""
        self._actions = SwarmActions(self.client, self.name, self._operator)

    # -- Backend -------------------------------------------------------------------------------

    def start(self, sink: ChangeSink) -> None:
        self._sink = sink
        self._stopping.clear()
        for target, label in ((self._sync_loop, "sync"), (self._event_loop, "events")):
            thread = threading.Thread(target=target, name=f"swarm-{label}-{self.name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._close_event_stream()
        for thread in self._threads:
            thread.join(timeout=1.0)
        self._threads = []
        self.client.close()

    @property
    def health(self) -> ClusterHealth | None:
        return self._health

    @property
    def view(self) -> tr.SwarmView | None:
        """The last translated picture (what was pushed), or None before the first sync."""
        return self._view

    # -- ActionBackend ------------------------------------------------------------------------

    def plan(self, service: ModelService, intent: Intent) -> ActionPlan:
        return self._actions.plan(service, intent)

    def apply(self, plan: ActionPlan) -> None:
        self._actions.apply(plan)
        self.refresh_soon()

    def verify(self, plan: ActionPlan, timeout: float, progress: Callable[[str], None]) -> VerifyResult:
        try:
            return self._actions.verify(plan, timeout, progress)
        finally:
            self.refresh_soon()

    def record_action(self, outcome: Any, operator: str) -> None:
        """Swarm has no event object to write to: the Fleet's audit log is the record."""

    def describe(self, service: ModelService) -> ServiceDetail:
        """Tasks (with history), task errors and the two specs Swarm keeps, read now."""
        raw = self.client.service(service.key.name)
        return tr.detail(raw, self.client.task_history(raw["ID"]), self.client.nodes())

    def revisions(self, service: ModelService) -> tuple[Revision, ...]:
        """What the rollback picker offers: Swarm keeps one spec to go back to, PreviousSpec."""
        raw = self.client.service(service.key.name)
        return tuple(r for r in tr.detail(raw, (), ()).revisions if r.revision == "previous")

    def log_sources(self, service: ModelService) -> LogSources:
        """The service's tasks as `docker service logs` names them; Swarm keeps no previous instance."""
        raw = self.client.service(service.key.name)
        names = TaskNames(self.client, raw)
        names.refresh()
        return LogSources(replicas=names.replicas())

    def stream_logs(self, service: ModelService, options: LogOptions, on_line: Callable[[LogLine], None],
                    on_status: Callable[[str], None], stop: threading.Event) -> None:
        """`docker service logs` (every task), or one task's logs when one is picked."""
        task_ids: tuple[str, ...] = ()
        if options.replica:  # `service.slot.taskid@node`: the id is the part before '@'
            task_ids = (options.replica.rsplit("@", 1)[0].rsplit(".", 1)[-1],)
        stream_service(self.client, service.key.name, options, on_line, on_status, stop, task_ids)

    # -- the object screen (ShowsObjects) ---------------------------------------------------------

    def manifest(self, service: ModelService, managed_fields: bool = False) -> ObjectText:
        """`docker service inspect` (Swarm has no managed fields: the flag changes nothing)."""
        return ObjectText(self._title("service", service.key.name), "json",
                          inspect.as_json(self.client.inspect_service(service.key.name)))

    def describe_object(self, service: ModelService) -> ObjectText:
        """`docker service inspect --pretty`, GPUs reserved included."""
        raw = self.client.inspect_service(service.key.name)
        names = {}
        for network in inspect.attached_networks(raw):
            with contextlib.suppress(EngineError):  # as the CLI does, an unknown network keeps its ID
                names[network] = self.client.network_name(network)
        return ObjectText(self._title("service", service.key.name), "text", inspect.pretty_service(raw, names))

    def node_manifest(self, node: GpuNode, managed_fields: bool = False) -> ObjectText:
        return ObjectText(self._title("node", node.node), "json", inspect.as_json(self.client.node(node.node)))

    def describe_node(self, node: GpuNode) -> ObjectText:
        """`docker node inspect --pretty`, then its GPUs and the tasks holding them as last read."""
        raw = self.client.node(node.node)
        view = self._view
        gpu = view.gpu_nodes.get(node.node, node) if view is not None else node
        return ObjectText(self._title("node", node.node), "text",
                          inspect.pretty_node(raw, gpu, inspect.holders_of(gpu)))

    def _title(self, kind: str, name: str) -> str:
        return f"Swarm {kind} {name} on {self.name}"

    def refresh_soon(self) -> None:
        """Ask for a full resync now (after an action, or when events were lost)."""
        with self._lock:
            self._dirty_all = True
        self._wake.set()

    def _operator(self) -> str:
        """Who acts, as the plans record it: the OS user, once the first health was reported."""
        return self._health.user if self._health else ""

    # -- sync ----------------------------------------------------------------------------------

    def full_resync(self) -> tr.SwarmView:
        """Re-read services, tasks and nodes; push a snapshot Change. Raises on failure.

        A large Swarm is read in parts, by the first character of the objects' IDs (dockerd matches
        an `id` filter as a prefix, and swarmkit's IDs are lowercase base 36): one body of 2,000
        services or 10,000 tasks took 33-84 ms to parse, all of it holding the GIL, and a key
        pressed then waited for it (key -> frame p99 233 ms under churn; 77 ms without resyncs).
        The parts are read at different moments: what moves in between is told by its event, and
        the services whose events came during the read are refreshed after it."""
        with self._lock:
            asked_before = set(self._dirty)
            service_parts = id_prefix_parts(len(self._services), SERVICES_PER_READ)
            task_parts = id_prefix_parts(sum(map(len, self._tasks.values())), TASKS_PER_READ)
        services = [s for part in service_parts for s in self.client.services(id_prefixes=part)]
        tasks = [t for part in task_parts for t in self.client.tasks(id_prefixes=part)]
        nodes = self.client.nodes()
        finished = [t for part in task_parts for t in self._finished_tasks(id_prefixes=part)]
        with self._lock:
            self._memo.read_again(self._services.values())
            self._memo.read_again(t for group in self._tasks.values() for t in group)
            self._services, odd_services = _by_id(services)
            by_id, odd_tasks = _by_id(tasks)
            self._tasks = {}
            for task in by_id.values():
                self._tasks.setdefault(str(task.get("ServiceID", "")), []).append(task)
            self._nodes = nodes if isinstance(nodes, list) else []
            self._without_id = odd_services + odd_tasks
            self._dirty -= asked_before  # read in this resync; those that came during it are not
            self._dirty_all = False
            view = self._translate()
            self._view = view
            self.resyncs += 1
        self._emit(Change(
            source=self.name,
            services=dict(view.services),
            gpu_nodes=dict(view.gpu_nodes),
            pending_gpu=view.pending_gpu,
            snapshot=True,
            history=self._new_history(view, services, [*tasks, *finished]),
        ))
        return view

    def _new_history(self, view: tr.SwarmView, services: list[dict], tasks: list[dict]) -> tuple:
        """Timeline entries of the services and tasks that changed since the last full resync: the
        timeline already holds those of the others (10,000 tasks every few seconds, otherwise)."""
        told = self._told
        self._told = {key for obj in (*services, *tasks) if (key := self._memo.key(obj)) is not None}
        changed_services = [s for s in services if self._memo.key(s) not in told]
        changed_tasks = [t for t in tasks if self._memo.key(t) not in told]
        return swarm_history(self.name, changed_services, changed_tasks, self._hostnames(),
                             keys_by_id=view.keys_by_id, lookup=tasks)

    def _hostnames(self) -> dict[str, str]:
        """Node id -> hostname, as `docker service ps` names a task's node."""
        names = {}
        for node in self._nodes:
            if isinstance(node, dict):
                host = (node.get("Description") or {}).get("Hostname")
                if isinstance(host, str) and host:
                    names[str(node.get("ID"))] = host
        return names

    def _finished_tasks(self, service_ids: list[str] | None = None, *,
                        id_prefixes: Sequence[str] | None = None) -> list[dict]:
        """The ended tasks for the timeline (a failed task leaves the running set at once); never
        what fails a resync: without them the timeline only misses the failures."""
        try:
            if service_ids == []:
                return []
            finished = self.client.finished_tasks(service_ids, id_prefixes=id_prefixes)
        except Exception as exc:
            log.info("%s: finished tasks unavailable for the timeline: %s", self.name, exc)
            return []
        return finished if isinstance(finished, list) else []

    def refresh_services(self, ids: list[str]) -> set[str]:
        """Re-read the named services and their tasks; push only what changed.

        Only these services (and the pairs and stacks they belong to) are translated again. Their
        ended tasks (for the timeline) are read only when a task left the set meant to run (failed,
        replaced, scaled down): a scale up or a task starting costs two small reads, not three.

        Returns the services whose tasks are still on their way to running: Swarm moves a task
        from starting to running with no further event, so those are read again shortly."""
        present = {sid: s for sid, s in _by_id(self.client.services(ids))[0].items() if sid in ids}
        tasks = list(_by_id(self.client.tasks(sorted(present)))[0].values()) if present else []
        wanted = set(ids)
        with self._lock:
            self._memo.read_again(self._services[sid] for sid in ids if sid in self._services)
            self._memo.read_again(t for sid in ids for t in self._tasks.get(sid, ()))
            kept = {t.get("ID") for t in tasks}
            left = sorted(sid for sid in present if any(t.get("ID") not in kept for t in self._tasks.get(sid, ())))
            for sid in ids:
                if sid in present:
                    self._services[sid] = present[sid]
                else:
                    self._services.pop(sid, None)
                self._tasks.pop(sid, None)
            for task in tasks:
                sid = str(task.get("ServiceID", ""))
                if sid in wanted:
                    self._tasks.setdefault(sid, []).append(task)
            old = self._view
            view = self._translate(wanted)
            self._view = view
        self._emit_diff(old, view)
        entries = swarm_history(self.name, present.values(), [*tasks, *self._finished_tasks(left)],
                                self._hostnames())
        if entries:
            self._emit(Change(source=self.name, history=entries))
        return {str(t.get("ServiceID")) for t in tasks if t.get("DesiredState") == "running"
                and tr.readable_state(t) in SETTLING_STATES}

    def _translate(self, fresh: set[str] | None = None) -> tr.SwarmView:
        """Everything again (`fresh` None), or only the services read again since the last view."""
        return tr.translate_grouped(self.name, self._services, self._tasks, self._nodes, self._memo,
                                    previous=self._view if fresh is not None else None, fresh=fresh)

    def _emit_diff(self, old: tr.SwarmView | None, new: tr.SwarmView) -> None:
        if old is None:
            self._emit(Change(source=self.name, services=dict(new.services), gpu_nodes=dict(new.gpu_nodes),
                              pending_gpu=new.pending_gpu, snapshot=True))
            return
        if new.touched is not None:  # a partial translation of `old`: only these rows may have moved
            services: dict[ServiceKey, ModelService | None] = {
                k: new.services.get(k) for k in new.touched if old.services.get(k) != new.services.get(k)}
        else:
            services = {k: v for k, v in new.services.items() if (was := old.services.get(k)) is not v and was != v}
            services.update({k: None for k in old.services if k not in new.services})
        nodes: dict[str, Any] = {}
        if new.gpu_nodes is not old.gpu_nodes:  # a partial translation reuses them when no GPU task moved
            nodes = {k: v for k, v in new.gpu_nodes.items() if old.gpu_nodes.get(k) != v}
            nodes.update({k: None for k in old.gpu_nodes if k not in new.gpu_nodes})
        pending = new.pending_gpu if new.pending_gpu != old.pending_gpu else None
        if services or nodes or pending is not None:
            self._emit(Change(source=self.name, services=services, gpu_nodes=nodes, pending_gpu=pending))

    def _emit(self, change: Change) -> None:
        sink = self._sink
        if sink is not None and not self._stopping.is_set():
            sink(change)

    def _sync_loop(self) -> None:
        attempt = 0
        next_full = 0.0
        follow: dict[str, tuple[float, int]] = {}  # service id -> (due, follow-ups left)
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                now = self._clock.monotonic()
                with self._lock:
                    fresh = set(self._dirty)
                    due = {sid for sid, (when, _) in follow.items() if when <= now}
                    dirty, self._dirty = sorted(fresh | due), set()
                    full = (self._dirty_all or now >= next_full
                            or len(dirty) > max(PARTIAL_LIMIT, len(self._services) // 10))
                if full:
                    cpu = time.thread_time()  # CPU, not wall time: a slow link is no reason to wait longer
                    self.full_resync()
                    follow.clear()
                    cpu = time.thread_time() - cpu
                    next_full = self._clock.monotonic() + max(self.resync_seconds, cpu / RESYNC_SHARE)
                    self._last_sync = self._last_word = self._clock.now()
                    self._synced_once = True
                    self._set_health(HealthState.CONNECTED)
                elif dirty:
                    try:
                        settling = self.refresh_services(dirty)
                        self._last_word = self._clock.now()
                        for sid in dirty:
                            left = FOLLOW_UPS if sid in fresh else follow.get(sid, (0.0, 0))[1] - 1
                            if sid in settling and left > 0:
                                follow[sid] = (self._clock.monotonic() + FOLLOW_UP_SECONDS, left)
                            else:
                                follow.pop(sid, None)
                    except Exception as exc:
                        # A service removed between two calls (404) or a blip: the full resync that
                        # follows at once decides the health, not this small refresh.
                        log.debug("swarm %s: refresh of %d services failed: %s", self.name, len(dirty), exc)
                        with self._lock:
                            self._dirty_all = True
                        continue
                attempt = 0
            except Exception as exc:
                if self._stopping.is_set():
                    return
                log.debug("swarm %s: sync failed: %s", self.name, exc)
                with self._lock:
                    self._dirty_all = True
                self._set_health(HealthState.STALE if self._synced_once else HealthState.ERROR,
                                 one_line(exc) if not isinstance(exc, EngineError) else exc.message)
                self._clock.wait(self._stopping, backoff_delay(attempt, cap=MAX_BACKOFF))
                attempt += 1
                continue
            soonest = min([next_full, *(when for when, _ in follow.values())])
            self._clock.wait(self._wake, soonest - self._clock.monotonic())

    # -- events --------------------------------------------------------------------------------

    def _event_loop(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            opened = self._clock.monotonic()
            try:
                stream = self._open_events()
                self.refresh_soon()  # whatever happened while the stream was closed
                for event in stream:
                    if self._stopping.is_set():
                        return
                    attempt = 0
                    self._last_word = self._clock.now()
                    self._on_event(event)
                # The stream ended: dockerd closed it (shutting down), or an engine that does not stream.
            except Exception as exc:
                if self._stopping.is_set():
                    return
                if "timed out" in str(exc).lower() and self._clock.monotonic() - opened >= EVENT_READ_TIMEOUT / 2:
                    continue  # an idle stream: re-open at once
                log.debug("swarm %s: event stream failed: %s", self.name, exc)
            finally:
                self._close_event_stream()
            # Failed, or ended: back off (a stream that keeps ending at once must not spin; the
            # periodic resync keeps the data fresh meanwhile) and resync what the gap may have hidden.
            self.refresh_soon()
            lived = self._clock.monotonic() - opened
            if lived > MAX_BACKOFF:
                attempt = 0
            self._clock.wait(self._stopping, backoff_delay(attempt, cap=MAX_BACKOFF))
            attempt += 1

    def _open_events(self) -> EventStream:
        stream = self.client.open_events(EVENT_TYPES, EVENT_READ_TIMEOUT)
        self._event_stream = stream
        if self._stopping.is_set():  # stop() ran while it was opening: it could not close this one
            self._close_event_stream()
        return stream

    def _close_event_stream(self) -> None:
        stream, self._event_stream = self._event_stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()

    def _on_event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("Type")
        actor = event.get("Actor") or {}
        if kind == "service":
            sid = str(actor.get("ID", ""))
        elif kind == "container":
            sid = str((actor.get("Attributes") or {}).get("com.docker.swarm.service.id", ""))
        elif kind == "node":
            self.refresh_soon()
            return
        else:
            return
        if sid:
            with self._lock:
                self._dirty.add(sid)
            self._wake.set()

    # -- health --------------------------------------------------------------------------------

    @property
    def unreadable(self) -> int:
        """Objects of the last full read set aside because they could not be read."""
        return self._without_id + (self._view.unreadable if self._view is not None else 0)

    def _set_health(self, state: HealthState, error: str = "") -> None:
        old = self._health
        if old is not None and old.state == state and old.error == error and old.unreadable == self.unreadable:
            return
        if old is not None and old.state == state:
            since = old.since
        elif state is HealthState.STALE and self._last_word is not None:
            since = self._last_word  # the data shown is as old as the last word heard
        else:
            since = self._clock.now()
        self._health = ClusterHealth(
            source=self.name,
            platform=Platform.SWARM,
            state=state,
            since=since,
            last_sync=self._last_sync,
            error=error,
            endpoint=self.endpoint.display,
            user=self._user,
            unreadable=self.unreadable,
        )
        self._emit(Change(source=self.name, health=self._health))


ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
"""The characters a swarmkit ID is made of (`identity.NewID`: 25 lowercase base-36 digits)."""

SERVICES_PER_READ = 300
TASKS_PER_READ = 1200
"""About this many objects per body of a full resync (~300 KB: ~5 ms of parsing with the GIL held)."""


def id_prefix_parts(count: int, per_read: int) -> list[tuple[str, ...] | None]:
    """The `id` prefix groups that read `count` objects about `per_read` at a time, together every
    ID there is; [None] (one read of everything) when they fit in one."""
    parts = min(len(ID_ALPHABET), -(-count // per_read))
    if parts <= 1:
        return [None]
    size = -(-len(ID_ALPHABET) // parts)
    return [tuple(ID_ALPHABET[i:i + size]) for i in range(0, len(ID_ALPHABET), size)]


def _by_id(objects: Any) -> tuple[dict[str, Any], int]:
    """Engine objects by their ID, and how many had none (not an object, or no string ID): those are
    set aside and counted, never allowed to fail the whole read."""
    items = objects if isinstance(objects, list) else []
    keyed = {o["ID"]: o for o in items if isinstance(o, Mapping) and isinstance(o.get("ID"), str)}
    return keyed, len(items) - len(keyed)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"
