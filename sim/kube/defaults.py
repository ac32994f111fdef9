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
