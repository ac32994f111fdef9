"""The object screen's reads for one cluster: the live object (never the cache, which keeps reduced
objects), its events, its ReplicaSets or a node's pods, rendered by `describe.py` into `ObjectText`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from mlops_tui.backends.kubernetes import describe as ds
from mlops_tui.backends.kubernetes import translate as tr
from mlops_tui.backends.kubernetes.actions.shared import Cluster, ClusterApi
from mlops_tui.backends.kubernetes.client import api_path
from mlops_tui.backends.model import GpuNode, ModelService, ObjectText, ServiceKind

KIND_NAMES = {ServiceKind.DEPLOYMENT: "Deployment", ServiceKind.ROLLOUT: "Rollout",
              ServiceKind.INFERENCE_SERVICE: "InferenceService"}
MANAGED_HIDDEN = "managed fields hidden"


class ObjectReader:
    """Reads what `kubectl get -o yaml` and `kubectl describe` read, and renders it as they do."""

    def __init__(self, cluster: Cluster, now: Callable[[], datetime] = ds.utcnow) -> None:
        self.api = ClusterApi(cluster)
        self._now = now

    def _title(self, kind: str, ns: str, name: str) -> str:
        return f"{kind} {ns + '/' if ns else ''}{name} on {self.api.cluster.name}"

    def manifest(self, service: ModelService, managed_fields: bool = False) -> ObjectText:
        key = service.key
        obj = self.api.fetch(key)
        return self._yaml(self._title(KIND_NAMES[key.kind], key.namespace, key.name), obj, managed_fields)

    def node_manifest(self, node: GpuNode, managed_fields: bool = False) -> ObjectText:
        obj = self.api.get(api_path("", "v1", "nodes", name=node.node))
        return self._yaml(self._title("Node", "", node.node), obj, managed_fields)

    def describe_object(self, service: ModelService) -> ObjectText:
        key = service.key
        obj = self.api.fetch(key)
        events = self._events(key.namespace, KIND_NAMES[key.kind], obj)
        if key.kind is ServiceKind.DEPLOYMENT:
            replicasets = tr.as_list(tr.as_dict(self.api.get(
                api_path("apps", "v1", "replicasets", key.namespace),
                self._selector_query(tr.as_dict(tr.dig(obj, "spec").get("selector")).get("matchLabels")),
            )).get("items"))
            body = ds.describe_deployment(obj, events, replicasets, self._now())
        else:
            body = ds.describe_generic(obj, events, self._now())
        return ObjectText(self._title(KIND_NAMES[key.kind], key.namespace, key.name), "text", body)

    def describe_node(self, node: GpuNode) -> ObjectText:
        obj = self.api.get(api_path("", "v1", "nodes", name=node.node))
        pods = tr.as_list(tr.as_dict(self.api.get(api_path("", "v1", "pods"),
                                                  (("fieldSelector", f"spec.nodeName={node.node}"),))).get("items"))
        events = self._events("", "Node", obj)
        try:  # kubectl shows the kubelet's heartbeat lease; a cluster without one still shows the node
            lease = self.api.get(api_path("coordination.k8s.io", "v1", "leases", "kube-node-lease", node.node))
        except Exception:
            lease = None
        return ObjectText(self._title("Node", "", node.node), "text",
                          ds.describe_node(obj, pods, events, self._now(), lease))

    def describe_pod(self, namespace: str, name: str) -> ObjectText:
        obj = self.api.get(api_path("", "v1", "pods", namespace, name))
        events = self._events(namespace, "Pod", obj)
        return ObjectText(self._title("Pod", namespace, name), "text", ds.describe_pod(obj, events, self._now()))

    def _events(self, namespace: str, kind: str, obj: Any) -> list[Any]:
        """The object's events as kubectl describe finds them (by name, kind and uid). Events are an
        extra: a cluster that refuses them still shows the object."""
        m = tr.meta(obj)
        fields = [f"involvedObject.name={m.get('name', '')}", f"involvedObject.kind={kind}"]
        if m.get("uid"):
            fields.append(f"involvedObject.uid={m['uid']}")
        if namespace:
            fields.append(f"involvedObject.namespace={namespace}")
        try:
            answer = self.api.get(api_path("", "v1", "events", namespace), (("fieldSelector", ",".join(fields)),))
        except Exception:
            return []
        return tr.as_list(tr.as_dict(answer).get("items"))

    @staticmethod
    def _selector_query(labels: Any) -> tuple[tuple[str, str], ...]:
        selector = ",".join(f"{k}={v}" for k, v in sorted(tr.str_map(labels).items()))
        return (("labelSelector", selector),) if selector else ()

    @staticmethod
    def _yaml(title: str, obj: Any, managed_fields: bool) -> ObjectText:
        hidden = "" if managed_fields or not ds.has_managed_fields(obj) else MANAGED_HIDDEN
        return ObjectText(title, "yaml", ds.as_yaml(obj, managed_fields), hidden)

