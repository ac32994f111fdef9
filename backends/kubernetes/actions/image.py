"""Image update and restart: `kubectl set image` (staging/src/k8s.io/kubectl/pkg/cmd/set/set_image.go)
and `kubectl rollout restart` (staging/src/k8s.io/kubectl/pkg/polymorphichelpers/objectrestarter.go)
of a Deployment, their Argo Rollouts equivalents (argo-rollouts: pkg/kubectl-argo-rollouts/cmd/restart/
restart.go sets spec.restartAt), and a KServe predictor's image (a new predictor revision). Also the
image update's container picker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.actions.shared import (
    JSON_PATCH,
    Check,
    ClusterApi,
    Verifier,
    json_pointer,
    make_plan,
    now_stamp,
    object_path,
    resource_version,
    spec_tested,
)
from mlops_tui.backends.kubernetes.actions.template import observed, rolled_out, strip_hash
from mlops_tui.backends.model import ModelService, ServiceKey, ServiceKind
from mlops_tui.backends.plans import (
    ActionPlan,
    ActionRefused,
    Mutation,
    PlanWarning,
    Restart,
    Risk,
    UpdateImage,
)

SIDECARS = ("istio-proxy", "istio-init", "queue-proxy", "linkerd-proxy", "envoy")
"""Containers a mesh or Knative injects: never the one an operator means by "the image"."""


KSERVE_CONTAINER = "kserve-container"


RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


KSERVE_FRAMEWORKS = ("model", "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx", "pmml",
                     "lightgbm", "paddle", "huggingface")


def image_slots(kind: ServiceKind, obj: Any) -> list[tuple[str, str, str]]:
    """(container, image, JSON pointer of its image field) for every image the operator may change,
    main container first. A KServe predictor that names no image (its serving runtime's is used)
    has none."""
    if kind is ServiceKind.INFERENCE_SERVICE:
        predictor = tr.dig(obj, "spec", "predictor")
        if predictor.get("containers"):
            base: tuple[str | int, ...] = ("spec", "predictor", "containers")
            containers = tr.as_list(predictor.get("containers"))
        else:
            framework = next((f for f in KSERVE_FRAMEWORKS if isinstance(predictor.get(f), dict)), "")
            image = str(tr.as_dict(predictor.get(framework)).get("image") or "")
            return [(framework, image, json_pointer("spec", "predictor", framework, "image"))] if image else []
    else:
        base = ("spec", "template", "spec", "containers")
        containers = tr.as_list(tr.dig(obj, "spec", "template", "spec").get("containers"))
    slots = [(str(tr.as_dict(c).get("name") or ""), str(tr.as_dict(c).get("image") or ""),
              json_pointer(*base, i, "image"))
             for i, c in enumerate(containers)]
    return sorted(slots, key=lambda slot: (slot[0] in SIDECARS, slot[0] != KSERVE_CONTAINER))


def _no_image_reason(name: str, obj: Any) -> str:
    predictor = tr.dig(obj, "spec", "predictor")
    framework = next((f for f in KSERVE_FRAMEWORKS if isinstance(predictor.get(f), dict)), "")
    if framework:
        return (f"{name}'s predictor ({framework}) names no image: KServe runs its serving runtime's image. "
                f"Roll out a new model by changing storageUri, or set the runtime's version, instead")
    return f"{name}'s predictor has no container image to update"


def _rollout_strategy_text(kind: ServiceKind, obj: Any, replicas: int) -> str:
    """How the new pods replace the old ones, in pods, as the controller resolves the percentages
    (kubectl/Kubernetes: maxSurge rounds up, maxUnavailable down; both 0 is read as maxUnavailable 1)."""
    strategy = tr.dig(obj, "spec", "strategy")
    if kind is ServiceKind.ROLLOUT:
        if isinstance(strategy.get("blueGreen"), dict):
            return "blue-green: a full preview ReplicaSet starts; traffic moves on promotion"
        canary = tr.as_dict(strategy.get("canary"))
        steps = tr.as_list(canary.get("steps"))
        first = next((tr.as_int(tr.as_dict(s).get("setWeight")) for s in steps if "setWeight" in tr.as_dict(s)), None)
        if first is not None:
            return f"canary: the new pods get {first}% first, then follow the rollout's {len(steps)} steps"
        return "canary without steps: the new pods replace the old at once"
    if str(strategy.get("type") or "RollingUpdate") == "Recreate":
        return f"Recreate: all {replicas} pods stop before the new ones start: nothing serves in between"
    rolling = tr.as_dict(strategy.get("rollingUpdate"))
    surge = _resolve_int_or_percent(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = _resolve_int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return (f"RollingUpdate: up to {surge} extra pod(s) at a time, at most {unavailable} of {replicas} "
            f"unavailable (at least {max(replicas - unavailable, 0)} keep serving)")


def _resolve_int_or_percent(value: Any, total: int, round_up: bool) -> int:
    text = str(value).strip()
    if text.endswith("%"):
        scaled = tr.as_int(text[:-1]) * total / 100
        return int(-(-scaled // 1)) if round_up else int(scaled // 1)
    return tr.as_int(text)


def _expected_template(obj: Any, hash_label: str, pointer: str, image: str) -> dict:
    """The pod template as it will read once the patch is in: what the "template" verify waits for."""
    template = strip_hash(tr.dig(obj, "spec").get("template"), hash_label)
    index = int(pointer.rsplit("/", 2)[-2])
    tr.as_list(tr.dig(template, "spec").get("containers"))[index]["image"] = image
    return template


def plan_image_update(source: str, user: str, service: ModelService, intent: UpdateImage, obj: Any,
                      version: str | None = None) -> ActionPlan:
    """`kubectl set image` as a JSON patch replacing the named container's image (a Deployment's or
    Argo Rollout's template, a KServe predictor), guarded like every spec mutation (`spec_tested`):
    a spec change made since the preview is a conflict, a status write is not."""
    key = service.key
    image = intent.image.strip()
    if not image or any(c.isspace() for c in image):
        raise ActionRefused(f"{intent.image!r} is not an image reference")
    slots = image_slots(key.kind, obj)
    if not slots:
        raise ActionRefused(_no_image_reason(key.name, obj))
    wanted = intent.container or slots[0][0]
    slot = next((s for s in slots if s[0] == wanted), None)
    if slot is None:
        raise ActionRefused(f"{key.name} has no container {wanted!r} (containers: "
                            f"{', '.join(s[0] for s in slots)})")
    container, current, pointer = slot
    rv = resource_version(obj)
    path = object_path(key, "", version)
    # kubectl's strategic merge by container name becomes a replace at the container's index,
    # guarded by that container's name (CRDs take no strategic merge anyway).
    named = [pointer.rsplit("/", 1)[0] + "/name"] if "/containers/" in pointer else []
    body = spec_tested(obj, [{"op": "replace", "path": pointer, "value": image}], *named, pointer)
    content_type = JSON_PATCH
    warnings = _image_update_warnings(service, obj, container, slots)
    if key.kind is ServiceKind.INFERENCE_SERVICE:
        context: dict[str, Any] = {"kind": "isvc-image", "path": path, "pointer": pointer, "image": image,
                                   "revision": str(tr.dig(obj, "status", "components", "predictor")
                                                   .get("latestReadyRevision") or "")}
    else:
        hash_label = tr.POD_TEMPLATE_HASH if key.kind is ServiceKind.DEPLOYMENT else tr.ROLLOUTS_POD_TEMPLATE_HASH
        context = {"kind": "template", "path": path, "hash_label": hash_label,
                   "template": _expected_template(obj, hash_label, pointer, image)}
    return make_plan(
        source, user, service, intent,
        mutations=(Mutation("PATCH", path, body, content_type, summary=f"set image of {container} to {image}"),),
        before={"container": container, "image": current},
        after={"container": container, "image": image},
        warnings=warnings,
        risk=Risk.HIGH if service.production else Risk.MEDIUM,
        precondition_version=rv,
        noop=current == image,
        context=context,
    )


def _image_update_warnings(service: ModelService, obj: Any, container: str,
                           slots: list[tuple[str, str, str]]) -> tuple[PlanWarning, ...]:
    key = service.key
    warnings = []
    if key.kind is ServiceKind.INFERENCE_SERVICE:
        percent = tr.dig(obj, "spec", "predictor").get("canaryTrafficPercent")
        if percent is not None and tr.as_int(percent) < 100:
            warnings.append(PlanWarning("kserve-canary", f"a new predictor revision starts; with canaryTrafficPercent "
                                        f"{percent} it takes {percent}% of traffic, the previous rolled-out revision "
                                        f"the rest"))
        else:
            warnings.append(PlanWarning("kserve-revision", "a new predictor revision starts and takes all traffic "
                                        "once ready"))
    else:
        replicas = tr.as_int(tr.dig(obj, "spec").get("replicas"), 1)
        warnings.append(PlanWarning("rolling-update", _rollout_strategy_text(key.kind, obj, replicas)))
        labels = tr.str_map(tr.dig(obj, "spec", "template", "metadata").get("labels"))
        if labels.get("version"):
            warnings.append(PlanWarning("version-label", f"the pods' version label stays {labels['version']!r}: "
                                        "update it separately"))
    others = [s[0] for s in slots if s[0] != container and s[0] not in SIDECARS]
    if others:
        warnings.append(PlanWarning("other-containers", f"only {container} changes; {', '.join(others)} keep "
                                    "their images"))
    if service.progressing or (service.canary is not None and service.canary.source == "argo"
                               and service.canary.step is not None and service.canary.total_steps
                               and service.canary.step < service.canary.total_steps):
        warnings.append(PlanWarning("mid-rollout", f"a rollout of {key.name} is in progress: this template "
                                    "replaces the one being rolled out"))
    return tuple(warnings)


def plan_restart(source: str, user: str, service: ModelService, intent: Restart, obj: Any,
                 version: str | None = None, now: str | None = None) -> ActionPlan:
    """`kubectl rollout restart`: a strategic-merge patch of the pod template's restartedAt
    annotation (Deployment), or `kubectl argo rollouts restart`: a merge patch of spec.restartAt.
    Both carry the resourceVersion the preview was built from."""
    key = service.key
    if key.kind is ServiceKind.INFERENCE_SERVICE:
        raise ActionRefused(f"{key.name}: KServe predictor revisions are immutable; roll out a new revision "
                            "(update its model or image) instead of restarting")
    stamp = now or now_stamp()
    spec = tr.dig(obj, "spec")
    replicas = tr.as_int(spec.get("replicas"), 1)
    path = object_path(key, "", version)
    if key.kind is ServiceKind.DEPLOYMENT:
        previous = tr.str_map(tr.dig(obj, "spec", "template", "metadata").get("annotations")).get(RESTARTED_AT, "")
        body = spec_tested(obj, [_set_template_annotation(obj, RESTARTED_AT, stamp)],
                           json_pointer("spec", "template", "metadata", "annotations", RESTARTED_AT))
        summary = f"template annotation {RESTARTED_AT}={stamp}"
    else:
        if spec.get("workloadRef"):
            raise ActionRefused(f"{key.name} uses workloadRef: restart its referenced workload instead")
        previous = str(spec.get("restartAt") or "")
        body = spec_tested(obj, [{"op": "add", "path": "/spec/restartAt", "value": stamp}], "/spec/restartAt")
        summary = f"spec.restartAt={stamp}"
    warnings = [PlanWarning("restart-replaces-pods", f"every one of the {replicas} pods is replaced by a new one "
                            f"on the same template; {_restart_pace(key.kind, obj, replicas)}")]
    if replicas == 0:
        warnings.append(PlanWarning("no-replicas", f"{key.name} has 0 replicas: nothing runs to restart"))
    if service.progressing:
        warnings.append(PlanWarning("mid-rollout", f"a rollout of {key.name} is in progress: the restart joins it"))
    return make_plan(
        source, user, service, intent,
        mutations=(Mutation("PATCH", path, body, JSON_PATCH, summary=summary),),
        before={"restarted at": previous or "never", "pods": f"{replicas} running"},
        after={"restarted at": stamp, "pods": f"{replicas} new"},
        warnings=tuple(warnings),
        risk=Risk.HIGH if service.production and _restart_has_downtime(key.kind, obj) else Risk.MEDIUM,
        precondition_version=resource_version(obj),
        noop=replicas == 0,
        context={"kind": "restart", "path": path, "stamp": stamp, "replicas": replicas},
    )


def _set_template_annotation(obj: Any, key: str, value: str) -> dict[str, Any]:
    """The JSON-patch `add` that sets one pod-template annotation, as the strategic merge
    `{"spec":{"template":{"metadata":{"annotations":{key: value}}}}}` does: JSON patch cannot create
    missing parents, so the op adds at the deepest level that exists."""
    metadata = tr.dig(obj, "spec", "template").get("metadata")
    if not isinstance(metadata, dict):
        return {"op": "add", "path": "/spec/template/metadata", "value": {"annotations": {key: value}}}
    if not isinstance(metadata.get("annotations"), dict):
        return {"op": "add", "path": "/spec/template/metadata/annotations", "value": {key: value}}
    return {"op": "add", "path": json_pointer("spec", "template", "metadata", "annotations", key), "value": value}


def _restart_pace(kind: ServiceKind, obj: Any, replicas: int) -> str:
    if kind is ServiceKind.ROLLOUT:
        canary = tr.dig(obj, "spec", "strategy", "canary")
        unavailable = _resolve_int_or_percent(canary.get("maxUnavailable", "25%"), replicas, round_up=False)
        return f"Argo deletes the old pods at most {max(unavailable, 1)} at a time"
    return _rollout_strategy_text(kind, obj, replicas)


def _restart_has_downtime(kind: ServiceKind, obj: Any) -> bool:
    return kind is ServiceKind.DEPLOYMENT and str(tr.dig(obj, "spec", "strategy").get("type") or "") == "Recreate"


def _at_pointer(obj: Any, pointer: str) -> Any:
    value: Any = obj
    for token in pointer.strip("/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        value = tr.as_list(value)[int(token)] if isinstance(value, list) else tr.as_dict(value).get(token)
    return value


def plan_image_update_now(api: ClusterApi, service: ModelService, intent: UpdateImage) -> ActionPlan:
    key = service.key
    return plan_image_update(api.cluster.name, api.cluster.user, service, intent, api.fetch(key),
                             api.version(key.kind))


def plan_restart_now(api: ClusterApi, service: ModelService, intent: Restart) -> ActionPlan:
    key = service.key
    return plan_restart(api.cluster.name, api.cluster.user, service, intent, api.fetch(key), api.version(key.kind))


def containers(api: ClusterApi, key: ServiceKey) -> list[tuple[str, str]]:
    """(container, image) the image update may change, main container first; injected sidecars
    (Istio, Knative) are left out. Read from the API server now (the cache keeps no pod templates)."""
    return pickable_containers(key.kind, api.fetch(key))


def pickable_containers(kind: ServiceKind, obj: Any) -> list[tuple[str, str]]:
    slots = image_slots(kind, obj)
    mine = [(name, image) for name, image, _ in slots if name not in SIDECARS]
    return mine or [(name, image) for name, image, _ in slots]


def check_isvc_image(ctx: Mapping[str, Any], obj: dict) -> Check:
    """Done when the predictor names our image and a new revision (not the one at preview time) is ready."""
    image = str(_at_pointer(obj, ctx["pointer"]) or "")
    predictor = tr.dig(obj, "status", "components", "predictor")
    revision = str(predictor.get("latestReadyRevision") or "")
    ready = any(tr.as_dict(c).get("type") == "Ready" and tr.as_dict(c).get("status") == "True"
                for c in tr.as_list(tr.dig(obj, "status").get("conditions")))
    after = {"image": image, "revision": revision}
    if image != ctx["image"]:
        return None, f"the predictor's image is now {image}: someone else changed it", after
    new_revision = bool(revision) and revision != ctx["revision"]
    return new_revision and ready, f"latest ready revision {revision or '?'}" + ("" if ready else ", not ready"), after


def check_restart(ctx: Mapping[str, Any], obj: dict) -> Check:
    """Done when the stamp is ours and every pod runs the restarted template: as many updated
    and ready as desired, and no old pod left (status.replicas counts old and new)."""
    spec, status = tr.as_dict(obj.get("spec")), tr.as_dict(obj.get("status"))
    if "restartAt" in spec or obj.get("kind") == "Rollout":
        stamp = str(spec.get("restartAt") or "")
        done_at = str(status.get("restartedAt") or "")
    else:
        stamp = tr.str_map(tr.dig(obj, "spec", "template", "metadata").get("annotations")).get(RESTARTED_AT, "")
        done_at = stamp
    desired = tr.as_int(spec.get("replicas"), 1)
    updated = tr.as_int(status.get("updatedReplicas"))
    ready = tr.as_int(status.get("readyReplicas"))
    total = tr.as_int(status.get("replicas"))
    after = {"restarted at": stamp or "never", "pods": f"{updated} new, {ready} ready"}
    if stamp != ctx["stamp"]:
        return None, f"the restart stamp is now {stamp or 'gone'}: someone else changed it", after
    if not observed(obj):
        return False, "waiting for the controller to see the restart", after
    replaced = rolled_out(status, desired) and done_at == ctx["stamp"]
    return replaced, f"{updated}/{desired} pods replaced, {ready} ready, {max(total - updated, 0)} old left", after


def verify_isvc_image(api: ClusterApi, plan: ActionPlan) -> Check:
    return check_isvc_image(plan.context, api.read(plan.context["path"]))


def verify_restart(api: ClusterApi, plan: ActionPlan) -> Check:
    return check_restart(plan.context, api.read(plan.context["path"]))


VERIFIERS: Mapping[str, Verifier] = {"isvc-image": verify_isvc_image, "restart": verify_restart}
"""An image update of a Deployment or Rollout replaces the pod template: `template.VERIFIERS` follows it."""
