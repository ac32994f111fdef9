"""Swarm's own history as timeline entries: each task's state with the time dockerd stamped on it
(Swarm keeps a few past tasks per slot, so a restart finds them again) and each service's
UpdateStatus (updating, paused, rollback_started, completed) with its start or end time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from mlops_tui.backends.model import ServiceKey, Severity
from mlops_tui.backends.swarm import translate as tr
from mlops_tui.backends.timeline import EntrySource, TimelineEntry

TROUBLED_TASK_STATES = frozenset({"failed", "rejected", "orphaned"})
TROUBLED_UPDATES = frozenset({"paused", "rollback_started", "rollback_paused"})


def history(cluster: str, services: Iterable[Mapping[str, Any]], tasks: Iterable[Mapping[str, Any]],
            hostnames: Mapping[str, str] | None = None, *, keys_by_id: Mapping[str, ServiceKey] | None = None,
            lookup: Iterable[Mapping[str, Any]] = ()) -> tuple[TimelineEntry, ...]:
    """Entries for the services' UpdateStatus and their tasks' states; `hostnames` (node id ->
    hostname) names a task's node as `docker service ps` does. `keys_by_id` (service id -> key, as
    translated): the owners of tasks whose service is not among `services`; `lookup`: more tasks
    an update's message may name."""
    keys = dict(keys_by_id or {})
    out: list[TimelineEntry] = []
    tasks = [t for t in tasks if isinstance(t, Mapping)]
    by_id = {str(t.get("ID")): t for t in (*lookup, *tasks) if isinstance(t, Mapping)}
    for service in services:
        if not isinstance(service, Mapping):
            continue
        try:
            key = tr.key_for(cluster, tr.service_facts(service))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # unreadable objects are counted by the translator, not here
        keys[str(service.get("ID"))] = key
        entry = update_entry(cluster, key, service, by_id)
        if entry is not None:
            out.append(entry)
    for task in tasks:
        owner = keys.get(str(task.get("ServiceID") or ""))
        if owner is not None:
            entry = task_entry(cluster, owner, task, hostnames or {})
            if entry is not None:
                out.append(entry)
    return tuple(out)


def update_entry(cluster: str, key: ServiceKey, service: Mapping[str, Any],
                 tasks: Mapping[str, Mapping[str, Any]]) -> TimelineEntry | None:
    """Dated by its end, else by the task whose failure it names (a pause has no time of its own in
    Swarm), else by its start."""
    update = service.get("UpdateStatus")
    if not isinstance(update, Mapping) or not isinstance(update.get("State"), str):
        return None
    state = update["State"]
    text = update["Message"] if isinstance(update.get("Message"), str) else ""
    culprit = tasks.get(text.rsplit(" ", 1)[-1]) if text else None
    culprit_status = culprit.get("Status") if culprit is not None else None
    failed_at = tr.parse_time(culprit_status.get("Timestamp")) if isinstance(culprit_status, Mapping) else None
    if failed_at is not None:
        failed_at += timedelta(microseconds=1)  # the pause follows the failure it names
    at = tr.parse_time(update.get("CompletedAt")) or failed_at or tr.parse_time(update.get("StartedAt"))
    if at is None:
        return None
    message = f": {text}" if text else ""
    return TimelineEntry(
        at=at, cluster=cluster, kind=key.kind.value, namespace=key.namespace, name=key.name,
        what=f"update {state.replace('_', ' ')}{message}", source=EntrySource.ROLLOUT,
        severity=Severity.WARNING if state in TROUBLED_UPDATES else Severity.INFO, service=key,
        identity=f"swarm-update|{cluster}|{service.get('ID')}|{state}|{update.get('StartedAt')}",
    )


def task_entry(cluster: str, key: ServiceKey, task: Mapping[str, Any],
               hostnames: Mapping[str, str]) -> TimelineEntry | None:
    state = tr.readable_state(task)
    raw = task.get("Status")
    status: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    at = tr.parse_time(status.get("Timestamp"))
    if not state or at is None:
        return None
    error = status.get("Err") if isinstance(status.get("Err"), str) else ""
    message = status.get("Message") if isinstance(status.get("Message"), str) else ""
    why = f": {error or message}" if (error or (state in TROUBLED_TASK_STATES and message)) else ""
    node_id = task.get("NodeID") if isinstance(task.get("NodeID"), str) else ""
    node = f" on {hostnames.get(node_id) or node_id[:12]}" if node_id else ""
    return TimelineEntry(
        at=at, cluster=cluster, kind="Task", namespace=key.namespace, name=tr.task_name(key.name, task),
        what=f"task {state}{node}{why}", source=EntrySource.TASK,
        severity=Severity.WARNING if state in TROUBLED_TASK_STATES else Severity.INFO, service=key,
        identity=f"swarm-task|{cluster}|{task.get('ID')}|{state}",
    )
