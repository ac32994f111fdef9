"""Rollback: `kubectl rollout undo` of a Deployment (client-side, as kubectl's DeploymentRollbacker:
staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollback.go), `kubectl argo rollouts undo` of a
Rollout (argo-rollouts: pkg/kubectl-argo-rollouts/cmd/undo/undo.go), and a KServe InferenceService
pinned to its previous rolled-out revision (canaryTrafficPercent 0). Also the picker's revisions.

The Deployment and Rollout undo replace the pod template, followed by `template.verify_template`; the
KServe one sets a canary weight, followed by `kserve.verify_kserve_weight`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.actions.kserve import canary_percent_ops
from mlops_tui.backends.kubernetes.actions.shared import (
    JSON_PATCH,
    Cluster,
    ClusterApi,
    json_pointer,
    label_query,
    make_plan,
    object_path,
    resource_version,
    spec_tested,
)
from mlops_tui.backends.kubernetes.actions.template import strip_hash, templates_equal
from mlops_tui.backends.kubernetes.client import api_path
from mlops_tui.backends.model import ModelService, Revision, ServiceKey, ServiceKind
from mlops_tui.backends.plans import ActionPlan, ActionRefused, Mutation, PlanWarning, Risk, Rollback

DEPLOYMENT_ANNOTATIONS_KEPT = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
)
"""`kubectl rollout undo` keeps these from the Deployment and copies every other one from the RS."""


def _json_pointer_token(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def annotation_ops(current: Mapping[str, str], wanted: Mapping[str, str]) -> list[dict[str, Any]]:
    """Per-key JSON-patch operations turning `current` annotations into `wanted`: only the keys that
    differ are touched, so an annotation nobody meant to change is never rewritten from an old copy."""
    if not current:
        return [{"op": "add", "path": "/metadata/annotations", "value": dict(wanted)}] if wanted else []
    ops: list[dict[str, Any]] = []
    for key in sorted(set(current) | set(wanted)):
        path = f"/metadata/annotations/{_json_pointer_token(key)}"
        if key not in wanted:
            ops.append({"op": "remove", "path": path})
        elif key not in current:
            ops.append({"op": "add", "path": path, "value": wanted[key]})
        elif current[key] != wanted[key]:
            ops.append({"op": "replace", "path": path, "value": wanted[key]})
    return ops


def _as_go_marshals(template: dict) -> dict:
    """The template as kubectl sends it: decoded into Go's PodTemplateSpec and encoded again, so the
    struct-typed fields without omitempty appear as zero values (`creationTimestamp: null`,
    `resources: {}` on every container). Our patch body is then byte-for-byte kubectl's."""
    metadata = template.setdefault("metadata", {})
    if isinstance(metadata, dict):
        metadata.setdefault("creationTimestamp", None)
    spec = tr.as_dict(template.get("spec"))
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in tr.as_list(spec.get(field)):
            if isinstance(container, dict):
                container.setdefault("resources", {})
    return template


def _owned_by(obj: Any, owner_uid: str) -> bool:
    return any(
        tr.as_dict(ref).get("uid") == owner_uid and tr.as_dict(ref).get("controller")
        for ref in tr.as_list(tr.meta(obj).get("ownerReferences"))
    )


def choose_revision(replicasets: list[Any], annotation: str, wanted: str | None, owner: str) -> tuple[int, Any]:
    """kubectl's pick: the exact revision asked for, or the second-highest one."""
    by_revision: dict[int, Any] = {}
    for rs in replicasets:
        value = tr.as_int(tr.str_map(tr.meta(rs).get("annotations")).get(annotation), -1)
        if value >= 0:
            by_revision[value] = rs
    if not wanted or str(wanted) == "0":
        if len(by_revision) < 2:
            raise ActionRefused(f'no rollout history found for {owner}')
        revision = sorted(by_revision)[-2]
        return revision, by_revision[revision]
    revision = tr.as_int(wanted, -1)
    if revision not in by_revision:
        raise ActionRefused(f"unable to find specified revision {wanted} in history")
    return revision, by_revision[revision]


def plan_deployment_rollback(
    source: str, user: str, service: ModelService, intent: Rollback, deployment: Any, replicasets: list[Any]
) -> ActionPlan:
    """`kubectl rollout undo [--to-revision]`, client-side, as kubectl's DeploymentRollbacker does it."""
    deployment = tr.as_dict(deployment)
    spec = tr.as_dict(deployment.get("spec"))
    name = service.key.name
    if spec.get("paused"):
        raise ActionRefused(
            f'you cannot rollback a paused deployment; resume it first with "kubectl rollout resume '
            f'deployment/{name}" and try again'
        )
    uid = str(tr.meta(deployment).get("uid") or "")
    owned = [rs for rs in replicasets if not uid or _owned_by(rs, uid)]
    revision, rs = choose_revision(owned, tr.REVISION_ANNOTATION, intent.revision, f'deployment "{name}"')
    target = _as_go_marshals(strip_hash(tr.as_dict(rs.get("spec")).get("template"), tr.POD_TEMPLATE_HASH))
    current = strip_hash(spec.get("template"), tr.POD_TEMPLATE_HASH)
    cur_annotations = tr.str_map(tr.meta(deployment).get("annotations"))
    annotations = {k: cur_annotations[k] for k in DEPLOYMENT_ANNOTATIONS_KEPT if k in cur_annotations}
    for k, v in tr.str_map(tr.meta(rs).get("annotations")).items():
        if k not in DEPLOYMENT_ANNOTATIONS_KEPT:
            annotations[k] = v
    cur_image, cur_version = tr.template_version(spec.get("template"))
    image, version = tr.template_version(target)
    skipped = templates_equal(target, current)
    path = object_path(service.key)
    return make_plan(
        source,
        user,
        service,
        intent,
        mutations=(
            Mutation(
                "PATCH",
                path,
                spec_tested(deployment, [{"op": "replace", "path": "/spec/template", "value": target},
                                         *annotation_ops(cur_annotations, annotations)],
                            *_touched_annotations(cur_annotations, annotations)),
                JSON_PATCH,
                summary=f"roll back to revision {revision}",
            ),
        ),
        before={"revision": cur_annotations.get(tr.REVISION_ANNOTATION, ""), "image": cur_image,
                "version": cur_version},
        after={"revision": f"{revision} (becomes a new revision)", "image": image, "version": version},
        warnings=(PlanWarning("skipped-rollback",
                              f"skipped rollback (current template already matches revision {revision})"),)
        if skipped else (),
        risk=Risk.HIGH if service.production else Risk.MEDIUM,
        precondition_version=resource_version(deployment),
        noop=skipped,
        context={"kind": "template", "path": path, "template": target, "hash_label": tr.POD_TEMPLATE_HASH,
                 "revision": revision},
    )


def _touched_annotations(current: Mapping[str, str], wanted: Mapping[str, str]) -> list[str]:
    """Pointers of the annotations the rollback replaces or removes: tested, so one changed since
    the preview (metadata moves no generation) is a conflict, not overwritten."""
    return [json_pointer("metadata", "annotations", k) for k in sorted(current) if wanted.get(k) != current[k]]


def plan_rollout_undo(
    source: str, user: str, service: ModelService, intent: Rollback, rollout: Any, replicasets: list[Any],
    version: str | None = None,
) -> ActionPlan:
    """`kubectl argo rollouts undo [--to-revision]`."""
    rollout = tr.as_dict(rollout)
    spec = tr.as_dict(rollout.get("spec"))
    if spec.get("workloadRef"):
        raise ActionRefused(f"{service.key.name} uses workloadRef: roll back its referenced workload instead")
    uid = str(tr.meta(rollout).get("uid") or "")
    owned = [rs for rs in replicasets if not uid or _owned_by(rs, uid)]
    revision, rs = choose_revision(owned, tr.ARGO_REVISION_ANNOTATION, intent.revision,
                                   f'rollout "{service.key.name}"')
    target = _as_go_marshals(strip_hash(tr.as_dict(rs.get("spec")).get("template"), tr.ROLLOUTS_POD_TEMPLATE_HASH))
    current = strip_hash(spec.get("template"), tr.ROLLOUTS_POD_TEMPLATE_HASH)
    skipped = templates_equal(target, current)
    cur_image, cur_version = tr.template_version(spec.get("template"))
    image, new_version = tr.template_version(target)
    path = object_path(service.key, "", version)
    return make_plan(
        source,
        user,
        service,
        intent,
        mutations=(Mutation("PATCH", path, spec_tested(rollout, [{"op": "replace", "path": "/spec/template",
                                                                  "value": target}]), JSON_PATCH,
                            summary=f"undo to revision {revision}"),),
        before={"revision": tr.str_map(tr.meta(rollout).get("annotations")).get(tr.ARGO_REVISION_ANNOTATION, ""),
                "image": cur_image, "version": cur_version},
        after={"revision": f"{revision} (becomes a new revision)", "image": image, "version": new_version},
        warnings=(PlanWarning("skipped-rollback",
                              f"skipped rollback (current template already matches revision {revision})"),)
        if skipped else (),
        risk=Risk.HIGH if service.production else Risk.MEDIUM,
        precondition_version=resource_version(rollout),
        noop=skipped,
        context={"kind": "template", "path": path, "template": target,
                 "hash_label": tr.ROLLOUTS_POD_TEMPLATE_HASH, "revision": revision},
    )


def plan_kserve_rollback(source: str, user: str, service: ModelService, intent: Rollback, isvc: Any) -> ActionPlan:
    """KServe: pin traffic to the previous rolled-out revision with canaryTrafficPercent 0."""
    predictor_status = tr.dig(isvc, "status", "components", "predictor")
    previous = str(predictor_status.get("previousRolledoutRevision") or "")
    if not previous:
        raise ActionRefused(f"{service.key.name} has no previous rolled-out revision to go back to")
    if intent.revision and intent.revision != previous:
        raise ActionRefused(f"KServe can only go back to the previous revision ({previous})")
    predictor = tr.dig(isvc, "spec", "predictor")
    current = predictor.get("canaryTrafficPercent")
    path = object_path(service.key)
    latest = str(predictor_status.get("latestReadyRevision") or predictor_status.get("latestCreatedRevision") or "")
    return make_plan(
        source,
        user,
        service,
        intent,
        mutations=(Mutation("PATCH", path, canary_percent_ops(isvc, 0), JSON_PATCH,
                            summary=f"all traffic to {previous}"),),
        before={"canary weight": "100 (no canary)" if current is None else str(current), "serving": latest},
        after={"canary weight": "0", "serving": previous},
        risk=Risk.MEDIUM,
        precondition_version=resource_version(isvc),
        noop=current is not None and tr.as_int(current) == 0,
        context={"kind": "kserve-weight", "path": path, "weight": 0},
    )


def plan_rollback_now(api: ClusterApi, service: ModelService, intent: Rollback) -> ActionPlan:
    """Against the object and (Deployment, Rollout) the ReplicaSets it owns, read now."""
    key = service.key
    src, user = api.cluster.name, api.cluster.user
    if key.kind is ServiceKind.INFERENCE_SERVICE:
        return plan_kserve_rollback(src, user, service, intent, api.fetch(key))
    obj = api.fetch(key)
    if key.kind is ServiceKind.DEPLOYMENT:
        return plan_deployment_rollback(src, user, service, intent, obj, _replicasets_selected(api, key, obj))
    return plan_rollout_undo(src, user, service, intent, obj, _replicasets_selected(api, key, obj),
                             api.version(key.kind))


def _replicasets_selected(api: ClusterApi, key: ServiceKey, obj: Any) -> list[Any]:
    """The ReplicaSets the workload's selector matches (whose owner is checked by the planners), as
    kubectl's `deploymentutil.GetAllReplicaSets` lists them."""
    labels = tr.str_map(tr.dig(obj, "spec", "selector").get("matchLabels"))
    body = api.get(api_path("apps", "v1", "replicasets", key.namespace), label_query(labels))
    return [rs for rs in tr.as_list(tr.as_dict(body).get("items")) if isinstance(rs, dict)]


def revisions(cluster: Cluster, key: ServiceKey) -> tuple[Revision, ...]:
    """The rollback picker, from the cache: a workload's ReplicaSet revisions newest first, or an
    InferenceService's latest ready and previous rolled-out revisions."""
    cache = cluster.cache
    if key.kind is ServiceKind.INFERENCE_SERVICE:
        obj = cache.get("inferenceservices", (key.namespace, key.name))
        predictor = tr.dig(obj, "status", "components", "predictor")
        out = []
        latest = str(predictor.get("latestReadyRevision") or "")
        previous = str(predictor.get("previousRolledoutRevision") or "")
        if latest:
            out.append(Revision(latest, version=latest, current=True))
        if previous and previous != latest:
            out.append(Revision(previous, version=previous))
        return tuple(out)
    published = cluster.published(key)
    current = published.revision if published is not None else ""
    return tr.revisions(current, cache.replicasets_of(key.namespace, key.kind.value, key.name))
