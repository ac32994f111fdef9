"""An in-memory backend that implements the backend protocol: a test double for the Fleet and UI
(not for an engine: engine behaviour is tested against real engines and the simulators)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timezone

from mlops_tui.backends.base import Change, ChangeSink
from mlops_tui.backends.model import (
    ActionKind,
    ClusterHealth,
    ClusterRef,
    GpuNode,
    HealthState,
    ModelService,
    Platform,
    ServiceKey,
    ServiceKind,
)
from mlops_tui.backends.plans import (
    ActionPlan,
    ActionRefused,
    Intent,
    Mutation,
    Rollback,
    Scale,
    SetCanaryWeight,
    SwitchBlueGreen,
    VerifyResult,
)

T0 = datetime(2026, 11, 28, 3, 0, 0, tzinfo=timezone.utc)


def service(name: str, cluster: str = "prod-a", namespace: str = "ml-prod", **fields) -> ModelService:
    key = ServiceKey(cluster, namespace, fields.pop("kind", ServiceKind.DEPLOYMENT), name)
    defaults = dict(platform=Platform.K8S, image=f"proptechusa/{name}:v1", version="v1", desired=3, ready=3,
                    updated=3, actions=frozenset({ActionKind.SCALE}))
    defaults.update(fields)
    return ModelService(key=key, **defaults)


class InMemoryBackend:
    """Holds services in a dict; `push()` sends them to the Fleet; scale mutates the dict."""

    def __init__(self, name: str = "prod-a", platform: Platform = Platform.K8S) -> None:
        self.name = name
        self.cluster = ClusterRef(name, platform, f"https://{name}.example:6443")
        self.services: dict[ServiceKey, ModelService] = {}
        self.gpu_nodes: dict[str, GpuNode] = {}
        self.sink: ChangeSink | None = None
        self.mutations: list[Mutation] = []
        self.lock = threading.Lock()

    def start(self, sink: ChangeSink) -> None:
        self.sink = sink
        self.push(snapshot=True, health=HealthState.CONNECTED)

    def stop(self) -> None:
        self.sink = None

    def push(self, *, snapshot: bool = False, health: HealthState | None = None, error: str = "",
             since: datetime | None = None) -> None:
        if self.sink is None:
            return
        status = None
        if health is not None:
            status = ClusterHealth(self.name, self.cluster.platform, health, since=since or T0, error=error)
        self.sink(Change(source=self.name, services=dict(self.services), gpu_nodes=dict(self.gpu_nodes),
                         health=status, snapshot=snapshot))

    def upsert(self, svc: ModelService) -> None:
        self.services[svc.key] = svc
        if self.sink:
            self.sink(Change(source=self.name, services={svc.key: svc}))

    def remove(self, key: ServiceKey) -> None:
        self.services.pop(key, None)
        if self.sink:
            self.sink(Change(source=self.name, services={key: None}))

    # ActionBackend
    def plan(self, svc: ModelService, intent: Intent) -> ActionPlan:
        if isinstance(intent, SetCanaryWeight | SwitchBlueGreen | Rollback):
            return self._plan_traffic(svc, intent)
        if not isinstance(intent, Scale):
            raise ActionRefused(f"{intent.kind.value} not supported by the in-memory backend")
        return ActionPlan(
            source=self.name, target=svc.key, target_name=str(svc.key), intent=intent,
            mutations=(Mutation("PATCH", f"/scale/{svc.key.name}", {"spec": {"replicas": intent.replicas}}),),
            before={"replicas": str(svc.desired)}, after={"replicas": str(intent.replicas)},
        )

    def _plan_traffic(self, svc: ModelService, intent: SetCanaryWeight | SwitchBlueGreen | Rollback) -> ActionPlan:
        """Weight, switch and rollback: one recorded call, the traffic field before → after."""
        if isinstance(intent, SetCanaryWeight):
            before = {"canary weight": f"{svc.canary.weight if svc.canary else 0}%"}
            after = {"canary weight": f"{intent.weight}%"}
        elif isinstance(intent, SwitchBlueGreen):
            before = {"active": svc.blue_green.active if svc.blue_green else "?"}
            after = {"active": intent.colour}
        else:
            before, after = {"revision": svc.revision or "?"}, {"revision": intent.revision or "previous"}
        return ActionPlan(source=self.name, target=svc.key, target_name=str(svc.key), intent=intent,
                          mutations=(Mutation("PATCH", f"/{intent.kind.value}/{svc.key.name}", after),),
                          before=before, after=after)

    def apply(self, plan: ActionPlan) -> None:
        with self.lock:
            self.mutations.extend(plan.mutations)
            if not isinstance(plan.intent, Scale):
                return
            svc = self.services[plan.target]
            self.upsert(replace(svc, desired=plan.intent.replicas, ready=plan.intent.replicas))

    def verify(self, plan: ActionPlan, timeout: float, progress) -> VerifyResult:
        svc = self.services[plan.target]
        if not isinstance(plan.intent, Scale):
            return VerifyResult(True, "sent", dict(plan.after))
        return VerifyResult(svc.desired == plan.intent.replicas, f"{svc.ready}/{svc.desired} ready",
                            {"replicas": str(svc.desired)})


class ResultRecords(list):
    """An audit sink keeping each action's result lines only: for tests about how many results an action
    gets. The write-ahead intent lines are the subject of tests/unit/test_fleet_write_ahead.py."""

    def append(self, record) -> None:
        if record.get("phase") != "intent":
            super().append(record)
