"""Seeded fleets: `demo` (the seed article's services), `scaled` (N synthetic services), `empty`.

Demo conventions (the backend and the TUI rely on them):
- production marker: namespace label `environment: production` on `ml-prod` (`ml-staging` is `staging`);
- blue-green: Service `ml-model-service` selects `{app: ml-model, version: v2.0}`; Deployments
  `ml-model-v2-0` / `ml-model-v2-1` carry `app=ml-model, version=v2.0 / v2.1`; the colour key is `version`;
- Istio canary: VirtualService `rent-predictor` (hosts [rent-predictor]) with one http route to two
  destinations named by *host*: Services `rent-predictor-stable` (weight 90) and `rent-predictor-canary`
  (weight 10), which select Deployments `rent-predictor-stable` (version v1.1) and
  `rent-predictor-canary` (version v1.2); no subsets;
- Argo canary `ensemble-predictor` paused at step 1 (stable v1.9 images, canary v2.0 at weight 20);
- KServe `property-price-predictor` at revision 2 with canaryTrafficPercent 10 (revision 1 keeps 90);
- `llm-reranker` in ml-staging asks for 4 GPUs per pod, 4 pods: more than the free GPUs, so some
  stay Pending with a FailedScheduling event; `bert-mig` asks for `nvidia.com/mig-1g.5gb`.
"""

from __future__ import annotations

import random
from typing import Any

from mlops_tui.sim.kube import defaults
from mlops_tui.sim.kube.objects import (
    container,
    deployment,
    namespace,
    node,
    owner_ref,
    pod_template,
    safe_encode,
    service,
    template_hash,
)
from mlops_tui.sim.kube.pods import qos_class
from mlops_tui.sim.kube.store import Store, clone, now_iso

Obj = dict[str, Any]
FLEETS = ("demo", "scaled", "empty")


def seed(store: Store, fleet: str, seed_: int, services: int = 2000, pods_per_service: int = 10,
         gpu_nodes: int = 200, cpu_nodes: int = 0) -> bool:
    """Fill `store`; True when the fleet was bulk-loaded already converged (controllers need not
    reconcile every object at start)."""
    if fleet not in FLEETS:
        raise ValueError(f"unknown fleet {fleet!r}; choose one of {', '.join(FLEETS)}")
    for ns in ("default", "kube-system", "kube-public"):
        store.create("namespaces", None, namespace(ns))
    if fleet == "demo":
        demo(store)
    elif fleet == "scaled":
        scaled(store, seed_, services, pods_per_service, gpu_nodes, cpu_nodes)
        return True
    return False


def _ip(i: int) -> str:
    return f"10.96.{(i // 250) % 250}.{i % 250 + 10}"


def demo(store: Store) -> None:
    c = store.create
    c("namespaces", None, namespace("ml-prod", {"environment": "production", "team": "ml-platform"}))
    c("namespaces", None, namespace("ml-staging", {"environment": "staging", "team": "ml-platform"}))
    c("nodes", None, node("gpu-node-1", 1, gpus=4))
    c("nodes", None, node("gpu-node-2", 2, gpus=4))
    c("nodes", None, node("gpu-node-3", 3, gpus=8, mig={"nvidia.com/mig-1g.5gb": 7}))
    c("nodes", None, node("cpu-node-1", 4, cpu=16, memory_gi=64))
    c("nodes", None, node("cpu-node-2", 5, cpu=16, memory_gi=64))
    ns = "ml-prod"
    # The seed article's Deployment and its HPA.
    labels = {"app": "valuation-model", "version": "v2.1"}
    c("deployments", ns, deployment("property-valuation-model", ns, labels, {"app": "valuation-model"}, 3, [
        container("model-server", "proptechusa/valuation-model:v2.1",
                  requests={"memory": "2Gi", "nvidia.com/gpu": 1}, limits={"memory": "4Gi", "nvidia.com/gpu": 1},
                  env={"MODEL_VERSION": "2.1", "BATCH_SIZE": "32"})]))
    c("services", ns, service("property-valuation-model", ns, {"app": "valuation-model"}, cluster_ip=_ip(1),
                              labels={"app": "valuation-model"}))
    c("horizontalpodautoscalers", ns, {
        "metadata": {"name": "model-hpa", "namespace": ns},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "property-valuation-model"},
                 "minReplicas": 2, "maxReplicas": 20,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                     "type": "Utilization", "averageUtilization": 70}}},
                     {"type": "Pods", "pods": {"metric": {"name": "inference_latency_p95"},
                                               "target": {"type": "AverageValue", "averageValue": "100m"}}}]}})
    # KServe InferenceService: revision 2 is the canary at 10 %, revision 1 keeps 90 %.
    c("inferenceservices", ns, {
        "metadata": {"name": "property-price-predictor", "namespace": ns,
                     "annotations": {"serving.kserve.io/deploymentMode": "Serverless"}},
        "spec": {"predictor": {"canaryTrafficPercent": 10, "tensorflow": {
            "storageUri": "gs://proptech-models/price-predictor/v1",
            "resources": {"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"cpu": "1000m", "memory": "2Gi"}}}}},
    })
    base = "property-price-predictor-predictor"
    isvc = store.get("inferenceservices", ns, "property-price-predictor")
    isvc["status"] = {"components": {"predictor": {
        "latestCreatedRevision": f"{base}-00002", "latestReadyRevision": f"{base}-00002",
        "latestRolledoutRevision": f"{base}-00001", "previousRolledoutRevision": f"{base}-00001"}}}
    store.update("inferenceservices", ns, "property-price-predictor", isvc, "status")
    # Argo Rollout mid-canary: stable (revision 1) runs v1.9 images, the spec asks for v2.0.
    ro_labels = {"app": "ensemble-predictor"}

    def ensemble(price: str) -> Obj:
        return pod_template(ro_labels, [
            container("price-model", f"proptechusa/price-model:{price}", requests={"cpu": "500m", "memory": "1Gi"},
                      port=None),
            container("demand-model", "proptechusa/demand-model:v1.5", requests={"cpu": "300m", "memory": "512Mi"},
                      port=None),
            container("aggregator", "proptechusa/model-aggregator:v1.1", port=8080)])

    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 40}, {"pause": {"duration": "10s"}},
             {"setWeight": 60}, {"pause": {"duration": "10s"}}, {"setWeight": 80}, {"pause": {"duration": "10s"}}]
    ro = c("rollouts", ns, {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                            "metadata": {"name": "ensemble-predictor", "namespace": ns, "labels": ro_labels},
                            "spec": {"replicas": 5, "revisionHistoryLimit": 3,
                                     "selector": {"matchLabels": ro_labels},
                                     "template": ensemble("v2.0"), "strategy": {"canary": {"steps": steps}}}})
    old_t = ensemble("v1.9")
    h_old = template_hash(old_t, "rollouts-pod-template-hash")
    h_new = template_hash(ro["spec"]["template"], "rollouts-pod-template-hash")
    t = clone(old_t)
    t["metadata"]["labels"]["rollouts-pod-template-hash"] = h_old
    c("replicasets", ns, {"metadata": {"name": f"ensemble-predictor-{h_old}", "namespace": ns,
                                       "labels": dict(t["metadata"]["labels"]),
                                       "annotations": {"rollout.argoproj.io/revision": "1"},
                                       "ownerReferences": [owner_ref(ro)]},
                          "spec": {"replicas": 4, "selector": {"matchLabels": dict(t["metadata"]["labels"])},
                                   "template": t}})
    ro = store.get("rollouts", ns, "ensemble-predictor")
    ro["status"] = {"stableRS": h_old, "currentPodHash": h_new, "currentStepIndex": 1,
                    "currentStepHash": safe_encode(repr(steps).encode()), "controllerPause": True,
                    "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": now_iso()}]}
    store.update("rollouts", ns, "ensemble-predictor", ro, "status")
    c("services", ns, service("ensemble-predictor", ns, ro_labels, cluster_ip=_ip(2)))
    # Blue-green pair behind one Service.
    for version, tag in (("v2.0", "v2-0"), ("v2.1", "v2-1")):
        lab = {"app": "ml-model", "version": version}
        c("deployments", ns, deployment(f"ml-model-{tag}", ns, lab, lab, 3, [
            container("model", f"proptechusa/ml-model:{version}", requests={"cpu": "500m", "memory": "1Gi"})]))
    c("services", ns, service("ml-model-service", ns, {"app": "ml-model", "version": "v2.0"}, cluster_ip=_ip(3),
                              labels={"app": "ml-model"}))
    # Istio canary pair.
    for role, version, replicas, ip in (("stable", "v1.1", 3, 4), ("canary", "v1.2", 1, 5)):
        lab = {"app": "rent-predictor", "version": version}
        c("deployments", ns, deployment(f"rent-predictor-{role}", ns, {**lab, "track": role}, lab, replicas, [
            container("rent-model", f"proptechusa/rent-prediction:{version}",
                      requests={"cpu": "250m", "memory": "512Mi"})]))
        c("services", ns, service(f"rent-predictor-{role}", ns, lab, cluster_ip=_ip(ip),
                                  labels={"app": "rent-predictor"}))
    c("services", ns, service("rent-predictor", ns, {"app": "rent-predictor"}, cluster_ip=_ip(6)))
    c("virtualservices", ns, {"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
                              "metadata": {"name": "rent-predictor", "namespace": ns},
                              "spec": {"hosts": ["rent-predictor"], "http": [{"name": "primary", "route": [
                                  {"destination": {"host": "rent-predictor-stable", "port": {"number": 80}},
                                   "weight": 90},
                                  {"destination": {"host": "rent-predictor-canary", "port": {"number": 80}},
                                   "weight": 10}]}]}})
    c("configmaps", ns, {"metadata": {"name": "model-config", "namespace": ns},
                         "data": {"MODEL_PATH": "/models/rent-predictor.pkl", "BATCH_SIZE": "32"}})
    # Staging: a GPU-hungry reranker that cannot all fit, and a MIG consumer.
    st = "ml-staging"
    lab = {"app": "llm-reranker", "version": "v0.3"}
    c("deployments", st, deployment("llm-reranker", st, lab, {"app": "llm-reranker"}, 4, [
        container("reranker", "proptechusa/llm-reranker:v0.3", requests={"cpu": "4", "memory": "32Gi",
                                                                         "nvidia.com/gpu": 4},
                  limits={"nvidia.com/gpu": 4})]))
    lab = {"app": "bert-mig", "version": "v1.0"}
    # Its own p95 SLO, declared on the workload: tighter than the seed alert rule's 0.5 s the rest inherit.
    c("deployments", st, deployment("bert-mig", st, lab, {"app": "bert-mig"}, 2, [
        container("bert", "proptechusa/bert-classifier:v1.0", requests={"cpu": "1", "memory": "4Gi"},
                  limits={"nvidia.com/mig-1g.5gb": 1})], annotations={"mlops-tui.io/slo-p95-ms": "300"}))


def scaled(store: Store, seed_: int, services: int, per: int, gpu_nodes: int, cpu_nodes: int) -> None:
    """N services × P pods, already Running and ready, bulk-loaded (no controller work at start)."""
    rng = random.Random(seed_)
    namespaces = [f"team-{i:02d}" for i in range(max(1, min(20, services // 50 or 1)))]
    store.create("namespaces", None, namespace("ml-prod", {"environment": "production"}))
    for ns in namespaces:
        store.create("namespaces", None, namespace(ns, {"environment": "production" if rng.random() < 0.5
                                                       else "staging"}))
    ts = now_iso()
    nodes = [_prepared(store, node(f"gpu-node-{i + 1}", i + 1, gpus=8, cpu=96, memory_gi=1024), "Node", "v1", ts)
             for i in range(gpu_nodes)]
    nodes += [_prepared(store, node(f"cpu-node-{i + 1}", gpu_nodes + i + 1, cpu=64, memory_gi=256), "Node", "v1", ts)
              for i in range(cpu_nodes)]
    store.bulk_load("nodes", nodes)
    gpu_free = {n["metadata"]["name"]: 8 for n in nodes[:gpu_nodes]}
    gpu_names = list(gpu_free)
    all_names = [n["metadata"]["name"] for n in nodes] or ["<none>"]
    deployments, rollouts, isvcs, rsets, pods, svcs, hpas, endpoints, slices = [], [], [], [], [], [], [], [], []
    ip = 10
    cursor = 0
    # GPU services take up to 90 % of the GPUs (at most 60 % of services), the rest runs on CPU.
    gpu_share = min(0.6, 0.9 * 8 * gpu_nodes / max(1, services * per))
    for i in range(services):
        ns = namespaces[i % len(namespaces)]
        name = f"model-{i:05d}"
        roll = rng.random()
        kind = "Rollout" if roll < 0.1 else ("InferenceService" if roll < 0.2 else "Deployment")
        version = f"v{rng.randint(1, 4)}.{rng.randint(0, 9)}"
        labels = {"app": name, "version": version}
        wants_gpu = rng.random() < gpu_share
        requests: dict[str, Any] = {"cpu": "500m", "memory": "2Gi"}
        if wants_gpu:
            requests["nvidia.com/gpu"] = 1
        ctr = container("server", f"registry.local/{name}:{version}", requests=requests,
                        limits={"nvidia.com/gpu": 1} if wants_gpu else None)
        owner_of_deployment = None
        if kind == "InferenceService":
            isvc = _prepared(store, {"metadata": {"name": name, "namespace": ns, "labels": labels},
                                     "spec": {"predictor": {"minReplicas": per, "sklearn": {
                                         "storageUri": f"gs://models/{name}/{version}"}}}},
                             "InferenceService", "serving.kserve.io/v1beta1", ts, generation=True)
            isvcs.append(isvc)
            # Knative's revision Deployment runs the predictor pods (owned by the InferenceService here).
            owner_of_deployment = isvc
            labels = {"app": f"{name}-predictor-00001", "serving.kserve.io/inferenceservice": name,
                      "component": "predictor"}
            name = f"{name}-predictor-00001-deployment"
            kind = "Deployment"
        # Defaulted as the API server would on create, the same way a later patch defaults the owner's
        # template: otherwise the first scale finds the templates different and rolls every pod.
        template = pod_template(labels, [ctr])
        defaults.template(template)
        owner_kind = "Rollout" if kind == "Rollout" else "Deployment"
        hash_label = "rollouts-pod-template-hash" if kind == "Rollout" else "pod-template-hash"
        h = template_hash(template, hash_label)
        if kind == "Rollout":
            obj = _prepared(store, {"metadata": {"name": name, "namespace": ns, "labels": labels},
                                    "spec": {"replicas": per, "selector": {"matchLabels": {"app": name}},
                                             "template": template,
                                             "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}}},
                            "Rollout", "argoproj.io/v1alpha1", ts, generation=True)
            obj["status"] = {"stableRS": h, "currentPodHash": h, "currentStepIndex": 2, "phase": "Healthy",
                             "replicas": per, "updatedReplicas": per, "readyReplicas": per, "availableReplicas": per,
                             "HPAReplicas": per, "selector": f"app={name}", "observedGeneration": "1"}
            rollouts.append(obj)
            rev_ann = {"rollout.argoproj.io/revision": "1"}
        else:
            obj = _prepared(store, deployment(name, ns, labels, {"app": labels["app"]}, per, [ctr],
                                              {"deployment.kubernetes.io/revision": "1"}),
                            "Deployment", "apps/v1", ts, generation=True)
            defaults.apply("deployments", obj)
            if owner_of_deployment is not None:
                obj["metadata"]["ownerReferences"] = [owner_ref(owner_of_deployment)]
            obj["status"] = {"observedGeneration": 1, "replicas": per, "updatedReplicas": per, "readyReplicas": per,
                             "availableReplicas": per, "conditions": [
                                 {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                  "message": "Deployment has minimum availability.", "lastUpdateTime": ts,
                                  "lastTransitionTime": ts},
                                 {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                                  "message": f'ReplicaSet "{name}-{h}" has successfully progressed.',
                                  "lastUpdateTime": ts, "lastTransitionTime": ts}]}
            deployments.append(obj)
            rev_ann = {"deployment.kubernetes.io/revision": "1", "deployment.kubernetes.io/desired-replicas": str(per),
                       "deployment.kubernetes.io/max-replicas": str(per + max(1, -(-per // 4)))}
        t = clone(template)
        t["metadata"]["labels"][hash_label] = h
        rs = _prepared(store, {"metadata": {"name": f"{name}-{h}", "namespace": ns,
                                            "labels": dict(t["metadata"]["labels"]), "annotations": rev_ann,
                                            "ownerReferences": [owner_ref(obj)]},
                               "spec": {"replicas": per, "selector": {"matchLabels": {"app": labels["app"],
                                                                                     hash_label: h}},
                                        "template": t}},
                       "ReplicaSet", "apps/v1", ts, generation=True)
        rs["status"] = {"replicas": per, "fullyLabeledReplicas": per, "readyReplicas": per, "availableReplicas": per,
                        "observedGeneration": 1}
        rsets.append(rs)
        qos = qos_class(t.get("spec"))  # one template, one class: not once per pod (20,000 of them)
        for j in range(per):
            if wants_gpu and gpu_names:
                for _ in range(len(gpu_names)):
                    candidate = gpu_names[cursor % len(gpu_names)]
                    cursor += 1
                    if gpu_free[candidate] > 0:
                        break
                else:
                    candidate = ""
                if candidate:
                    gpu_free[candidate] -= 1
                node_name = candidate
            else:
                node_name = all_names[(i * per + j) % len(all_names)]
            ip += 1
            pods.append(_pod(store, rs, t, j, node_name, ip, ts, qos))
        svc = _prepared(store, service(name, ns, {"app": labels["app"]}, cluster_ip=_ip(i + 100),
                                       labels={"app": labels["app"]}), "Service", "v1", ts)
        svcs.append(svc)
        svc_pods = pods[-per:] if per else []
        ready = [{"ip": p["status"]["podIP"], "nodeName": p["spec"]["nodeName"],
                  "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"],
                                "uid": p["metadata"]["uid"]}} for p in svc_pods if p["status"].get("podIP")]
        ep = _prepared(store, {"metadata": {"name": name, "namespace": ns, "labels": {"app": labels["app"]}}},
                       "Endpoints", "v1", ts)
        if ready:
            ep["subsets"] = [{"addresses": ready, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]
        endpoints.append(ep)
        slices.append(_prepared(store, {
            "metadata": {"name": f"{name}-sim", "namespace": ns,
                         "labels": {"app": labels["app"], "kubernetes.io/service-name": name,
                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                         "ownerReferences": [owner_ref(svc)]},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [a["ip"]], "conditions": {"ready": True, "serving": True, "terminating": False},
                           "nodeName": a["nodeName"], "targetRef": a["targetRef"]} for a in ready],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}, "EndpointSlice", "discovery.k8s.io/v1", ts))
        if rng.random() < 0.1:
            hpas.append(_prepared(store, {"metadata": {"name": f"{name}-hpa", "namespace": ns},
                                          "spec": {"scaleTargetRef": {"apiVersion": obj["apiVersion"],
                                                                      "kind": owner_kind, "name": name},
                                                   "minReplicas": max(1, per // 2), "maxReplicas": per * 2,
                                                   "metrics": [{"type": "Resource", "resource": {
                                                       "name": "cpu", "target": {"type": "Utilization",
                                                                                 "averageUtilization": 70}}}]}},
                                  "HorizontalPodAutoscaler", "autoscaling/v2", ts, generation=True))
    store.bulk_load("deployments", deployments)
    store.bulk_load("rollouts", rollouts)
    store.bulk_load("inferenceservices", isvcs)
    store.bulk_load("replicasets", rsets)
    store.bulk_load("pods", pods)
    store.bulk_load("services", svcs)
    store.bulk_load("horizontalpodautoscalers", hpas)
    store.bulk_load("endpoints", endpoints)
    store.bulk_load("endpointslices", slices)


def _prepared(store: Store, obj: Obj, kind: str, api_version: str, ts: str, generation: bool = False) -> Obj:
    obj["apiVersion"] = api_version
    obj["kind"] = kind
    meta = obj["metadata"]
    meta["uid"] = store.new_uid()
    meta["creationTimestamp"] = ts
    if generation:
        meta["generation"] = 1
    return obj


def _pod(store: Store, rs: Obj, template: Obj, j: int, node_name: str, ip: int, ts: str, qos: str) -> Obj:
    meta = rs["metadata"]
    name = f"{meta['name']}-{safe_encode((meta['name'] + str(j)).encode(), 5)}"
    spec = clone(template["spec"])
    conditions = [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": ts}
                  for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")]
    if node_name:
        spec["nodeName"] = node_name
        pod_ip = f"10.{128 + (ip >> 16) % 64}.{(ip >> 8) & 255}.{ip & 255}"
        status = {"phase": "Running", "conditions": conditions, "hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.1"}],
                  "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "startTime": ts, "qosClass": qos,
                  "containerStatuses": [{"name": c["name"], "image": c["image"], "imageID": "", "ready": True,
                                         "restartCount": 0, "started": True,
                                         "state": {"running": {"startedAt": ts}}} for c in spec["containers"]]}
    else:
        status = {"phase": "Pending", "qosClass": qos, "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "lastProbeTime": None,
             "lastTransitionTime": ts, "message": "0/0 nodes are available: Insufficient nvidia.com/gpu."}]}
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": meta["namespace"], "labels": dict(template["metadata"]["labels"]),
                        "ownerReferences": [owner_ref(rs)], "uid": store.new_uid(), "creationTimestamp": ts},
           "spec": spec, "status": status}
    return pod
