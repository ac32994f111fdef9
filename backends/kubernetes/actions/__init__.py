"""Intent -> exact Kubernetes API calls, as plans first and effects second: one module per mechanism.

- `scale`: the scale subresource and the autoscaler's bounds;
- `kserve`: an InferenceService's canaryTrafficPercent;
- `istio`: a VirtualService's stable/canary weight pair;
- `argo`: Argo Rollouts promote (step, full, blue-green), abort, retry;
- `blue_green`: a Service's selector switched between colours;
- `rollback`: Deployment and Rollout undo, KServe back to the previous revision, the picker's revisions;
- `image`: image update and restart, the picker's containers;
- `template`: the pod template both of the last two replace, and its rollout followed;
- `shared`: object paths, JSON-patch guards, the reads, apply once and the verify loop;
- `planner`: `ActionPlanner`, which picks the mechanism, applies, verifies and records.

Planning functions (`plan_*`) are pure: given the objects as the API server holds them now, they
return an `ActionPlan` whose mutations are exactly what `kubectl` (or the Argo Rollouts plugin)
would send. Each module's `plan_*_now` reads those objects first; each module's `VERIFIERS` follow
the plans it makes.
"""

from mlops_tui.backends.kubernetes.actions.argo import argo_ops, argo_promote_patches, plan_argo
from mlops_tui.backends.kubernetes.actions.blue_green import plan_selector_switch, selector_ops
from mlops_tui.backends.kubernetes.actions.image import image_slots, plan_image_update, plan_restart
from mlops_tui.backends.kubernetes.actions.istio import plan_istio_weight
from mlops_tui.backends.kubernetes.actions.kserve import canary_percent_ops, plan_kserve_weight
from mlops_tui.backends.kubernetes.actions.planner import ActionPlanner
from mlops_tui.backends.kubernetes.actions.rollback import (
    annotation_ops,
    choose_revision,
    plan_deployment_rollback,
    plan_kserve_rollback,
    plan_rollout_undo,
)
from mlops_tui.backends.kubernetes.actions.scale import plan_autoscaler_bounds, plan_scale, scale_ops
from mlops_tui.backends.kubernetes.actions.shared import (
    field_tests,
    guards_of,
    moved_guards,
    object_path,
    rebased,
    spec_tested,
)
from mlops_tui.backends.plans import Mutation

__all__ = [
    "ActionPlanner",
    "Mutation",
    "annotation_ops",
    "argo_ops",
    "argo_promote_patches",
    "canary_percent_ops",
    "choose_revision",
    "field_tests",
    "guards_of",
    "image_slots",
    "moved_guards",
    "object_path",
    "plan_argo",
    "plan_autoscaler_bounds",
    "plan_deployment_rollback",
    "plan_image_update",
    "plan_istio_weight",
    "plan_kserve_rollback",
    "plan_kserve_weight",
    "plan_restart",
    "plan_rollout_undo",
    "plan_scale",
    "plan_selector_switch",
    "rebased",
    "scale_ops",
    "selector_ops",
    "spec_tested",
]
