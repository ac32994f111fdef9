"""The Swarm control API for services: create, update (version index, rollback=previous), remove.

Messages and status codes are the ones dockerd 20.10 answers (checked against the real Swarm in
tests/integration/test_docker_contract.py).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .state import ApiError, SwarmState

OUT_OF_SEQUENCE = "rpc error: code = Unknown desc = update out of sequence"
NAME_CONFLICT = ("rpc error: code = AlreadyExists desc = name conflicts with an existing object: "
                 "service {name} already exists")

UPDATE_DEFAULTS = {"Parallelism": 1, "FailureAction": "pause", "Monitor": 5_000_000_000,
                   "MaxFailureRatio": 0, "Order": "stop-first"}


_MODES = {"replicated": "Replicated", "global": "Global", "replicatedjob": "ReplicatedJob", "globaljob": "GlobalJob"}


def _strip_nulls(value: Any) -> Any:
    """Go drops null fields on the way in (they decode to zero values with omitempty)."""
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def normalize_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Fill what swarmkit fills when a spec is stored (so inspect looks like the real thing).
    Keys are matched case-insensitively as Go's JSON decoder does (docker-py sends "replicated")."""
    spec = _strip_nulls(copy.deepcopy(spec or {}))
    if isinstance(spec.get("Mode"), dict):
        spec["Mode"] = {_MODES.get(k.lower(), k): v for k, v in spec["Mode"].items()}
    spec.setdefault("Labels", {})
    tt = spec.setdefault("TaskTemplate", {})
    tt.setdefault("ContainerSpec", {})
    tt.setdefault("ForceUpdate", 0)
    tt.setdefault("Runtime", "container")
    mode = spec.get("Mode") or {"Replicated": {"Replicas": 1}}
    if "Replicated" in mode:
        mode["Replicated"] = mode["Replicated"] or {}
        mode["Replicated"].setdefault("Replicas", 1)
    spec["Mode"] = mode
    spec.setdefault("EndpointSpec", {"Mode": "vip"})
    for key in [k for k, v in spec.items() if v is None]:
        del spec[key]
    return spec


def with_defaults(svc: dict[str, Any]) -> dict[str, Any]:
    """`GET /services/{id}?insertDefaults=true`: the server-side defaults made explicit."""
    svc = copy.deepcopy(svc)
    for spec in (svc["Spec"], svc.get("PreviousSpec")):
        if not spec:
            continue
        for key in ("UpdateConfig", "RollbackConfig"):
            spec[key] = {**UPDATE_DEFAULTS, **(spec.get(key) or {})}
        cs = spec["TaskTemplate"].setdefault("ContainerSpec", {})
        cs.setdefault("StopGracePeriod", 10_000_000_000)
        cs.setdefault("DNSConfig", {})
        cs.setdefault("Isolation", "default")
        spec["TaskTemplate"].setdefault("Resources", {"Limits": {}, "Reservations": {}})
        spec["TaskTemplate"].setdefault("RestartPolicy", {"Condition": "any", "Delay": 5_000_000_000, "MaxAttempts": 0})
    return svc


def is_global(spec: dict[str, Any]) -> bool:
    return "Global" in spec["Mode"]


def replicas(spec: dict[str, Any]) -> int:
    return int(spec["Mode"].get("Replicated", {}).get("Replicas", 0))


def _diff_attributes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, str]:
    attrs: dict[str, str] = {"name": new["Name"]}
    oi = old["TaskTemplate"]["ContainerSpec"].get("Image", "")
    ni = new["TaskTemplate"]["ContainerSpec"].get("Image", "")
    if oi != ni:
        attrs.update({"image.old": oi, "image.new": ni})
    if replicas(old) != replicas(new):
        attrs.update({"replicas.old": str(replicas(old)), "replicas.new": str(replicas(new))})
    return attrs


def create_service(state: SwarmState, spec: dict[str, Any]) -> dict[str, Any]:
    spec = normalize_spec(spec)
    name = spec.get("Name") or ""
    if not name:
        name = spec["Name"] = "svc-" + state.new_id()[:8]
    if any(s["Spec"]["Name"] == name for s in state.services.values()):
        raise ApiError(409, NAME_CONFLICT.format(name=name))
    if not spec["TaskTemplate"]["ContainerSpec"].get("Image"):
        raise ApiError(400, "rpc error: code = InvalidArgument desc = ContainerSpec: image reference must be provided")
    sid = state.new_id()
    now = state.now()
    svc: dict[str, Any] = {"ID": sid, "Version": {"Index": 0}, "CreatedAt": now, "UpdatedAt": now, "Spec": spec,
                           "Endpoint": {"Spec": copy.deepcopy(spec["EndpointSpec"])}}
    state.bump(svc)
    state.services[sid] = svc
    state.emit("service", "create", sid, {"name": name})
    state.notify()
    return svc


def update_service(state: SwarmState, ref: str, version: str | None, spec: dict[str, Any] | None,
                   rollback: str | None = None) -> dict[str, Any]:
    svc = state.find_service(ref)
    try:
        v = int(version or "")
    except ValueError:
        raise ApiError(400, f"invalid service version '{version or ''}': "
                            f"strconv.ParseUint: parsing \"{version or ''}\": invalid syntax") from None
    if v != svc["Version"]["Index"]:
        raise ApiError(500, OUT_OF_SEQUENCE)
    old = svc["Spec"]
    if rollback == "previous":
        if not svc.get("PreviousSpec"):
            raise ApiError(400, "rpc error: code = FailedPrecondition "
                                f"desc = service {svc['ID']} does not have a previous spec")
        svc["Spec"], svc["PreviousSpec"] = svc["PreviousSpec"], old
        svc["UpdateStatus"] = {"State": "rollback_started", "StartedAt": state.now(),
                               "Message": "manually requested rollback"}
        new = svc["Spec"]
    else:
        new = normalize_spec(spec or {})
        if new.get("Name") and new["Name"] != old["Name"]:
            raise ApiError(500, "rpc error: code = Unimplemented desc = renaming services is not supported")
        new["Name"] = old["Name"]
        if is_global(new) != is_global(old):
            raise ApiError(500, "rpc error: code = Unimplemented desc = service mode change is not allowed")
        svc["PreviousSpec"] = old
        svc["Spec"] = new
        svc.pop("UpdateStatus", None)
    svc["Endpoint"] = {"Spec": copy.deepcopy(new.get("EndpointSpec", {"Mode": "vip"}))}
    state.update_state.pop(svc["ID"], None)
    state.bump(svc)
    state.emit("service", "update", svc["ID"], _diff_attributes(old, new))
    if rollback == "previous":
        state.emit("service", "update", svc["ID"], {"name": new["Name"], "updatestate.new": "rollback_started"})
    state.notify()
    return svc


def remove_service(state: SwarmState, ref: str) -> None:
    svc = state.find_service(ref)
    sid = svc["ID"]
    del state.services[sid]
    state.update_state.pop(sid, None)
    state.failing.discard(sid)
    for task in state.tasks_of(sid):
        state.drop_task(task["ID"])
    state.emit("service", "remove", sid, {"name": svc["Spec"]["Name"]})
    state.notify()


def spec_key(template: dict[str, Any]) -> str:
    """Identity of a task template, to tell tasks of the current spec from older ones."""
    return json.dumps(template, sort_keys=True)
