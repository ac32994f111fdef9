"""What every action mechanism shares: where an object lives, the JSON-patch guards a mutation carries,
the plan record, the reads a planner or verifier makes, and applying a plan once.

Guards: a JSON patch whose `test` operations fail is applied not at all (RFC 6902 §5; kube-apiserver:
staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go answers a failed test with 422 Invalid), so
a mutation tested against what its preview was built from never overwrites a change made since.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Protocol

from mlops_tui.backends.gpu_fit import FitNode
from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.cache import ClusterCache
from mlops_tui.backends.kubernetes.client import ApiError, Transport, api_path
from mlops_tui.backends.model import ModelService, ServiceKey, ServiceKind
from mlops_tui.backends.plans import (
    ActionConflict,
    ActionError,
    ActionForbidden,
    ActionInDoubt,
    ActionPlan,
    Intent,
    Mutation,
    VerifyResult,
)

Check = tuple[bool | None, str, dict[str, str]]
"""One look at the object during verification: (done, what it shows, the 'after' values). done None
means it will not converge (someone else decided otherwise): stop following."""


class Cluster(Protocol):
    """What the action mechanisms need of a cluster's backend (`KubernetesBackend` is one)."""

    name: str
    user: str
    transport: Transport
    optional_available: dict[str, str]
    cache: ClusterCache

    def can(self, ns: str, verb: str, group: str, resource: str, sub: str = "") -> bool | None: ...

    def fit_nodes(self) -> list[FitNode] | None: ...

    def pending_for(self, key: ServiceKey) -> int: ...

    def published(self, key: ServiceKey) -> ModelService | None: ...


JSON_PATCH = "application/json-patch+json"

GROUPS = {
    ServiceKind.DEPLOYMENT: ("apps", "v1", "deployments"),
    ServiceKind.ROLLOUT: ("argoproj.io", "v1alpha1", "rollouts"),
    ServiceKind.INFERENCE_SERVICE: ("serving.kserve.io", "v1beta1", "inferenceservices"),
}
"""(API group, default version, resource) of each kind of model service."""


def object_path(key: ServiceKey, sub: str = "", version: str | None = None) -> str:
    """The service's object (or its `scale`/`status` subresource) at `version` (default: GROUPS')."""
    group, default_version, plural = GROUPS[key.kind]
    return api_path(group, version or default_version, plural, key.namespace, key.name, sub)


def resource_version(obj: Any) -> str:
    return str(tr.meta(obj).get("resourceVersion") or "")


RV_POINTER = "/metadata/resourceVersion"
UID_POINTER = "/metadata/uid"
GENERATION_POINTER = "/metadata/generation"
REBASED_POINTERS = (RV_POINTER, GENERATION_POINTER)
"""What a multi-call plan's own previous call moves on the object: its next call is guarded by the
values that call produced (read from its response), never by the preview's."""


MISSING = object()
"""What `lookup` answers for a pointer to nothing (None is a value a field can hold)."""


def lookup(obj: Any, pointer: str) -> Any:
    """The value at a JSON pointer, or `MISSING`."""
    value: Any = obj
    for raw in pointer.strip("/").split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            return MISSING
    return value


def json_pointer(*tokens: str | int) -> str:
    """A JSON pointer (RFC 6901) to the tokens, '~' and '/' escaped."""
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


def field_tests(obj: Any, *pointers: str) -> list[dict[str, Any]]:
    """A JSON-patch `test` of each pointer that holds a value in `obj` (JSON patch cannot test that a
    field is absent)."""
    ops = []
    for pointer in pointers:
        value = lookup(obj, pointer)
        if value is not MISSING:
            ops.append({"op": "test", "path": pointer, "value": copy.deepcopy(value)})
    return ops


def spec_tested(obj: Any, ops: list[dict[str, Any]], *previewed: str) -> list[dict[str, Any]]:
    """JSON-patch operations that only apply to the object the preview was built from: `test`s of
    its uid (not a namesake created since), of its generation (the API server bumps it on every spec
    change and never on a status write: a rollout stepping, an autoscaler or KServe reconciling do
    not make the operator confirm again) and of each previewed field, then `ops`. A failed test
    makes the server apply none of them (a bare 422 Invalid, classified by `_moved` below)."""
    return [*field_tests(obj, UID_POINTER, GENERATION_POINTER, *previewed), *ops]


def guards_of(mutation: Mutation) -> list[tuple[str, Any]]:
    """The (JSON pointer, value) pairs a mutation is guarded by: its JSON-patch `test`s, or the
    resourceVersion in a merge/strategic/PUT body. Empty when unguarded."""
    body = mutation.body
    if isinstance(body, dict):
        rv = str(tr.meta(body).get("resourceVersion") or "")
        return [(RV_POINTER, rv)] if rv else []
    if isinstance(body, list):
        return [(str(op.get("path")), op.get("value")) for op in body
                if isinstance(op, dict) and op.get("op") == "test"]
    return []


def moved_guards(mutation: Mutation, current: Any) -> list[tuple[str, Any, Any]]:
    """(pointer, guarded value, value now) of every guard `current` no longer satisfies."""
    moved = []
    for pointer, expected in guards_of(mutation):
        now = lookup(current, pointer)
        if pointer == RV_POINTER:
            now, expected = str(now) if now is not MISSING else MISSING, str(expected)
        if now != expected:
            moved.append((pointer, expected, None if now is MISSING else now))
    return moved


def rebased(mutation: Mutation, response: Any) -> Mutation:
    """The same mutation guarded by what the plan's previous call on this object produced (its
    response): that call, and only it, moved the resourceVersion and, for a spec change, the
    generation. Every other guard keeps the preview's value."""
    body = copy.deepcopy(mutation.body)
    if isinstance(body, dict) and isinstance(body.get("metadata"), dict) and body["metadata"].get("resourceVersion"):
        body["metadata"]["resourceVersion"] = resource_version(response) or body["metadata"]["resourceVersion"]
    elif isinstance(body, list):
        for op in body:
            if isinstance(op, dict) and op.get("op") == "test" and op.get("path") in REBASED_POINTERS:
                value = lookup(response, op["path"])
                if value is not MISSING:
                    op["value"] = value
    return replace(mutation, body=body)


def make_plan(backend_name: str, user: str, service: ModelService, intent: Intent, **kw: Any) -> ActionPlan:
    """An `ActionPlan` on the service, by `user` of cluster `backend_name`; `kw` are the plan's fields."""
    return ActionPlan(
        source=backend_name,
        target=service.key,
        target_name=f"{service.key.kind.value} {service.key.namespace}/{service.key.name}",
        intent=intent,
        user=user,
        **kw,
    )


def _object_of(path: str) -> str:
    """The object a request path acts on (the scale and status subresources are parts of it)."""
    for sub in ("/scale", "/status"):
        if path.endswith(sub):
            return path[: -len(sub)]
    return path


def _guards_text(moved: list[tuple[str, Any, Any]]) -> str:
    return "; ".join(f"test of {pointer} failed ({_short(was)} → {_short(now)})" for pointer, was, now in moved)


def _short(value: Any) -> str:
    text = "absent" if value is None else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _changed_text(moved: list[tuple[str, Any, Any]]) -> str:
    """What a conflict says when no previewed field differs between the two previews: the spec was
    changed (its generation moved), or the object was deleted and created again (its uid)."""
    pointers = {pointer for pointer, _, _ in moved}
    if UID_POINTER in pointers:
        return "the object was deleted and created again since your preview"
    if GENERATION_POINTER in pointers:
        was, now = next((w, n) for p, w, n in moved if p == GENERATION_POINTER)
        return (f"generation {was} → {now}: the spec was changed since your preview, in a field this "
                f"preview does not show")
    return ""


def _json_or_none(response: Any) -> Any:
    try:
        return response.json()
    except Exception:
        return None


def now_stamp() -> str:
    """Now, as RFC 3339 in UTC to the second (an Event's timestamps, a restart stamp)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def label_query(selector: Mapping[str, str]) -> list[tuple[str, str]]:
    """A `labelSelector` query parameter for an equality selector ('' selects everything: no parameter)."""
    return [("labelSelector", ",".join(f"{k}={v}" for k, v in sorted(selector.items())))] if selector else []


class ClusterApi:
    """The API server as planners and verifiers read it: every call with a timeout, failures mapped to
    the `ActionError` the operator reads."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    @property
    def transport(self) -> Transport:
        return self.cluster.transport

    @property
    def cache(self) -> ClusterCache:
        return self.cluster.cache

    def error(self, exc: ApiError, key: ServiceKey | None) -> ActionError:
        ns = key.namespace if key else ""
        if exc.status == 403:
            return ActionForbidden(f"not allowed for {self.cluster.user} in {ns or self.cluster.name}")
        if exc.status == 409:
            return ActionConflict(exc.message or "the object has been modified")
        if exc.status == 404:
            return ActionError(f"not found: {exc.message or exc.reason}")
        if exc.status == 0:
            return ActionError(f"cannot reach {self.cluster.name}: {exc.message or exc.reason}")
        return ActionError(f"{exc.status} {exc.reason}: {exc.message}".strip())

    def get(self, path: str, query: Sequence[tuple[str, str]] = ()) -> Any:
        """GET for planning: a failure is the operator's error."""
        try:
            return self.transport.request("GET", path, query, timeout=(5.0, 15.0)).json()
        except ApiError as exc:
            raise self.error(exc, None) from exc

    def read(self, path: str, query: Sequence[tuple[str, str]] = ()) -> dict:
        """GET for verifying: an `ApiError` is left to the verify loop (it keeps following)."""
        return tr.as_dict(self.transport.request("GET", path, query, timeout=(5.0, 10.0)).json())

    def version(self, kind: ServiceKind) -> str | None:
        """The API version discovery prefers for a CRD-backed kind (None: the default)."""
        names = {ServiceKind.ROLLOUT: "rollouts", ServiceKind.INFERENCE_SERVICE: "inferenceservices"}
        return self.cluster.optional_available.get(names.get(kind, ""))

    def fetch(self, key: ServiceKey) -> Any:
        """The service's object as the API server holds it now."""
        try:
            return self.transport.request("GET", object_path(key, "", self.version(key.kind)),
                                          timeout=(5.0, 15.0)).json()
        except ApiError as exc:
            raise self.error(exc, key) from exc

    def hpa(self, key: ServiceKey) -> Any:
        """The HorizontalPodAutoscaler targeting the service, read now (None: there is none)."""
        hkey = self.cache.hpa_key_for(key.namespace, key.kind.value, key.name)
        if hkey is None:
            return None
        try:
            return self.transport.request(
                "GET", api_path("autoscaling", "v2", "horizontalpodautoscalers", *hkey), timeout=(5.0, 15.0)
            ).json()
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise self.error(exc, key) from exc


# -- apply once ------------------------------------------------------------------------------------


def apply_plan(api: ClusterApi, plan: ActionPlan) -> None:
    """Send each mutation once, guarded by what its preview was built from. A later call on the
    same object is guarded by the resourceVersion/generation the previous call produced (only our
    own write sits between them). Any other change of a guarded value is a conflict, reported with
    which calls landed; never retried here."""
    landed: list[str] = []
    responses: dict[str, Any] = {}  # object path -> the object as our last call on it left it
    for mutation in plan.mutations:
        obj = _object_of(mutation.path)
        if obj in responses and guards_of(mutation):
            mutation = rebased(mutation, responses[obj])
        try:
            response = api.transport.request(
                mutation.method,
                mutation.path,
                tuple(mutation.params.items()),
                body=mutation.body,
                content_type=mutation.content_type,
                timeout=(5.0, 15.0),
            )
        except ApiError as exc:
            if may_have_reached(exc):
                raise in_doubt(api, exc, plan, mutation, landed) from exc
            raise _apply_error(api, exc, plan, mutation, landed) from exc
        landed.append(mutation.summary or f"{mutation.method} {mutation.path}")
        answer = _json_or_none(response)
        if resource_version(answer):
            responses[obj] = answer


def _apply_error(api: ClusterApi, exc: ApiError, plan: ActionPlan, mutation: Mutation,
                 landed: list[str]) -> ActionError:
    partial = (f" (already applied: {'; '.join(landed)}; not applied: {mutation.summary or mutation.path})"
               if landed else "")
    if exc.status == 422 and mutation.content_type == JSON_PATCH:
        # kube-apiserver answers a failed JSON-patch `test` with a bare 422 Invalid ("the server
        # rejected our request due to an error in our request"): a conflict only if a guarded value
        # really moved; any other 422 (a real validation error) is reported as it is.
        moved = _moved(api, mutation)
        if moved:
            return ActionConflict(f"{exc.message or exc.reason}: {_guards_text(moved)}{partial}",
                                  changed=_changed_text(moved))
    error = api.error(exc, plan.target)
    return type(error)(f"{error}{partial}")


NOT_SENT_REASONS = frozenset({"NewConnectionError", "ConnectTimeoutError", "ConnectionRefusedError",
                              "NameResolutionError", "LocationParseError"})
"""Transport failures before the request left (urllib3's connect errors): nothing reached the server."""


def may_have_reached(exc: ApiError) -> bool:
    """A lost answer rather than a refusal: a read timeout or a reset after the request was sent (status
    0 with any reason but a connect failure), or a 504 (kube-apiserver's 'request did not complete
    within the allotted timeout' may still be applied: k8s.io/apiserver/pkg/server/filters/timeout.go)."""
    if exc.status == 504:
        return True
    return exc.status == 0 and exc.reason not in NOT_SENT_REASONS


def in_doubt(api: ClusterApi, exc: ApiError, plan: ActionPlan, mutation: Mutation, landed: list[str]) -> ActionInDoubt:
    summary = mutation.summary or f"{mutation.method} {mutation.path}"
    sent = [m.summary or f"{m.method} {m.path}" for m in plan.mutations]
    after = sent[sent.index(summary) + 1:] if summary in sent else []
    return ActionInDoubt(f"{summary}: sent, but the answer was lost ({exc.reason or exc})",
                         probe=lambda: mutation_applied(api, mutation), in_doubt=summary,
                         landed=tuple(landed), not_sent=tuple(after))


def mutation_applied(api: ClusterApi, mutation: Mutation) -> bool | None:
    """Re-read the object the mutation was sent to: True when it holds every value the mutation sets,
    False when it does not and its guards still hold (nobody wrote it: ours did not land), None when it
    cannot be read or someone else changed a guarded value (cannot tell)."""
    try:
        current = api.read(mutation.path)
    except (ApiError, ActionError):
        return None
    if _holds(mutation.body, current):
        return True
    if guards_of(mutation) and moved_guards(mutation, current):
        return None
    return False


def _holds(body: Any, current: Any) -> bool:
    """Whether `current` holds what the patch body sets (JSON patch ops, or a merge-patch subset)."""
    if isinstance(body, list):
        for op in body:
            kind = op.get("op") if isinstance(op, dict) else None
            if kind in ("add", "replace") and lookup(current, str(op["path"])) != op.get("value"):
                return False
            if kind == "remove" and lookup(current, str(op["path"])) is not MISSING:
                return False
        return True
    if isinstance(body, dict):
        return _subset({k: v for k, v in body.items() if k != "metadata"}, current)
    return False


def _subset(wanted: Any, current: Any) -> bool:
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(
            (v is None and k not in current) or (k in current and _subset(v, current[k])) for k, v in wanted.items())
    return bool(wanted == current)


def _moved(api: ClusterApi, mutation: Mutation) -> list[tuple[str, Any, Any]]:
    """The guards of a mutation the object no longer satisfies, read again from the path the
    mutation was sent to (a Scale for `/scale`): empty when none moved or it cannot be read."""
    if not guards_of(mutation):
        return []
    try:
        current = api.read(mutation.path)
    except ApiError:
        return []
    return moved_guards(mutation, current)


# -- verify ----------------------------------------------------------------------------------------

Verifier = Callable[[ClusterApi, ActionPlan], Check]
"""Looks once at what a plan changed (see `Check`)."""


def follow(api: ClusterApi, plan: ActionPlan, check: Verifier, timeout: float,
           progress: Callable[[str], None]) -> VerifyResult:
    """Look again and again until the check says done (or never), or `timeout` seconds pass; every new
    detail goes to `progress`."""
    deadline = time.monotonic() + timeout
    last = ""
    after: dict[str, str] = {}
    while True:
        try:
            done, detail, after = check(api, plan)
        except ApiError as exc:
            done, detail = False, f"cannot read back: {exc}"
        if detail != last:
            progress(detail)
            last = detail
        if done is None:  # will not converge: someone else decided otherwise
            return VerifyResult(False, detail, after)
        if done:
            return VerifyResult(True, detail, after)
        if time.monotonic() >= deadline:
            return VerifyResult(False, f"not converged after {timeout:.0f} s: {detail}", after)
        time.sleep(min(0.25, max(deadline - time.monotonic(), 0.01)))

