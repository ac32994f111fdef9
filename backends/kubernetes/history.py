"""Kubernetes Events as timeline entries: Warning events first-class, Normal ones that say what
changed (a node NotReady, an HPA's rescale, a ReplicaSet scaled, Argo's steps and analysis runs),
`MlopsTuiAction` events as actions (anyone's, from any terminal). The API server keeps Events for
an hour by default, so a restart finds them again; their identity (uid and last time) keeps each
sighting once."""

from __future__ import annotations

import re
from collections.abc import Callable

from mlops_tui.backends.kubernetes.actions.planner import EVENT_REASON
from mlops_tui.backends.kubernetes.translate import EventFacts
from mlops_tui.backends.model import ServiceKey, Severity
from mlops_tui.backends.timeline import EntrySource, TimelineEntry, action_identity
from mlops_tui.backends.timeline_diff import node_fact, rescale_fact

ServiceOf = Callable[[str, str, str], ServiceKey | None]
"""(namespace, kind, name) of an involved object -> the model service it belongs to, if any."""


ROUTINE = frozenset({"Scheduled", "Pulling", "Pulled", "Created", "Started", "Killing", "SuccessfulCreate",
                     "SuccessfulDelete", "SandboxChanged", "SuccessfulAttachVolume", "NoPods"})
"""Normal Events every pod start and stop makes: they would drown what changed."""
LOUD = frozenset({"NodeNotReady", "NodeNotSchedulable", "RolloutAborted", "AnalysisRunFailed", "RolloutDegraded"})
"""Normal-typed Events an operator must not read as routine."""
NODE_BECAME = {"NodeNotReady": "NotReady", "NodeReady": "Ready", "NodeNotSchedulable": "cordoned",
               "NodeSchedulable": "uncordoned"}
NEW_SIZE = re.compile(r"New size: (\d+)")


def _fact(cluster: str, event: EventFacts) -> str:
    """The fact the fleet's own state also tells (a node's NotReady, an autoscaler's new size): kept
    once in the timeline, whichever told it first."""
    if event.kind == "Node" and event.reason in NODE_BECAME:
        return node_fact(cluster, event.name, NODE_BECAME[event.reason])
    size = NEW_SIZE.search(event.message) if event.reason == "SuccessfulRescale" else None
    if size is not None:
        return rescale_fact(cluster, event.namespace, event.name, int(size.group(1)))
    return ""


def event_entry(cluster: str, event: EventFacts, service_of: ServiceOf) -> TimelineEntry | None:
    """The Event as an entry; None for an undated or routine one."""
    if event.time is None or (event.type != "Warning" and event.reason in ROUTINE):
        return None
    service = service_of(event.namespace, event.kind, event.name)
    action = event.reason == EVENT_REASON
    words = f"{event.reason}: {event.message}" if not action else event.message
    if action:
        identity = action_identity(event.action_id) if event.action_id else f"event|{event.uid}"
    else:
        # a repeated event (count+1) is the same object with a later time: one entry per time it was seen
        identity = f"event|{event.uid or (event.namespace, event.kind, event.name, event.reason)}|{event.time}"
    warning = event.type == "Warning" or event.reason in LOUD
    return TimelineEntry(
        at=event.time, cluster=cluster, kind=event.kind or "Event", namespace=event.namespace, name=event.name,
        what=words, source=EntrySource.ACTION if action else EntrySource.EVENT,
        severity=Severity.WARNING if warning else Severity.INFO, service=service, identity=identity,
        fact="" if action else _fact(cluster, event),
    )
