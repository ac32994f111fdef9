"""What the operator may do, asked of the API server: `SelfSubjectAccessReview` per (namespace, verb,
resource), cached, and `SelfSubjectReview` for who the server thinks the operator is.

`kubectl auth can-i` asks the same question (kubectl: staging/src/k8s.io/kubectl/pkg/cmd/auth/cani.go);
`kubectl auth whoami` the second (staging/src/k8s.io/kubectl/pkg/cmd/auth/whoami.go). A denied action is
greyed out in the fleet before the operator tries it, and refused at plan time if they do.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.client import ApiError, Transport
from mlops_tui.backends.model import ActionKind, ServiceKind

log = logging.getLogger(__name__)

Permission = tuple[str, str, str, str]
"""(verb, API group, resource, subresource)."""

# (verb, group, resource, subresource) each action needs, by service kind.
PERMISSIONS: dict[tuple[ServiceKind, ActionKind], tuple[Permission, ...]] = {
    (ServiceKind.DEPLOYMENT, ActionKind.SCALE): (("patch", "apps", "deployments", "scale"),),
    (ServiceKind.DEPLOYMENT, ActionKind.ROLLBACK): (("patch", "apps", "deployments", ""),),
    (ServiceKind.DEPLOYMENT, ActionKind.SET_AUTOSCALER_BOUNDS): (
        ("patch", "autoscaling", "horizontalpodautoscalers", ""),
    ),
    (ServiceKind.DEPLOYMENT, ActionKind.CANARY_WEIGHT): (("update", "networking.istio.io", "virtualservices", ""),),
    (ServiceKind.DEPLOYMENT, ActionKind.BLUE_GREEN_SWITCH): (("patch", "", "services", ""),),
    (ServiceKind.ROLLOUT, ActionKind.SCALE): (("patch", "argoproj.io", "rollouts", "scale"),),
    (ServiceKind.ROLLOUT, ActionKind.ROLLBACK): (("patch", "argoproj.io", "rollouts", ""),),
    (ServiceKind.ROLLOUT, ActionKind.SET_AUTOSCALER_BOUNDS): (
        ("patch", "autoscaling", "horizontalpodautoscalers", ""),
    ),
    (ServiceKind.ROLLOUT, ActionKind.PROMOTE): (("patch", "argoproj.io", "rollouts", "status"),),
    (ServiceKind.ROLLOUT, ActionKind.PROMOTE_FULL): (("patch", "argoproj.io", "rollouts", "status"),),
    (ServiceKind.ROLLOUT, ActionKind.ABORT): (("patch", "argoproj.io", "rollouts", "status"),),
    (ServiceKind.ROLLOUT, ActionKind.RETRY): (("patch", "argoproj.io", "rollouts", "status"),),
    (ServiceKind.ROLLOUT, ActionKind.BLUE_GREEN_SWITCH): (("patch", "argoproj.io", "rollouts", "status"),),
    (ServiceKind.INFERENCE_SERVICE, ActionKind.CANARY_WEIGHT): (
        ("patch", "serving.kserve.io", "inferenceservices", ""),
    ),
    (ServiceKind.INFERENCE_SERVICE, ActionKind.ROLLBACK): (("patch", "serving.kserve.io", "inferenceservices", ""),),
    (ServiceKind.DEPLOYMENT, ActionKind.UPDATE_IMAGE): (("patch", "apps", "deployments", ""),),
    (ServiceKind.DEPLOYMENT, ActionKind.RESTART): (("patch", "apps", "deployments", ""),),
    (ServiceKind.ROLLOUT, ActionKind.UPDATE_IMAGE): (("patch", "argoproj.io", "rollouts", ""),),
    (ServiceKind.ROLLOUT, ActionKind.RESTART): (("patch", "argoproj.io", "rollouts", ""),),
    (ServiceKind.INFERENCE_SERVICE, ActionKind.UPDATE_IMAGE): (
        ("patch", "serving.kserve.io", "inferenceservices", ""),
    ),
}


def permissions_for(kind: ServiceKind, action: ActionKind) -> tuple[Permission, ...]:
    return PERMISSIONS.get((kind, action), ())


class AccessReviews:
    """The answers of one cluster's API server, cached for the backend's life (thread-safe)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, str, str, str, str], bool] = {}
        self._denied: dict[tuple[ServiceKind, str], frozenset[ActionKind]] = {}
        """`denied` per (kind, namespace), dropped at every new answer: a snapshot asks it once per service."""

    def can(self, ns: str, verb: str, group: str, resource: str, sub: str = "") -> bool | None:
        """SelfSubjectAccessReview, cached; None when the server cannot answer."""
        key = (ns, verb, group, resource, sub)
        with self._lock:
            if key in self._answers:
                return self._answers[key]
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "namespace": ns,
                    "verb": verb,
                    "group": group,
                    "resource": resource,
                    **({"subresource": sub} if sub else {}),
                }
            },
        }
        try:
            answer = self.transport.request(
                "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=body, timeout=(5.0, 10.0)
            ).json()
        except ApiError as exc:
            log.info("access review unavailable: %s", exc)
            return None
        allowed = bool(tr.as_dict(tr.as_dict(answer).get("status")).get("allowed"))
        with self._lock:
            self._answers[key] = allowed
            self._denied.clear()
        return allowed

    def known(self, ns: str, permission: Permission) -> bool:
        """Whether the server has already answered for this permission in this namespace."""
        with self._lock:
            return (ns, *permission) in self._answers

    def denied(self, kind: ServiceKind, ns: str) -> frozenset[ActionKind]:
        """The actions on a `kind` in `ns` the server said no to (unanswered ones are not denied)."""
        with self._lock:
            known = self._denied.get((kind, ns))
            if known is not None:
                return known
            answers = self._answers
            denied = frozenset(
                action for (skind, action), perms in PERMISSIONS.items()
                if skind is kind and any(answers.get((ns, *p)) is False for p in perms)
            )
            self._denied[(kind, ns)] = denied
            return denied

    def sweep(
        self,
        wanted: Iterable[tuple[str, ServiceKind]],
        on_denied: Callable[[str, ServiceKind], None],
        stopped: Callable[[], bool],
    ) -> None:
        """Ask every permission not yet answered for each (namespace, kind) the fleet shows; after each
        pair with a new denial, `on_denied(ns, kind)` (the backend re-publishes those services greyed)."""
        for ns, kind in wanted:
            changed = False
            for (skind, _action), perms in PERMISSIONS.items():
                if skind is not kind:
                    continue
                for perm in perms:
                    if stopped():
                        return
                    if not self.known(ns, perm):
                        changed |= self.can(ns, *perm) is False
            if changed:
                on_denied(ns, kind)


def who_am_i(transport: Transport) -> str | None:
    """The user the API server sees (`kubectl auth whoami`); None when it cannot say."""
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    answer = transport.request(
        "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body=body, timeout=(5.0, 10.0)
    ).json()
    username = tr.dig(answer, "status", "userInfo").get("username")
    return str(username) if username else None
