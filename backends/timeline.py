"""The incident timeline: what happened in the fleet, in order, one plain sentence per entry.

`TimelineEntry` is the domain type (what every source produces); `Timeline` is the bounded,
time-ordered store the Fleet fills. Entries carry an `identity` so that the same fact seen twice (a
relist, a restart re-reading the engines' history, an action both in the audit log and in its
Kubernetes Event) is kept once.
"""

from __future__ import annotations

import bisect
import enum
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from mlops_tui.backends.model import ServiceKey, ServiceKind, Severity

MAX_ENTRIES = 5000
"""Entries kept (the oldest go first): about 2.5 MB at ~500 bytes an entry."""
SAME_FACT_WITHIN = timedelta(minutes=2)
"""Two sources telling one fact (a node's NotReady seen in the fleet's state and in the node
controller's Event) are one entry when they are dated this close."""


class EntrySource(enum.Enum):
    """What kind of fact an entry is: the timeline's `kind` filter."""

    EVENT = "event"
    """A Kubernetes Event (Warning events are first-class: they carry severity WARNING)."""
    REVISION = "revision"
    """A Deployment/ReplicaSet revision, a Swarm spec version, a KServe revision moved."""
    ROLLOUT = "rollout"
    """An Argo Rollout step or phase, a Swarm UpdateStatus, an abort."""
    TRAFFIC = "traffic"
    """A canary weight (KServe, Istio, Argo, Swarm pair) or a blue-green switch."""
    SCALING = "scaling"
    """An autoscaler's or an operator's replica count moved."""
    TASK = "task"
    """A Swarm task changed state."""
    NODE = "node"
    """A GPU node went NotReady, came back, was cordoned."""
    LATENCY = "latency"
    """A service's p95 crossed its SLO."""
    ALERT = "alert"
    """An alert went pending, firing, silenced, resolved; a silence expired."""
    ACTION = "action"
    """An operator's action (this one's audit log, anyone's `MlopsTuiAction` Event)."""


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    cluster: str
    """The cluster, Swarm or alert source it happened on."""
    kind: str
    """The object's kind: 'Deployment', 'Pod', 'Node', 'SwarmService', 'Task', 'Alert', ..."""
    name: str
    what: str
    """What happened, in plain words (text from a cluster is shown through tui/format.py)."""
    source: EntrySource
    severity: Severity = Severity.INFO
    namespace: str = ""
    service: ServiceKey | None = None
    identity: str = ""
    """What makes two sightings the same fact; empty: every field but the identity."""
    fact: str = ""
    """What the entry tells, whatever told it ('node|prod-a|gpu-node-2|NotReady'): an entry whose
    fact another source told within `SAME_FACT_WITHIN` is not kept twice. Empty: no such check."""

    @property
    def key(self) -> str:
        return self.identity or repr((self.at, self.cluster, self.kind, self.namespace, self.name, self.what))

    @property
    def object(self) -> str:
        """'Deployment ml-prod/bert', 'Node gpu-node-2'."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}".strip()


@dataclass(frozen=True, slots=True)
class TimelineFilter:
    """What the operator narrowed the timeline to; empty fields match everything."""

    service: str = ""
    """A service name (matched whole, or the entry's own object name)."""
    cluster: str = ""
    sources: frozenset[EntrySource] = frozenset()
    since: datetime | None = None

    def matches(self, entry: TimelineEntry) -> bool:
        if self.since is not None and entry.at < self.since:
            return False
        if self.cluster and entry.cluster != self.cluster:
            return False
        if self.sources and entry.source not in self.sources:
            return False
        if self.service:
            named = entry.service.name if entry.service is not None else entry.name
            return self.service in (named, entry.name)
        return True


class Timeline:
    """Entries ordered by time (ties in arrival order), at most `limit`, each fact once. Thread-safe:
    backends' threads, the Fleet's publisher and the app add to it."""

    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._order: list[tuple[datetime, int]] = []
        self._entries: dict[tuple[datetime, int], TimelineEntry] = {}
        self._seen: dict[str, tuple[datetime, int]] = {}
        self._facts: dict[str, list[datetime]] = {}
        self._arrivals = 0
        self.version = 0
        """Moves with every add that kept something: views redraw only then."""

    def add(self, entries: Iterable[TimelineEntry]) -> int:
        """Keep the entries not seen before (or seen before without their service, which a later
        sighting names); returns how many were kept or completed."""
        kept = 0
        with self._lock:
            for entry in entries:
                if entry.key in self._seen:
                    slot = self._seen[entry.key]
                    if self._entries[slot].service is None and entry.service is not None:
                        # seen again knowing its service (an alert that came before the services did)
                        self._entries[slot] = entry if entry.at == slot[0] else replace(entry, at=slot[0])
                        kept += 1
                    continue
                if len(self._order) >= self.limit and self._order and entry.at < self._order[0][0]:
                    continue  # older than everything a full store keeps: it would be evicted at once
                if entry.fact:
                    told = self._facts.setdefault(entry.fact, [])
                    if any(abs(entry.at - at) <= SAME_FACT_WITHIN for at in told):
                        continue  # another source told it already
                    told.append(entry.at)
                self._arrivals += 1
                slot = (entry.at, self._arrivals)
                bisect.insort(self._order, slot)
                self._entries[slot] = entry
                self._seen[entry.key] = slot
                kept += 1
                while len(self._order) > self.limit:
                    oldest = self._order.pop(0)
                    gone = self._entries.pop(oldest)
                    self._seen.pop(gone.key, None)
                    if gone.fact and gone.fact in self._facts:
                        told = [at for at in self._facts[gone.fact] if at != gone.at]
                        if told:
                            self._facts[gone.fact] = told
                        else:
                            del self._facts[gone.fact]
            if kept:
                self.version += 1
        return kept

    def entries(self, where: TimelineFilter | None = None) -> tuple[TimelineEntry, ...]:
        """Oldest first."""
        with self._lock:
            found = [self._entries[slot] for slot in self._order]
        return tuple(e for e in found if where is None or where.matches(e))

    def __len__(self) -> int:
        with self._lock:
            return len(self._order)


ACTION_ID_ANNOTATION = "mlops-tui.io/action-id"
"""On each `MlopsTuiAction` Event: the plan id the audit log records, so an action read from both
is one entry."""


def action_identity(action_id: str) -> str:
    return f"action|{action_id}"


def action_entry(record: Mapping[str, Any], at: datetime) -> TimelineEntry | None:
    """One operator's action from its audit record (the result line, or an intent whose result was
    never written), in the words of the audit log; None for a record without an id."""
    action_id = str(record.get("id") or "")
    if not action_id:
        return None
    result = str(record.get("result") or "")
    if result == "intent":
        result = "sent, result not recorded"
    operator = str(record.get("operator") or record.get("user") or "someone")
    user = str(record.get("user") or "")
    who = operator if user in ("", operator) else f"{operator} (as {user})"
    what = f"{who}: {record.get('intent') or record.get('action') or 'action'}: {result}"
    kind = str(record.get("kind") or "")
    namespace = str(record.get("namespace") or "")
    name = str(record.get("target") or "")
    cluster = str(record.get("cluster") or "")
    service = None
    kinds = {k.value: k for k in ServiceKind}
    if kind in kinds and name:
        service = ServiceKey(cluster, namespace, kinds[kind], name)
    failed = result not in ("succeeded", "noop", "nothing to do")
    return TimelineEntry(at=at, cluster=cluster, kind=kind or "Action", namespace=namespace, name=name, what=what,
                         source=EntrySource.ACTION, severity=Severity.WARNING if failed else Severity.INFO,
                         service=service, identity=action_identity(action_id))
