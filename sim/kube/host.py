"""What the Argo Rollouts and KServe reconcilers need from the controller loop that runs them.

`controllers.Controllers` implements this; `rollouts.py` and `kserve.py` are typed against it, so the
controller loop imports its reconcilers and they never import it back."""

from __future__ import annotations

from typing import Any, Protocol

from mlops_tui.sim.kube.store import Store

Obj = dict[str, Any]
Key = tuple[str, str]


class ControllerHost(Protocol):
    store: Store
    dirty: dict[str, set[Key]]
    """Resource -> keys to reconcile on the next round."""
    isvc_revisions: dict[str, tuple[str, int]]
    """InferenceService uid -> (predictor hash, latest revision number)."""
    scale_down_at: dict[Key, float]
    """ReplicaSet -> monotonic time its scale-down delay ends."""

    def event(self, obj: Obj, type_: str, reason: str, message: str, component: str) -> None: ...

    def _put(self, resource: str, obj: Obj) -> None: ...

    def _timer(self, delay: float, res: str, key: Key) -> None: ...

    def _rs_counts(self, rs: Obj) -> tuple[int, int]: ...

    def _scale_rs(self, rs: Obj, replicas: int, annotations: dict[str, str] | None = None) -> Obj: ...

    def _owned_rs(self, uid: str) -> list[Obj]: ...
