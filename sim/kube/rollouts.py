"""Argo Rollouts controller: canary (setWeight / pause steps, promote, abort, retry, promoteFull) and
blueGreen (active / preview Services switched by `rollouts-pod-template-hash`).

Status fields as Argo sets them: currentPodHash, stableRS, currentStepIndex, currentStepHash,
pauseConditions, controllerPause, abort, abortedAt, promoteFull, canary.weights, blueGreen selectors,
phase and message, observedGeneration (a string in Argo's CRD), HPAReplicas and selector."""

from __future__ import annotations

import contextlib
import math
import time
from datetime import datetime, timezone
from typing import Any

from mlops_tui.sim.kube.errors import ApiError
from mlops_tui.sim.kube.host import ControllerHost
from mlops_tui.sim.kube.objects import owner_ref, safe_encode, template_hash
from mlops_tui.sim.kube.patch import STRATEGIC
from mlops_tui.sim.kube.selectors import selector_string
from mlops_tui.sim.kube.store import clone, now_iso

Obj = dict[str, Any]
ARGO_REV = "rollout.argoproj.io/revision"
ARGO_HASH = "rollouts-pod-template-hash"


def parse_duration(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    total, num = 0.0, ""
    units = {"h": 3600, "m": 60, "s": 1}
    for ch in text:
        if ch.isdigit() or ch == ".":
            num += ch
        elif ch in units and num:
            total += float(num) * units[ch]
            num = ""
        else:
            return None
    if num:
        total += float(num)
    return total


def _since(ts: str) -> float:
    try:
        t = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except (TypeError, ValueError):
        return 0.0
    return time.time() - t


def _weight_at(steps: list[Obj], index: int) -> int:
    weight = 0
    for step in steps[:index]:
        if isinstance(step, dict) and "setWeight" in step:
            with contextlib.suppress(TypeError, ValueError):
                weight = int(step["setWeight"])
    return weight


def sync_rollout(c: ControllerHost, key: tuple[str, str]) -> None:
    ro = c.store.peek("rollouts", *key)
    if ro is None:
        return
    meta, spec = ro["metadata"], ro.get("spec") or {}
    uid = meta["uid"]
    replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    template = spec.get("template") or {}
    h = template_hash(template, ARGO_HASH)
    status: Obj = clone(ro.get("status") or {})
    rss = c._owned_rs(uid)
    by_hash = {(rs["metadata"].get("labels") or {}).get(ARGO_HASH): rs for rs in rss}
    new_rs = by_hash.get(h)
    if new_rs is None:
        max_rev = max((int((rs["metadata"].get("annotations") or {}).get(ARGO_REV, 0) or 0) for rs in rss), default=0)
        t = clone(template)
        t.setdefault("metadata", {}).setdefault("labels", {})[ARGO_HASH] = h
        sel = clone(spec.get("selector") or {})
        sel.setdefault("matchLabels", {})[ARGO_HASH] = h
        fresh_rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": f"{meta['name']}-{h}", "namespace": key[0],
                                 "labels": dict(t["metadata"]["labels"]),
                                 "annotations": {ARGO_REV: str(max_rev + 1)}, "ownerReferences": [owner_ref(ro)]},
                    "spec": {"replicas": 0, "selector": sel, "template": t}}
        try:
            c.store.create("replicasets", key[0], fresh_rs)
        except ApiError:
            return
        c.dirty["rollouts"].add(key)
        return
    strategy = spec.get("strategy") or {}
    canary = "canary" in strategy or "blueGreen" not in strategy
    steps = list(((strategy.get("canary") or {}).get("steps")) or []) if canary else []
    if status.get("currentPodHash") != h:
        first = not status.get("stableRS")
        status.update({"currentPodHash": h, "currentStepIndex": len(steps) if first else 0, "promoteFull": False,
                       "controllerPause": False})
        status.pop("pauseConditions", None)
        status.pop("abort", None)
        status.pop("abortedAt", None)
        if first:
            status["stableRS"] = h
        if canary:
            status["currentStepHash"] = safe_encode(repr(steps).encode())
        c.event(ro, "Normal", "RolloutUpdated", f"Rollout updated to revision "
                f"{(new_rs['metadata'].get('annotations') or {}).get(ARGO_REV, '')}", "rollouts-controller")
    stable = status.get("stableRS") or h
    stable_rs = by_hash.get(stable)
    if canary:
        targets, phase, message = _canary(c, ro, key, status, steps, replicas, h, stable, new_rs, stable_rs)
    else:
        targets, phase, message = _blue_green(c, ro, key, status, strategy.get("blueGreen") or {}, replicas, h,
                                              stable, new_rs, stable_rs)
    for rs in rss:
        want = targets.get(rs["metadata"]["uid"], 0)
        rs_key = (key[0], rs["metadata"]["name"])
        if want == 0 and rs is not new_rs and rs is not stable_rs and int(rs["spec"].get("replicas", 0) or 0) > 0 \
                and not canary:
            deadline = c.scale_down_at.setdefault(rs_key, time.monotonic() + float(
                (strategy.get("blueGreen") or {}).get("scaleDownDelaySeconds", 30)))
            if time.monotonic() < deadline:
                c._timer(deadline - time.monotonic() + 0.01, "rollouts", key)
                continue
        c.scale_down_at.pop(rs_key, None)
        c._scale_rs(rs, want)
    # counts
    total = ready = updated = 0
    for rs in rss:
        pods, r = c._rs_counts(rs)
        total += pods
        ready += r
        if rs is new_rs:
            updated = pods
    status.update({"replicas": total, "updatedReplicas": updated, "readyReplicas": ready,
                   "availableReplicas": ready, "HPAReplicas": total,
                   "selector": selector_string(spec.get("selector")),
                   "observedGeneration": str(meta.get("generation", 1)), "phase": phase, "message": message})
    for k in ("updatedReplicas", "readyReplicas", "availableReplicas", "replicas"):
        if not status.get(k):
            status.pop(k, None)
    if not message:
        status.pop("message", None)
    status["conditions"] = _conditions(ro, status, phase, ready >= replicas)
    if status != (ro.get("status") or {}):
        new = clone(ro)
        new["status"] = status
        c._put("rollouts", new)


def _conditions(ro: Obj, status: Obj, phase: str, available: bool) -> list[Obj]:
    old = {cd["type"]: cd for cd in (ro.get("status") or {}).get("conditions") or ()}
    ts = now_iso()

    def cond(type_: str, ok: bool, reason: str, message: str) -> Obj:
        prev = old.get(type_)
        st = "True" if ok else "False"
        if prev and prev.get("status") == st and prev.get("reason") == reason:
            return prev
        return {"type": type_, "status": st, "reason": reason, "message": message, "lastUpdateTime": ts,
                "lastTransitionTime": ts}

    paused = phase == "Paused"
    return [cond("Available", available, "AvailableReason", "Rollout has minimum availability" if available
                 else "Rollout does not have minimum availability"),
            cond("Progressing", phase != "Degraded",
                 "RolloutAborted" if phase == "Degraded" else ("RolloutPaused" if paused else
                                                              "NewReplicaSetAvailable" if phase == "Healthy"
                                                              else "ReplicaSetUpdated"),
                 "Rollout is paused" if paused else f"Rollout is {phase.lower()}"),
            cond("Paused", paused, "RolloutPaused" if paused else "RolloutResumed",
                 "Rollout is paused" if paused else "Rollout is resumed"),
            cond("Healthy", phase == "Healthy", "RolloutHealthy" if phase == "Healthy" else "RolloutHealthyIncomplete",
                 "Rollout is healthy" if phase == "Healthy" else "Rollout is not healthy")]


def _canary(c: ControllerHost, ro: Obj, key: tuple[str, str], status: Obj, steps: list[Obj], replicas: int,
            h: str, stable: str, new_rs: Obj, stable_rs: Obj | None) -> tuple[dict[str, int], str, str]:
    spec = ro.get("spec") or {}
    new_uid = new_rs["metadata"]["uid"]
    if stable == h:
        status.pop("pauseConditions", None)
        status["controllerPause"] = False
        status["currentStepIndex"] = len(steps)
        status["canary"] = {"weights": {"canary": {"podTemplateHash": h, "weight": 0},
                                        "stable": {"podTemplateHash": h, "weight": 100}}} if steps else {}
        _pods, ready = c._rs_counts(new_rs)
        phase = "Paused" if spec.get("paused") else ("Healthy" if ready >= replicas else "Progressing")
        return {new_uid: replicas}, phase, "" if phase == "Healthy" else (
            "manually paused" if phase == "Paused" else "more replicas need to be updated")
    stable_uid = stable_rs["metadata"]["uid"] if stable_rs else None
    rev = (new_rs["metadata"].get("annotations") or {}).get(ARGO_REV, "")
    if status.get("abort"):
        status["currentStepIndex"] = 0
        status.pop("pauseConditions", None)
        status["controllerPause"] = False
        status.setdefault("abortedAt", now_iso())
        status["canary"] = {"weights": {"canary": {"podTemplateHash": h, "weight": 0},
                                        "stable": {"podTemplateHash": stable, "weight": 100}}}
        targets = {new_uid: 0}
        if stable_uid:
            targets[stable_uid] = replicas
        return targets, "Degraded", f"RolloutAborted: Rollout aborted update to revision {rev}"
    status.pop("abortedAt", None)
    idx = int(status.get("currentStepIndex") or 0)
    if status.get("promoteFull"):
        idx = len(steps)
        status.pop("pauseConditions", None)
    paused_by_user = bool(spec.get("paused"))
    while idx < len(steps) and not paused_by_user:
        step = steps[idx] if isinstance(steps[idx], dict) else {}
        if "setWeight" in step:
            w = _weight_at(steps, idx + 1)
            want_canary = min(replicas, math.ceil(replicas * w / 100.0))
            _p, new_ready = c._rs_counts(new_rs)
            st_ready = c._rs_counts(stable_rs)[1] if stable_rs else 0
            if new_ready >= want_canary and (stable_rs is None or st_ready >= min(
                    int(stable_rs["spec"].get("replicas", 0) or 0), replicas - want_canary)):
                idx += 1
                continue
            break
        if "pause" in step:
            conds = status.get("pauseConditions") or []
            duration = parse_duration((step.get("pause") or {}).get("duration"))
            if conds:
                started = _since(conds[0].get("startTime", ""))
                if duration is not None and started >= duration:
                    status.pop("pauseConditions", None)
                    status["controllerPause"] = False
                    idx += 1
                    continue
                if duration is not None:
                    c._timer(max(0.05, duration - started), "rollouts", key)
                break
            if status.get("controllerPause"):
                # the pause condition was removed by `kubectl argo rollouts promote`: the step is done
                status["controllerPause"] = False
                idx += 1
                continue
            status["pauseConditions"] = [{"reason": "CanaryPauseStep", "startTime": now_iso()}]
            status["controllerPause"] = True
            if duration is not None:
                c._timer(max(0.05, duration), "rollouts", key)
            break
        idx += 1  # analysis / experiment / other steps: not simulated, treated as passed
    status["currentStepIndex"] = idx
    if idx >= len(steps) and not paused_by_user:
        _p, new_ready = c._rs_counts(new_rs)
        if int(new_rs["spec"].get("replicas", 0) or 0) >= replicas and new_ready >= replicas:
            status["stableRS"] = h
            status["promoteFull"] = False
            status.pop("pauseConditions", None)
            c.event(ro, "Normal", "RolloutCompleted", f"Rollout completed update to revision {rev}",
                    "rollouts-controller")
            c.dirty["rollouts"].add(key)
        targets = {new_uid: replicas}
        if stable_rs and stable_uid:
            targets[stable_uid] = int(stable_rs["spec"].get("replicas", 0) or 0) if new_ready < replicas else 0
        w = 100
        phase, message = "Progressing", "more replicas need to be updated"
    else:
        w = _weight_at(steps, idx + 1 if idx < len(steps) and "setWeight" in (steps[idx] or {}) else idx)
        if idx < len(steps) and "setWeight" in (steps[idx] or {}):
            w = _weight_at(steps, idx + 1)
        want_canary = min(replicas, math.ceil(replicas * w / 100.0))
        targets = {new_uid: want_canary}
        if stable_uid:
            targets[stable_uid] = replicas - want_canary
        if paused_by_user:
            phase, message = "Paused", "manually paused"
        elif status.get("pauseConditions"):
            phase, message = "Paused", "CanaryPauseStep"
        else:
            phase, message = "Progressing", "more replicas need to be updated"
    status["canary"] = {"weights": {"canary": {"podTemplateHash": h, "weight": w},
                                    "stable": {"podTemplateHash": stable, "weight": 100 - w}}}
    return targets, phase, message


def _switch(c: ControllerHost, ro: Obj, ns: str, service: str, h: str) -> None:
    svc = c.store.peek("services", ns, service)
    if svc is None or ((svc.get("spec") or {}).get("selector") or {}).get(ARGO_HASH) == h:
        return
    try:
        c.store.patch("services", ns, service, {
            "metadata": {"annotations": {"argo-rollouts.argoproj.io/managed-by-rollouts": ro["metadata"]["name"]}},
            "spec": {"selector": {ARGO_HASH: h}}}, STRATEGIC)
    except ApiError:
        return
    c.event(ro, "Normal", "SwitchService", f"Switched selector for service '{service}' from '' to '{h}'",
            "rollouts-controller")


def _blue_green(c: ControllerHost, ro: Obj, key: tuple[str, str], status: Obj, bg: Obj, replicas: int, h: str,
                stable: str, new_rs: Obj, stable_rs: Obj | None) -> tuple[dict[str, int], str, str]:
    ns = key[0]
    active, preview = bg.get("activeService", ""), bg.get("previewService", "")
    auto = bg.get("autoPromotionEnabled", True) is not False
    new_uid = new_rs["metadata"]["uid"]
    stable_uid = stable_rs["metadata"]["uid"] if stable_rs else None
    _p, new_ready = c._rs_counts(new_rs)
    targets = {new_uid: replicas}
    if stable_uid and stable_uid != new_uid:
        targets[stable_uid] = replicas
    if preview:
        _switch(c, ro, ns, preview, h)
    if stable == h:
        if active:
            _switch(c, ro, ns, active, h)
        status.pop("pauseConditions", None)
        status["controllerPause"] = False
        phase = "Healthy" if new_ready >= replicas else "Progressing"
        status["blueGreen"] = {"activeSelector": h, "previewSelector": h if preview else ""}
        targets.pop(stable_uid, None) if stable_uid != new_uid else None
        return targets, phase, "" if phase == "Healthy" else "more replicas need to be updated"
    if status.get("abort"):
        if active:
            _switch(c, ro, ns, active, stable)
        status.setdefault("abortedAt", now_iso())
        status.pop("pauseConditions", None)
        targets[new_uid] = 0
        status["blueGreen"] = {"activeSelector": stable, "previewSelector": h if preview else ""}
        return targets, "Degraded", "RolloutAborted: Rollout aborted update to revision " + \
            (new_rs["metadata"].get("annotations") or {}).get(ARGO_REV, "")
    status["blueGreen"] = {"activeSelector": stable, "previewSelector": h if preview else ""}
    if new_ready < replicas:
        return targets, "Progressing", "more replicas need to be updated"
    promote = auto or status.get("promoteFull")
    if not promote:
        if status.get("pauseConditions"):
            return targets, "Paused", "BlueGreenPause"
        if status.get("controllerPause"):
            promote = True  # `promote` removed the BlueGreenPause condition
        else:
            status["pauseConditions"] = [{"reason": "BlueGreenPause", "startTime": now_iso()}]
            status["controllerPause"] = True
            return targets, "Paused", "BlueGreenPause"
    if active:
        _switch(c, ro, ns, active, h)
    status["stableRS"] = h
    status["controllerPause"] = False
    status["promoteFull"] = False
    status.pop("pauseConditions", None)
    status["blueGreen"] = {"activeSelector": h, "previewSelector": h if preview else ""}
    if stable_uid:
        targets[stable_uid] = 0  # scaled down after scaleDownDelaySeconds
    c.dirty["rollouts"].add(key)
    return targets, "Progressing", "waiting for the old ReplicaSet to scale down"
