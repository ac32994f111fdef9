"""The pod template as what a plan replaces (rollback, image update): compared as the API server
would, and followed until the controller has rolled it out.

`kubectl rollout status` (kubectl: staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go)
is the test of a finished Deployment rollout; Argo Rollouts takes a new template through the rollout's
own steps, so there the change is done once the controller has picked it up.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.actions.shared import Check, ClusterApi, Verifier
from mlops_tui.backends.plans import ActionPlan


def strip_hash(template: Any, label: str) -> dict:
    """A copy of the template without the controller's hash label, which `kubectl rollout undo` deletes
    before comparing or sending a template (kubectl: staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollback.go)."""
    template = copy.deepcopy(tr.as_dict(template))
    labels = tr.as_dict(tr.as_dict(template.get("metadata")).get("labels"))
    labels.pop(label, None)
    return template


def templates_equal(a: Any, b: Any) -> bool:
    return _normalise(a) == _normalise(b)


def _normalise(value: Any) -> Any:
    """Compare templates as the API server would: nulls and empty maps/lists mean 'unset'."""
    if isinstance(value, dict):
        out = {k: _normalise(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def rolled_out(status: Mapping[str, Any], desired: int) -> bool:
    """`kubectl rollout status`'s test: every replica updated, no old pod left (status.replicas
    counts old and new; readyReplicas alone would count an old pod still serving), all available."""
    updated = tr.as_int(status.get("updatedReplicas"))
    total = tr.as_int(status.get("replicas"))
    available = tr.as_int(status.get("availableReplicas", status.get("readyReplicas")))
    return updated >= desired and total <= updated and available >= updated


def observed(obj: Any) -> bool:
    """The controller has seen the current spec (Argo writes observedGeneration as a string)."""
    generation = tr.as_int(tr.meta(obj).get("generation"), 0)
    seen = tr.as_int(tr.dig(obj, "status").get("observedGeneration"), 0)
    return not generation or seen >= generation


def verify_template(api: ClusterApi, plan: ActionPlan) -> Check:
    """Done when the object's template is the planned one and (Deployment) every replica runs it, or
    (Rollout) the Argo controller has taken it up."""
    ctx = plan.context
    obj = api.read(ctx["path"])
    spec, status = tr.as_dict(obj.get("spec")), tr.as_dict(obj.get("status"))
    current = strip_hash(spec.get("template"), ctx["hash_label"])
    image, version = tr.template_version(spec.get("template"))
    revision_key = tr.REVISION_ANNOTATION if ctx["hash_label"] == tr.POD_TEMPLATE_HASH \
        else tr.ARGO_REVISION_ANNOTATION
    after = {"revision": tr.str_map(tr.meta(obj).get("annotations")).get(revision_key, ""),
             "image": image, "version": version}
    if not templates_equal(current, ctx["template"]):
        return False, "template not yet replaced", after
    if ctx["hash_label"] == tr.ROLLOUTS_POD_TEMPLATE_HASH:
        # Argo takes the old template through the rollout's own strategy (its canary steps and
        # pauses): the change is done once the controller has picked it up.
        canary = tr.argo_canary(obj)
        step = f", step {canary.step}/{canary.total_steps}" if canary and canary.step is not None else ""
        phase = str(status.get("phase") or "")
        return bool(phase), f"template replaced; rollout {phase or 'pending'}{step}", after
    desired = tr.as_int(spec.get("replicas"), 1)
    updated = tr.as_int(status.get("updatedReplicas"))
    ready = tr.as_int(status.get("readyReplicas"))
    if not observed(obj):  # the status still describes the template before ours
        return False, "waiting for the controller to see the new template", after
    return rolled_out(status, desired), f"{updated}/{desired} updated, {ready} ready", after


VERIFIERS: Mapping[str, Verifier] = {"template": verify_template}
