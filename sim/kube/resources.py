"""The resource types the simulated API server serves: names, groups, kinds, verbs, subresources."""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    plural: str
    group: str
    version: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    categories: tuple[str, ...] = ()
    custom: bool = False  # a CustomResourceDefinition: no strategic merge patch
    served_versions: tuple[str, ...] = field(default=())

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`deployments.apps`, or `pods` for the core group (as error messages spell it)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def versions(self) -> tuple[str, ...]:
        return self.served_versions or (self.version,)


RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("namespaces", "", "v1", "Namespace", namespaced=False, short_names=("ns",),
                 subresources=("status",), verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    ResourceType("nodes", "", "v1", "Node", namespaced=False, short_names=("no",), subresources=("status",)),
    ResourceType("pods", "", "v1", "Pod", short_names=("po",), subresources=("status", "log"), categories=("all",)),
    ResourceType("services", "", "v1", "Service", short_names=("svc",), subresources=("status",),
                 categories=("all",), verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    ResourceType("endpoints", "", "v1", "Endpoints", short_names=("ep",)),
    ResourceType("events", "", "v1", "Event", short_names=("ev",)),
    ResourceType("configmaps", "", "v1", "ConfigMap", short_names=("cm",)),
    ResourceType("serviceaccounts", "", "v1", "ServiceAccount", short_names=("sa",)),
    ResourceType("deployments", "apps", "v1", "Deployment", short_names=("deploy",),
                 subresources=("scale", "status"), categories=("all",)),
    ResourceType("replicasets", "apps", "v1", "ReplicaSet", short_names=("rs",), subresources=("scale", "status"),
                 categories=("all",)),
    ResourceType("daemonsets", "apps", "v1", "DaemonSet", short_names=("ds",), subresources=("status",),
                 categories=("all",)),
    ResourceType("jobs", "batch", "v1", "Job", subresources=("status",), categories=("all",)),
    ResourceType("endpointslices", "discovery.k8s.io", "v1", "EndpointSlice"),
    ResourceType("horizontalpodautoscalers", "autoscaling", "v2", "HorizontalPodAutoscaler", short_names=("hpa",),
                 subresources=("status",), categories=("all",)),
    ResourceType("rollouts", "argoproj.io", "v1alpha1", "Rollout", short_names=("ro",),
                 subresources=("scale", "status"), categories=("all",), custom=True),
    ResourceType("inferenceservices", "serving.kserve.io", "v1beta1", "InferenceService", short_names=("isvc",),
                 subresources=("status",), categories=("all",), custom=True),
    ResourceType("virtualservices", "networking.istio.io", "v1beta1", "VirtualService", short_names=("vs",),
                 categories=("istio-io", "networking-istio-io"), custom=True, served_versions=("v1beta1", "v1")),
    ResourceType("selfsubjectaccessreviews", "authorization.k8s.io", "v1", "SelfSubjectAccessReview",
                 namespaced=False, verbs=("create",)),
    ResourceType("selfsubjectrulesreviews", "authorization.k8s.io", "v1", "SelfSubjectRulesReview",
                 namespaced=False, verbs=("create",)),
    ResourceType("selfsubjectreviews", "authentication.k8s.io", "v1", "SelfSubjectReview", namespaced=False,
                 verbs=("create",)),
)

BY_PLURAL: dict[str, ResourceType] = {r.plural: r for r in RESOURCES}
VIRTUAL = frozenset({"selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"})


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    rt = BY_PLURAL.get(plural)
    if rt is None or rt.group != group or version not in rt.versions():
        return None
    return rt


def group_versions() -> dict[str, list[str]]:
    """Every API group (not the core one) and its versions, preferred first."""
    out: dict[str, list[str]] = {}
    for rt in RESOURCES:
        if rt.group:
            for v in rt.versions():
                if v not in out.setdefault(rt.group, []):
                    out[rt.group].append(v)
    return out
