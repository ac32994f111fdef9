"""API defaulting, as kube-apiserver applies it when it decodes a built-in object.

Only what the types served here need so that a round trip (get, edit, put back; or
`kubectl rollout undo`) compares equal: a template's `creationTimestamp: null`, container
defaults, pod spec defaults, Deployment strategy defaults, Service defaults."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def _container(c: Any) -> None:
    if not isinstance(c, dict):
        return
    c.setdefault("resources", {})
    image = str(c.get("image", ""))
    c.setdefault("imagePullPolicy", "Always" if image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1]
                 else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    for p in c.get("ports") or ():
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")


def pod_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or ():
            _container(c)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")


def template(t: Any) -> None:
    if not isinstance(t, dict):
        return
    meta = t.setdefault("metadata", {})
    if isinstance(meta, dict):
        meta.setdefault("creationTimestamp", None)
    pod_spec(t.get("spec"))


def apply(resource: str, obj: Obj) -> None:
    if resource == "namespaces":  # the namespace strategy: Active, with the `kubernetes` finalizer
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {"phase": "Active"})
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if resource in ("deployments", "replicasets", "rollouts"):
        template(spec.get("template"))
        if resource != "rollouts":
            spec.setdefault("replicas", 1)
            spec.setdefault("revisionHistoryLimit", 10)
        if resource == "deployments":
            spec.setdefault("progressDeadlineSeconds", 600)
            strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
            if isinstance(strategy, dict) and strategy.get("type", "RollingUpdate") == "RollingUpdate":
                strategy.setdefault("type", "RollingUpdate")
                ru = strategy.setdefault("rollingUpdate", {})
                if isinstance(ru, dict):
                    ru.setdefault("maxSurge", "25%")
                    ru.setdefault("maxUnavailable", "25%")
    elif resource == "jobs":
        job(obj, spec)
    elif resource == "daemonsets":
        daemonset(spec)
    elif resource == "pods":
        pod_spec(spec)
        # SetDefaults_Pod: a limit without a request requests the limit (templates are not defaulted so).
        for key in ("containers", "initContainers"):
            for c in spec.get(key) or ():
                res = c.get("resources") if isinstance(c, dict) else None
                if isinstance(res, dict) and isinstance(res.get("limits"), dict) and res["limits"]:
                    requests = res.setdefault("requests", {})
                    if isinstance(requests, dict):
                        for name, value in res["limits"].items():
                            requests.setdefault(name, value)
    elif resource == "services":
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for p in spec.get("ports") or ():
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])


def job(obj: Obj, spec: Obj) -> None:
    """The Job strategy's defaults, and the selector it generates from the Job's uid."""
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    meta = obj.get("metadata") or {}
    uid, name = meta.get("uid"), meta.get("name")
    t = spec.setdefault("template", {})
    if uid and not spec.get("selector") and not spec.get("manualSelector") and isinstance(t, dict):
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        labels = t.setdefault("metadata", {}).setdefault("labels", {})
        labels.update({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                       "controller-uid": uid, "job-name": name})
    template(t)


def daemonset(spec: Obj) -> None:
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
    if isinstance(strategy, dict) and strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy.setdefault("type", "RollingUpdate")
        strategy.setdefault("rollingUpdate", {"maxUnavailable": 1, "maxSurge": 0})
    template(spec.get("template"))
