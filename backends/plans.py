"""Actions as data: what the operator asked (an intent), what will be sent (a plan), what happened.

An `ActionPlan` is built by the backend that owns the target, shown to the operator as a preview,
and applied once by the Fleet, which then verifies and audits it. Plans never hold clients or raw
engine objects: the mutations are plain (method, path, body) records a reviewer can read.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import uuid4

from mlops_tui.backends.model import ActionKind, ServiceKey

# ---------------------------------------------------------------------------------------------
# Intents: what the operator asked for, before any engine is consulted.


@dataclass(frozen=True, slots=True)
class Scale:
    replicas: int
    kind: ActionKind = field(default=ActionKind.SCALE, init=False)


@dataclass(frozen=True, slots=True)
class SetAutoscalerBounds:
    min_replicas: int
    max_replicas: int
    kind: ActionKind = field(default=ActionKind.SET_AUTOSCALER_BOUNDS, init=False)


@dataclass(frozen=True, slots=True)
class SetCanaryWeight:
    weight: int
    kind: ActionKind = field(default=ActionKind.CANARY_WEIGHT, init=False)


@dataclass(frozen=True, slots=True)
class Promote:
    full: bool = False

    @property
    def kind(self) -> ActionKind:
        return ActionKind.PROMOTE_FULL if self.full else ActionKind.PROMOTE


@dataclass(frozen=True, slots=True)
class Abort:
    kind: ActionKind = field(default=ActionKind.ABORT, init=False)


@dataclass(frozen=True, slots=True)
class Retry:
    kind: ActionKind = field(default=ActionKind.RETRY, init=False)


@dataclass(frozen=True, slots=True)
class SwitchBlueGreen:
    colour: str
    override_unready: bool = False
    """Explicit, audited override of the 'new selector must match a ready pod' precondition."""
    kind: ActionKind = field(default=ActionKind.BLUE_GREEN_SWITCH, init=False)


@dataclass(frozen=True, slots=True)
class Rollback:
    revision: str | None = None
    """None means the previous revision (kubectl rollout undo's default)."""
    kind: ActionKind = field(default=ActionKind.ROLLBACK, init=False)


@dataclass(frozen=True, slots=True)
class UpdateImage:
    image: str
    container: str = ""
    """Which container of a multi-container pod; empty: the service's only (or main) container."""
    kind: ActionKind = field(default=ActionKind.UPDATE_IMAGE, init=False)


@dataclass(frozen=True, slots=True)
class Restart:
    """Replace every pod/task with a fresh one on the same spec (`kubectl rollout restart`,
    `docker service update --force`)."""

    kind: ActionKind = field(default=ActionKind.RESTART, init=False)


@dataclass(frozen=True, slots=True)
class SilenceAlert:
    matchers: tuple[tuple[str, str, bool], ...]
    """(label, value, is_regex)."""
    duration_seconds: int
    comment: str
    kind: ActionKind = field(default=ActionKind.SILENCE, init=False)


@dataclass(frozen=True, slots=True)
class ExpireSilence:
    silence_id: str
    kind: ActionKind = field(default=ActionKind.EXPIRE_SILENCE, init=False)


Intent = (
    Scale
    | SetAutoscalerBounds
    | SetCanaryWeight
    | Promote
    | Abort
    | Retry
    | SwitchBlueGreen
    | Rollback
    | UpdateImage
    | Restart
    | SilenceAlert
    | ExpireSilence
)


def describe_intent(intent: Intent) -> str:
    """One line for humans and the audit log: 'scale to 5', 'canary weight 20%'..."""
    match intent:
        case Scale(replicas=n):
            return f"scale to {n}"
        case SetAutoscalerBounds(min_replicas=lo, max_replicas=hi):
            return f"set autoscaler bounds to {lo}..{hi}"
        case SetCanaryWeight(weight=w):
            return f"canary weight {w}%"
        case Promote(full=full):
            return "promote fully" if full else "promote"
        case Abort():
            return "abort rollout"
        case Retry():
            return "retry rollout"
        case SwitchBlueGreen(colour=c, override_unready=o):
            return f"switch to {c}" + (" (override: target not ready)" if o else "")
        case Rollback(revision=r):
            return f"roll back to revision {r}" if r else "roll back to the previous revision"
        case UpdateImage(image=i, container=c):
            return f"update image of {c} to {i}" if c else f"update image to {i}"
        case Restart():
            return "restart every replica"
        case SilenceAlert(matchers=m, duration_seconds=d):
            shown = ", ".join(f"{k}{'=~' if rx else '='}{v}" for k, v, rx in m)
            return f"silence {{{shown}}} for {d // 60} min"
        case ExpireSilence(silence_id=s):
            return f"expire silence {s}"
    return repr(intent)


# ---------------------------------------------------------------------------------------------
# Plans


class Risk(enum.IntEnum):
    LOW = 0
    MEDIUM = 1
    HIGH = 2


@dataclass(frozen=True, slots=True)
class Mutation:
    """One exact API call: what a reviewer would see in an API server's audit log."""

    method: str
    path: str
    body: Any = None
    content_type: str = "application/json"
    params: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""


@dataclass(frozen=True, slots=True)
class PlanWarning:
    code: str
    """Stable identifier tests and the UI can match: 'hpa-owns-replicas', 'gpu-pending', ..."""
    text: str
    blocking: bool = False
    """A failed precondition: the Fleet refuses the plan, and the preview offers no way to send it."""
    overridable: bool = False
    """The operator may send it anyway (`o` in the preview re-plans with the override; it is audited)."""
    overridden: bool = False
    """This plan carries the operator's override: no longer blocking, and named in the audit record."""


def unready_target_warning(text: str, overridden: bool) -> PlanWarning:
    """Traffic would move to a colour with no (or not all) ready replicas: a failed precondition the
    operator may override explicitly (e.g. to bring a dead service back on the other colour)."""
    return PlanWarning("selector-no-ready-pods", text, blocking=not overridden, overridable=True,
                       overridden=overridden)


@dataclass(frozen=True, slots=True)
class ActionPlan:
    source: str
    """Name of the backend that applies it (the cluster, or the Alertmanager for silences)."""
    target: ServiceKey | None
    """The service acted on; None for actions on other things (silences)."""
    target_name: str
    """How the target reads in previews and the audit log."""
    intent: Intent
    mutations: tuple[Mutation, ...]
    before: Mapping[str, str]
    """Human preview of the fields that change, before → after (same keys in both)."""
    after: Mapping[str, str]
    warnings: tuple[PlanWarning, ...] = ()
    risk: Risk = Risk.LOW
    precondition_version: str = ""
    """resourceVersion / Swarm version index the plan was built against; a conflict re-plans."""
    confirm_text: str = ""
    """When set, the operator must type exactly this to confirm (e.g. scaling production to 0)."""
    production: bool = False
    """The target is production (its engine's marker or the config's `production` patterns): the
    preview says so, and the Fleet asks for the name typed when it reduces capacity or moves traffic."""
    alternatives: tuple[Intent, ...] = ()
    """Other intents worth offering instead (e.g. set the HPA's bounds rather than fight it)."""
    user: str = ""
    noop: bool = False
    """Nothing would change (already at the target); applying does nothing and says so."""
    context: Mapping[str, Any] = field(default_factory=dict)
    """Backend-private data the apply/verify step needs (ids, names), never secrets."""
    id: str = field(default_factory=lambda: uuid4().hex)
    """Lets the Fleet apply a plan at most once."""

    @property
    def description(self) -> str:
        return describe_intent(self.intent)

    @property
    def blocked(self) -> tuple[PlanWarning, ...]:
        return tuple(w for w in self.warnings if w.blocking)


class ActionError(Exception):
    """An action could not be planned or applied; the message is for the operator as is."""


class ActionRefused(ActionError):
    """Refused before anything was sent: read-only, invalid input, failed precondition."""


class ActionForbidden(ActionError):
    """The engine answered 403 / permission denied."""


Followups = Callable[[tuple[str, ...]], "tuple[ActionPlan | None, ActionPlan | None]"]
"""Builds, from the calls of a plan that landed, the plan that sends the rest and the one that undoes them."""


class ActionInDoubt(ActionError):
    """A call was sent and its answer lost (a timeout after sending, a connection reset before the
    answer): the engine may or may not have applied it. Never retried blindly; `probe` re-reads the
    engine once and says True (it holds the change), False (it does not: nothing was applied) or
    None (cannot tell yet: unreachable, or someone else wrote the object meanwhile)."""

    def __init__(self, message: str, *, probe: Callable[[], bool | None], in_doubt: str,
                 landed: tuple[str, ...] = (), not_sent: tuple[str, ...] = (),
                 followups: Followups | None = None) -> None:
        super().__init__(message)
        self.probe = probe
        self.in_doubt = in_doubt
        self.landed = landed
        self.not_sent = not_sent
        self.followups = followups
        """Given the calls known landed once resolved: (completing plan, reverting plan)."""


class ActionPartial(ActionError):
    """A multi-call plan stopped half way: `landed` calls are applied, `not_landed` are not. Carries a
    plan that sends the rest (completing) and one that undoes what landed (reverting), when the backend
    can build them."""

    def __init__(self, message: str, *, landed: tuple[str, ...], not_landed: tuple[str, ...],
                 completing: ActionPlan | None = None, reverting: ActionPlan | None = None) -> None:
        super().__init__(message)
        self.landed = landed
        self.not_landed = not_landed
        self.completing = completing
        self.reverting = reverting


class ActionConflict(ActionError):
    """The object changed since the plan was made (409, 'update out of sequence')."""

    def __init__(self, message: str, changed: str = "") -> None:
        super().__init__(message)
        self.changed = changed


CHANGED_BY_OTHERS = "changed by someone else since your preview"


def field_changes(previewed: ActionPlan, now: ActionPlan | None) -> str:
    """The previewed fields that moved between the preview the operator confirmed and a fresh plan
    against the object as it is now, in the preview's own words ('replicas 3 → 4 (changed by someone
    else since your preview)'); '' when none did. Engine-independent: both plans come from one backend."""
    if now is None:
        return ""
    changes = [f"{key} {previewed.before.get(key, '-') or '-'} → {now.before.get(key, '-') or '-'}"
               for key in _keys_of(previewed.before, now.before)
               if previewed.before.get(key) != now.before.get(key)]
    return f"{', '.join(changes)} ({CHANGED_BY_OTHERS})" if changes else ""


def what_changed(previewed: ActionPlan, now: ActionPlan | None) -> str:
    """`field_changes`, or, when only the object's version moved, that it did."""
    if now is None:
        return ""
    if changes := field_changes(previewed, now):
        return changes
    moved = previewed.precondition_version != now.precondition_version
    return (f"version {previewed.precondition_version} → {now.precondition_version}: the object was written "
            f"since your preview, but no field shown here changed (its status, or a field this preview does not "
            f"show)" if moved else "")


def _keys_of(*maps: Mapping[str, str]) -> list[str]:
    seen: dict[str, None] = {}
    for mapping in maps:
        seen.update(dict.fromkeys(mapping))
    return list(seen)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    converged: bool
    detail: str
    after: Mapping[str, str] = field(default_factory=dict)
    """What the engine holds now, in the same keys as the plan's preview."""


class Outcome(enum.Enum):
    SUCCEEDED = "succeeded"
    """Applied and verified converged."""
    APPLIED_NOT_CONVERGED = "applied-not-converged"
    """Applied, but the object had not converged when the follow timed out."""
    REFUSED = "refused"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    FAILED = "failed"
    NOOP = "noop"
    UNKNOWN = "unknown"
    """Sent, the answer lost, and the engine could not be re-read in time: it may hold the change."""
    NOT_APPLIED = "not-applied"
    """Sent, the answer lost, and re-reading the engine showed it did not apply the change."""
    PARTIAL = "partial"
    """Some calls of a multi-call plan landed and others did not (`landed`, `not_landed`)."""


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    plan: ActionPlan
    outcome: Outcome
    detail: str
    started: datetime
    finished: datetime
    after: Mapping[str, str] = field(default_factory=dict)
    replanned: ActionPlan | None = None
    """On a conflict: a fresh plan against the new state, to show the operator what changed."""
    landed: tuple[str, ...] = ()
    """Calls of the plan the engine holds (set when not all of them landed, or in doubt)."""
    not_landed: tuple[str, ...] = ()
    """Calls of the plan the engine does not hold (refused, not sent, or sent and shown not applied)."""
    completing: ActionPlan | None = None
    """PARTIAL: a plan that sends the calls that did not land (the operator's original intent)."""
    reverting: ActionPlan | None = None
    """PARTIAL: a plan that undoes the calls that landed (back to the preview's `before`)."""

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.SUCCEEDED, Outcome.NOOP)
