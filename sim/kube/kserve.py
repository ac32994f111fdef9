"""KServe InferenceService (serverless mode): revisions and `canaryTrafficPercent` → status traffic."""

from __future__ import annotations

from typing import Any

import orjson

from mlops_tui.sim.kube.host import ControllerHost
from mlops_tui.sim.kube.objects import safe_encode
from mlops_tui.sim.kube.store import clone, now_iso

Obj = dict[str, Any]


def _predictor_hash(spec: Obj) -> str:
    pred = dict((spec or {}).get("predictor") or {})
    pred.pop("canaryTrafficPercent", None)
    return safe_encode(orjson.dumps(pred, option=orjson.OPT_SORT_KEYS))


def _num(name: str) -> int:
    try:
        return int(name.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


def sync_isvc(c: ControllerHost, key: tuple[str, str]) -> None:
    isvc = c.store.peek("inferenceservices", *key)
    if isvc is None:
        return
    meta, spec = isvc["metadata"], isvc.get("spec") or {}
    uid = meta["uid"]
    status = clone(isvc.get("status") or {})
    pred = clone((status.get("components") or {}).get("predictor") or {})
    base = f"{meta['name']}-predictor"
    h = _predictor_hash(spec)
    known = c.isvc_revisions.get(uid)
    latest = _num(pred.get("latestCreatedRevision", "")) or 0
    if known is None:
        if not latest:
            latest = 1
            pred["latestRolledoutRevision"] = f"{base}-{latest:05d}"
        c.isvc_revisions[uid] = (h, latest)
    elif known[0] != h:
        latest = known[1] + 1
        c.isvc_revisions[uid] = (h, latest)
    else:
        latest = known[1]
    latest_name = f"{base}-{latest:05d}"
    pred["latestCreatedRevision"] = latest_name
    pred["latestReadyRevision"] = latest_name
    rolled = pred.get("latestRolledoutRevision") or latest_name
    canary = (spec.get("predictor") or {}).get("canaryTrafficPercent")
    if rolled == latest_name:
        traffic = [{"revisionName": latest_name, "percent": 100, "latestRevision": True}]
        if canary is not None and pred.get("previousRolledoutRevision") and canary < 100:
            prev = pred["previousRolledoutRevision"]
            if prev != latest_name:
                traffic = [{"revisionName": latest_name, "percent": canary, "tag": "latest", "latestRevision": True},
                           {"revisionName": prev, "percent": 100 - canary, "tag": "prev", "latestRevision": False}]
    elif canary is None or canary >= 100:
        pred["previousRolledoutRevision"] = rolled
        pred["latestRolledoutRevision"] = latest_name
        traffic = [{"revisionName": latest_name, "percent": 100, "latestRevision": True}]
    else:
        pred["previousRolledoutRevision"] = rolled
        traffic = [{"revisionName": latest_name, "percent": int(canary), "tag": "latest", "latestRevision": True},
                   {"revisionName": rolled, "percent": 100 - int(canary), "tag": "prev", "latestRevision": False}]
    ns = key[0]
    host = f"{meta['name']}.{ns}.example.com"
    for t in traffic:
        if t.get("tag"):
            t["url"] = f"http://{t['tag']}-{host}"
    pred["traffic"] = traffic
    pred["url"] = f"http://{meta['name']}-predictor.{ns}.example.com"
    status["components"] = {"predictor": pred}
    status["url"] = f"http://{host}"
    status["address"] = {"url": f"http://{meta['name']}.{ns}.svc.cluster.local"}
    status["observedGeneration"] = meta.get("generation", 1)
    old = {cd["type"]: cd for cd in status.get("conditions") or ()}
    ts = now_iso()
    status["conditions"] = [old.get(t) or {"type": t, "status": "True", "lastTransitionTime": ts}
                            for t in ("IngressReady", "PredictorConfigurationReady", "PredictorReady",
                                      "PredictorRouteReady", "Ready")]
    status["modelStatus"] = {"states": {"activeModelState": "Loaded", "targetModelState": "Loaded"},
                             "transitionStatus": "UpToDate"}
    if status != (isvc.get("status") or {}):
        new = clone(isvc)
        new["status"] = status
        c._put("inferenceservices", new)
