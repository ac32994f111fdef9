"""Controllers in one background thread, so objects move as on a real cluster.

Deployment → ReplicaSets (pod-template-hash, revisions, rolling update with maxSurge/maxUnavailable,
paused) → Pods → scheduler (nvidia.com/gpu, nvidia.com/mig-*, cpu, memory; FailedScheduling events)
→ readiness after `ready_delay` → Services' Endpoints and EndpointSlices. Also: node NotReady evicts
its pods; HPAs scale their targets from a simulated CPU load; Argo Rollouts canary and blue-green;
KServe canaryTrafficPercent → status traffic.

Work is driven by the store's change notifications (dirty sets), so a tick costs O(changes), not
O(objects). The thread sleeps `tick` seconds between rounds and wakes early on a change."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import random
import threading
import time
from collections import defaultdict, deque
from typing import Any

from mlops_tui.sim.kube.errors import ApiError
from mlops_tui.sim.kube.kserve import sync_isvc
from mlops_tui.sim.kube.objects import (
    controller_uid,
    node_conditions,
    owner_ref,
    pod_requests,
    resolve_int_or_percent,
    safe_encode,
    template_hash,
)
from mlops_tui.sim.kube.patch import STRATEGIC
from mlops_tui.sim.kube.reconcile import release_due, run_rounds, sync_dirty
from mlops_tui.sim.kube.rollouts import sync_rollout
from mlops_tui.sim.kube.selectors import map_matches, match_labels, selector_from_match, selector_string
from mlops_tui.sim.kube.store import Store, clone, now_iso

Obj = dict[str, Any]
Key = tuple[str, str]
REV = "deployment.kubernetes.io/revision"
ARGO_REV = "rollout.argoproj.io/revision"
ARGO_HASH = "rollouts-pod-template-hash"
HASH = "pod-template-hash"
_NOT_COPIED = {"kubectl.kubernetes.io/last-applied-configuration", REV, "deployment.kubernetes.io/revision-history",
               "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas",
               "deprecated.deployment.rollback.to"}
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


class PodInfo:
    __slots__ = ("created", "grace", "ip", "labels", "name", "node", "ns", "owner", "phase", "ready", "requests",
                 "terminating", "uid")

    def __init__(self, obj: Obj) -> None:
        meta = obj["metadata"]
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        self.ns, self.name, self.uid = meta.get("namespace", ""), meta["name"], meta.get("uid", "")
        self.owner = controller_uid(obj)
        self.node = spec.get("nodeName") or ""
        self.requests = pod_requests(spec)
        self.phase = status.get("phase", "Pending")
        self.ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())
        self.labels = meta.get("labels") or {}
        self.created = meta.get("creationTimestamp", "")
        self.ip = status.get("podIP", "")
        self.terminating = bool(meta.get("deletionTimestamp"))
        self.grace = int(meta.get("deletionGracePeriodSeconds") or 0)

    @property
    def active(self) -> bool:
        """What a ReplicaSet counts (FilterActivePods): neither finished nor terminating."""
        return not self.terminating and self.phase not in ("Succeeded", "Failed")


class Controllers:
    def __init__(self, store: Store, seed: int = 0, ready_delay: float = 1.0, tick: float = 0.2,
                 hpa_period: float = 3.0, grace_factor: float = 0.1,
                 heartbeat: tuple[float, float] = (10.0, 40.0)) -> None:
        self.store = store
        self.ready_delay = ready_delay
        self.grace_factor = grace_factor
        """A terminating pod goes after deletionGracePeriodSeconds × this (the object shows the full grace)."""
        self.heartbeat = heartbeat
        """Seconds between one node's status posts (lastHeartbeatTime), drawn uniformly from this range."""
        self._heartbeats: list[tuple[float, str]] = []
        self.tick = tick
        self.hpa_period = hpa_period
        self.rng = random.Random(seed ^ 0x5EED)
        self._events: deque[tuple[str, str, Obj, Obj | None]] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = threading.Event()
        self._lock = threading.Lock()  # guards the scenario inputs below
        self._loads: dict[Key, float] = {}
        self._node_ready_requests: list[tuple[str, bool]] = []
        # indices
        self.pods: dict[Key, PodInfo] = {}
        self.pods_by_owner: dict[str, set[Key]] = defaultdict(set)
        self.pods_by_ns: dict[str, set[Key]] = defaultdict(set)
        self.pods_by_node: dict[str, set[Key]] = defaultdict(set)
        self.node_alloc: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.unscheduled: set[Key] = set()
        self.owned: dict[str, set[tuple[str, Key]]] = defaultdict(set)  # owner uid -> {(resource, key)}
        self.uid_index: dict[str, tuple[str, Key]] = {}
        self.services: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)  # ns -> name -> selector
        # work
        self.dirty: dict[str, set[Key]] = defaultdict(set)
        self.timers: list[tuple[float, int, str, Key]] = []
        self._seq = itertools.count()
        self.failed_scheduling_reported: set[Key] = set()
        self.ip_counter = itertools.count(10)
        self.isvc_revisions: dict[str, tuple[str, int]] = {}  # uid -> (predictor hash, latest revision)
        self.scale_down_at: dict[Key, float] = {}
        self._next_hpa = 0.0
        store.subscribe(self._on_change)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, settled: bool = False) -> None:
        """Index the store and start the thread; `settled`: the objects are already converged."""
        with self.store.lock:
            for res in ("pods", "replicasets", "deployments", "rollouts", "services", "inferenceservices",
                        "nodes"):
                for obj in self.store.peek_all(res):
                    self._index(res, "ADDED", obj, None)
            self._events.clear()
            if settled:
                keep = self.dirty.get("inferenceservices", set())
                self.dirty.clear()
                self.dirty["inferenceservices"] = keep
        self._thread = threading.Thread(target=self._run, name="sim-kube-controllers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def settle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            soon = time.monotonic() + self.ready_delay + self.tick
            try:  # read without the controller thread's cooperation: a resize mid-read just retries
                # a terminating pod keeps the cluster busy until the kubelet removed it
                due = any((t[0] <= soon and t[2] == "pods") or t[2] == "terminate" for t in list(self.timers))
                dirty = any(list(self.dirty.values()))
            except RuntimeError:
                due = dirty = True
            if not self._events and not dirty and not self._busy.is_set() and not due:
                quiet += 1
                if quiet >= 3:
                    return True
            else:
                quiet = 0
            time.sleep(0.05)
        return False

    def set_load(self, ns: str, name: str, cpu: float) -> None:
        """`cpu` percent utilisation at the target's current replicas; the demand behind it stays, so
        more replicas bring the utilisation down (and the HPA settles, as on a real cluster)."""
        replicas = 1
        for res in ("deployments", "rollouts"):
            target = self.store.peek(res, ns, name)
            if target is not None:
                replicas = max(1, int((target.get("spec") or {}).get("replicas", 1) or 1))
                break
        with self._lock:
            self._loads[(ns, name)] = float(cpu) * replicas  # demand, in percent-of-one-replica units
        self._next_hpa = 0.0
        self._wake.set()

    def set_node_ready(self, name: str, ready: bool) -> None:
        with self._lock:
            self._node_ready_requests.append((name, ready))
        self._wake.set()
        deadline = time.monotonic() + 5
        while self._node_ready_requests and time.monotonic() < deadline:
            time.sleep(0.02)

    def _on_change(self, resource: str, type_: str, obj: Obj, old: Obj | None) -> None:
        # Called under the store lock: just queue it.
        self._events.append((resource, type_, obj, old))
        self._wake.set()

    def _run(self) -> None:
        run_rounds(self._stop, self._wake, self.tick, self._round, busy=self._busy)

    def _round(self) -> None:
        with self._lock:
            node_requests, self._node_ready_requests = self._node_ready_requests, []
        for name, ready in node_requests:
            self._set_node_ready(name, ready)
        release_due(self.timers, self.dirty)
        for _ in range(8):
            self._drain()
            if not any(self.dirty.values()):
                break
            sync_dirty(self.dirty, (("deployments", self._sync_deployment), ("rollouts", self._sync_rollout),
                                    ("replicasets", self._sync_replicaset), ("pods", self._sync_pod),
                                    ("schedule", self._schedule), ("inferenceservices", self._sync_isvc),
                                    ("services", self._sync_service), ("rs-status", self._rs_status),
                                    ("terminate", self._finish_termination)),
                       after_each=self._drain)
        self._post_heartbeats()
        if time.monotonic() >= self._next_hpa:
            self._next_hpa = time.monotonic() + self.hpa_period
            self._sync_hpas()

    def _timer(self, delay: float, res: str, key: Key) -> None:
        heapq.heappush(self.timers, (time.monotonic() + delay, next(self._seq), res, key))

    # -- indices -------------------------------------------------------------------------------

    def _drain(self) -> None:
        while self._events:
            resource, type_, obj, old = self._events.popleft()
            self._index(resource, type_, obj, old)

    def _index(self, resource: str, type_: str, obj: Obj, old: Obj | None) -> None:
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        uid = meta.get("uid", "")
        if resource == "pods":
            self._index_pod(key, obj, type_)
        elif resource in ("replicasets", "deployments", "rollouts", "inferenceservices"):
            owner = controller_uid(obj)
            if type_ == "DELETED":
                self.uid_index.pop(uid, None)
                if owner:
                    self.owned[owner].discard((resource, key))
                # garbage collection (propagationPolicy Background): children go with their owner
                for child in list(self.owned.pop(uid, ())):
                    self._delete(child[0], child[1])
                if resource == "replicasets":
                    for pk in list(self.pods_by_owner.get(uid, ())):
                        self._delete("pods", pk)
            else:
                self.uid_index[uid] = (resource, key)
                if owner:
                    self.owned[owner].add((resource, key))
            if resource == "replicasets":
                self.dirty["replicasets"].add(key)
                if owner and owner in self.uid_index:
                    res, okey = self.uid_index[owner]
                    self.dirty[res].add(okey)
            else:
                self.dirty[resource].add(key)
        elif resource == "services":
            if type_ == "DELETED":
                self.services[key[0]].pop(key[1], None)
                self._delete("endpoints", key)
                self._delete("endpointslices", (key[0], f"{key[1]}-sim"))
            else:
                self.services[key[0]][key[1]] = dict((obj.get("spec") or {}).get("selector") or {})
                self.dirty["services"].add(key)
        elif resource == "nodes" and type_ != "DELETED":
            if old is None:
                heapq.heappush(self._heartbeats, (time.monotonic() + self.rng.uniform(0, self.heartbeat[0]),
                                                  key[1]))
            if old is None or _scheduling_view(old) != _scheduling_view(obj):  # not on a mere heartbeat
                self.dirty["schedule"].add(("", "*"))

    def _index_pod(self, key: Key, obj: Obj, type_: str) -> None:
        old = self.pods.pop(key, None)
        if old is not None:
            if old.owner:
                self.pods_by_owner[old.owner].discard(key)
            self.pods_by_ns[old.ns].discard(key)
            if old.node:
                self.pods_by_node[old.node].discard(key)
                if old.phase not in ("Succeeded", "Failed"):
                    alloc = self.node_alloc[old.node]
                    for r, v in old.requests.items():
                        alloc[r] -= v
            self.unscheduled.discard(key)
        new = None
        if type_ != "DELETED":
            new = PodInfo(obj)
            self.pods[key] = new
            if new.owner:
                self.pods_by_owner[new.owner].add(key)
            self.pods_by_ns[new.ns].add(key)
            if new.node:
                self.pods_by_node[new.node].add(key)
                if new.phase not in ("Succeeded", "Failed"):
                    alloc = self.node_alloc[new.node]
                    for r, v in new.requests.items():
                        alloc[r] += v
            elif new.phase == "Pending":
                self.unscheduled.add(key)
                self.dirty["schedule"].add(key)
        else:
            self.failed_scheduling_reported.discard(key)
            self.dirty["schedule"].add(("", "*"))  # capacity freed: pending pods may fit now
        info = new or old
        if info is None:
            return
        if new is not None and new.terminating and (old is None or not old.terminating or old.grace != new.grace):
            # the kubelet kills the containers, then deletes the pod for good once the grace has passed
            self._timer(new.grace * self.grace_factor, "terminate", key)
        changed = old is None or new is None or old.ready != new.ready or old.labels != new.labels \
            or old.node != new.node or old.phase != new.phase or old.terminating != new.terminating
        if not changed:
            return
        if info.owner:
            self.dirty["rs-status"].add(("uid", info.owner))
            owner = self.uid_index.get(info.owner)
            if owner and owner[0] == "replicasets":
                rs = self.store.peek("replicasets", *owner[1])
                top = controller_uid(rs) if rs else None
                if top and top in self.uid_index:
                    res, okey = self.uid_index[top]
                    self.dirty[res].add(okey)
                if type_ == "DELETED":
                    self.dirty["replicasets"].add(owner[1])
        for name, selector in self.services.get(info.ns, {}).items():
            if map_matches(selector, info.labels) or (old and map_matches(selector, old.labels)):
                self.dirty["services"].add((info.ns, name))

    # -- store helpers -------------------------------------------------------------------------

    def _delete(self, resource: str, key: Key) -> None:
        """Delete as a client would: a pod on a node terminates gracefully (its spec's grace)."""
        with contextlib.suppress(ApiError):
            self.store.delete(resource, key[0] or None, key[1])

    def _finish_termination(self, key: Key) -> None:
        pod = self.store.peek("pods", *key)
        if pod is not None and pod["metadata"].get("deletionTimestamp"):
            with contextlib.suppress(ApiError):
                self.store.delete("pods", key[0], key[1], {"gracePeriodSeconds": 0})

    def _post_heartbeats(self) -> None:
        """Each kubelet posts its node's conditions every 10-40 s: lastHeartbeatTime advances, and
        lastTransitionTime only moves when a status changes. A node whose kubelet stopped posts nothing."""
        now = time.monotonic()
        while self._heartbeats and self._heartbeats[0][0] <= now:
            _due, name = heapq.heappop(self._heartbeats)
            node = self.store.peek("nodes", "", name)
            if node is None:
                continue
            heapq.heappush(self._heartbeats, (now + self.rng.uniform(*self.heartbeat), name))
            with self.store.lock:  # read and write as one step: a `kubectl cordon` meanwhile is not lost
                node = self.store.peek("nodes", "", name)
                conditions = ((node or {}).get("status") or {}).get("conditions") or ()
                if node is None or not any(c.get("type") == "Ready" and c.get("status") == "True"
                                           for c in conditions):
                    continue
                ts = now_iso()
                new = clone(node)
                for c in new["status"]["conditions"]:
                    c["lastHeartbeatTime"] = ts
                self._put("nodes", new)

    def _put(self, resource: str, obj: Obj) -> None:
        self.store.put(resource, obj)

    def event(self, obj: Obj, type_: str, reason: str, message: str, component: str) -> None:
        meta = obj["metadata"]
        ns = meta.get("namespace") or "default"
        ts = now_iso()
        ev = {"metadata": {"name": f"{meta['name']}.{self.rng.getrandbits(64):016x}", "namespace": ns},
              "involvedObject": {"kind": obj.get("kind", ""), "namespace": meta.get("namespace", ""),
                                 "name": meta["name"], "uid": meta.get("uid", ""),
                                 "apiVersion": obj.get("apiVersion", ""),
                                 "resourceVersion": meta.get("resourceVersion", "")},
              "reason": reason, "message": message, "source": {"component": component},
              "firstTimestamp": ts, "lastTimestamp": ts, "count": 1, "type": type_,
              "eventTime": None, "reportingComponent": component, "reportingInstance": ""}
        with contextlib.suppress(ApiError):
            self.store.create("events", ns, ev)

    # -- ReplicaSets ------------------------------------------------------------------------------

    def _sync_replicaset(self, key: Key) -> None:
        rs = self.store.peek("replicasets", *key)
        if rs is None:
            return
        uid = rs["metadata"]["uid"]
        want = int((rs.get("spec") or {}).get("replicas", 1) or 0)
        pods = self._active_pods(uid)
        if len(pods) < want:
            for _ in range(want - len(pods)):
                self._create_pod(rs)
        elif len(pods) > want:
            def rank(p: PodInfo) -> tuple[int, int, str, str]:
                return (0 if not p.node else 1, 1 if p.ready else 0, _neg(p.created), p.name)
            for p in sorted(pods, key=rank)[: len(pods) - want]:
                self._delete("pods", (p.ns, p.name))
        self.dirty["rs-status"].add(("uid", uid))

    def _create_pod(self, rs: Obj) -> None:
        meta = rs["metadata"]
        template = (rs.get("spec") or {}).get("template") or {}
        tmeta = template.get("metadata") or {}
        suffix = "".join(self.rng.choice(_SAFE) for _ in range(5))
        spec = clone(template.get("spec") or {})
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"{meta['name']}-{suffix}", "namespace": meta["namespace"],
                            "labels": dict(tmeta.get("labels") or {}),
                            "ownerReferences": [owner_ref(rs)]},
               "spec": spec}
        if tmeta.get("annotations"):
            pod["metadata"]["annotations"] = dict(tmeta["annotations"])
        with contextlib.suppress(ApiError):
            self.store.create("pods", meta["namespace"], pod)

    def _rs_status(self, key: Key) -> None:
        uid = key[1]
        where = self.uid_index.get(uid)
        if where is None or where[0] != "replicasets":
            return
        rs = self.store.peek("replicasets", *where[1])
        if rs is None:
            return
        pods = self._active_pods(uid)
        ready = sum(1 for p in pods if p.ready)
        status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
                  "availableReplicas": ready, "observedGeneration": rs["metadata"].get("generation", 1)}
        if not ready:
            status.pop("readyReplicas")
            status.pop("availableReplicas")
        if rs.get("status") != status:
            new = clone(rs)
            new["status"] = status
            self._put("replicasets", new)

    def _active_pods(self, uid: str) -> list[PodInfo]:
        return [p for k in self.pods_by_owner.get(uid, ()) if (p := self.pods.get(k)) is not None and p.active]

    def _rs_counts(self, rs: Obj) -> tuple[int, int]:
        """(active pods, ready ones) of a ReplicaSet, from the index (fresher than its status);
        terminating pods no longer count, as in the real ReplicaSet status."""
        pods = self._active_pods(rs["metadata"]["uid"])
        return len(pods), sum(1 for p in pods if p.ready)

    def _rs_pods_left(self, rs: Obj) -> int:
        """Pods of a ReplicaSet that still exist, terminating ones included (what Recreate waits for)."""
        return sum(1 for k in self.pods_by_owner.get(rs["metadata"]["uid"], ()) if k in self.pods)

    def _scale_rs(self, rs: Obj, replicas: int, annotations: dict[str, str] | None = None) -> Obj:
        spec_n = int((rs.get("spec") or {}).get("replicas", 0) or 0)
        ann = rs["metadata"].get("annotations") or {}
        if spec_n == replicas and (annotations is None or all(ann.get(k) == v for k, v in annotations.items())):
            return rs
        new = clone(rs)
        new["spec"]["replicas"] = replicas
        if annotations:
            new["metadata"].setdefault("annotations", {}).update(annotations)
        self._put("replicasets", new)
        return new

    def _owned_rs(self, uid: str) -> list[Obj]:
        out = []
        for res, key in list(self.owned.get(uid, ())):
            if res == "replicasets":
                rs = self.store.peek("replicasets", *key)
                if rs is not None:
                    out.append(rs)
        return out

    # -- Deployments ------------------------------------------------------------------------------

    def _sync_deployment(self, key: Key) -> None:
        d = self.store.peek("deployments", *key)
        if d is None:
            return
        meta, spec = d["metadata"], d.get("spec") or {}
        uid = meta["uid"]
        desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        template = spec.get("template") or {}
        rss = self._owned_rs(uid)
        new_rs = next((rs for rs in rss if _same_template(rs["spec"].get("template"), template, HASH)), None)
        revisions = [_int(rs["metadata"].get("annotations", {}).get(REV)) for rs in rss]
        max_rev = max(revisions, default=0)
        paused = bool(spec.get("paused"))
        strategy = spec.get("strategy") or {}
        surge = resolve_int_or_percent((strategy.get("rollingUpdate") or {}).get("maxSurge"), desired, True)
        unavail = resolve_int_or_percent((strategy.get("rollingUpdate") or {}).get("maxUnavailable"), desired, False)
        if surge == 0 and unavail == 0:
            unavail = 1
        carry = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in _NOT_COPIED}
        if new_rs is None and not paused:
            h = template_hash(template)
            name = f"{meta['name']}-{h}"
            if any(rs["metadata"]["name"] == name for rs in rss):
                name = f"{meta['name']}-{safe_encode((h + str(max_rev)).encode())}"
            t = clone(template)
            t.setdefault("metadata", {}).setdefault("labels", {})[HASH] = h
            sel = clone(spec.get("selector") or {})
            sel.setdefault("matchLabels", {})[HASH] = h
            first = not any(int(rs["spec"].get("replicas", 0) or 0) for rs in rss)
            annotations = {**carry, REV: str(max_rev + 1),
                           "deployment.kubernetes.io/desired-replicas": str(desired),
                           "deployment.kubernetes.io/max-replicas": str(desired + surge)}
            rs: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                       "metadata": {"name": name, "namespace": key[0], "labels": dict(t["metadata"]["labels"]),
                                    "annotations": annotations, "ownerReferences": [owner_ref(d)]},
                       "spec": {"replicas": desired if first else 0, "selector": sel, "template": t}}
            try:
                created = self.store.create("replicasets", key[0], rs)
            except ApiError:
                return
            self.dirty["deployments"].add(key)
            if rs["spec"]["replicas"]:  # a new ReplicaSet created at 0 was not scaled: no "from 0 to 0"
                self.event(d, "Normal", "ScalingReplicaSet",
                           f"Scaled up replica set {created['metadata']['name']} from 0 to {rs['spec']['replicas']}",
                           "deployment-controller")
            return
        old = [rs for rs in rss if rs is not new_rs]
        if new_rs is not None:
            rev = _int(new_rs["metadata"].get("annotations", {}).get(REV))
            wanted_ann = {**carry, "deployment.kubernetes.io/desired-replicas": str(desired),
                          "deployment.kubernetes.io/max-replicas": str(desired + surge)}
            if rev < max_rev:  # a rollback to an older template: it becomes the newest revision
                wanted_ann[REV] = str(max_rev + 1)
                history = new_rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision-history")
                wanted_ann["deployment.kubernetes.io/revision-history"] = \
                    f"{history},{rev}" if history else str(rev)
            cur = new_rs["spec"].get("replicas", 0) or 0
            new_rs = self._scale_rs(new_rs, cur, wanted_ann)
        if not paused and new_rs is not None:
            if strategy.get("type") == "Recreate":
                if any(int(rs["spec"].get("replicas", 0) or 0) for rs in old):
                    for rs in old:
                        self._scale_rs(rs, 0)
                elif not any(self._rs_pods_left(rs) for rs in old):
                    self._scale_to(d, new_rs, desired)
            else:
                self._rolling(d, new_rs, old, desired, surge, unavail)
        elif paused and new_rs is not None and not any(int(rs["spec"].get("replicas", 0) or 0) for rs in old):
            self._scale_to(d, new_rs, desired)
        self._deployment_status(d, new_rs, rss, desired, unavail, paused)

    def _scale_to(self, d: Obj, rs: Obj, n: int) -> Obj:
        cur = int(rs["spec"].get("replicas", 0) or 0)
        if cur != n:
            rs = self._scale_rs(rs, n)
            verb = "up" if n > cur else "down"
            self.event(d, "Normal", "ScalingReplicaSet",
                       f"Scaled {verb} replica set {rs['metadata']['name']} from {cur} to {n}", "deployment-controller")
        return rs

    def _rolling(self, d: Obj, new_rs: Obj, old: list[Obj], desired: int, surge: int, unavail: int) -> None:
        total = sum(int(rs["spec"].get("replicas", 0) or 0) for rs in [new_rs, *old])
        cur_new = int(new_rs["spec"].get("replicas", 0) or 0)
        if cur_new < desired:
            up = min(desired + surge - total, desired - cur_new)
            if up > 0:
                new_rs = self._scale_to(d, new_rs, cur_new + up)
        elif cur_new > desired:
            new_rs = self._scale_to(d, new_rs, desired)
        cur_new = int(new_rs["spec"].get("replicas", 0) or 0)
        old_live = [rs for rs in old if int(rs["spec"].get("replicas", 0) or 0) > 0]
        if not old_live:
            return
        all_pods = cur_new + sum(int(rs["spec"]["replicas"]) for rs in old_live)
        min_available = desired - unavail
        _n, new_ready = self._rs_counts(new_rs)
        new_unavailable = max(0, cur_new - new_ready)
        budget = all_pods - min_available - new_unavailable
        # Old pods that are not ready can always go (the real controller's cleanupUnhealthyReplicas).
        for rs in sorted(old_live, key=lambda r: r["metadata"].get("creationTimestamp", "")):
            n = int(rs["spec"]["replicas"])
            pods, ready = self._rs_counts(rs)
            unhealthy = max(0, min(n, pods) - ready)
            cut = min(n, max(0, budget) + unhealthy)
            if cut > 0:
                self._scale_to(d, rs, n - cut)
                budget -= max(0, cut - unhealthy)

    def _deployment_status(self, d: Obj, new_rs: Obj | None, rss: list[Obj], desired: int, unavail: int,
                           paused: bool) -> None:
        replicas = ready = updated = 0
        for rs in rss:
            pods, r = self._rs_counts(rs)
            replicas += pods
            ready += r
            if new_rs is not None and rs["metadata"]["uid"] == new_rs["metadata"]["uid"]:
                updated = pods
        meta = d["metadata"]
        status = dict(d.get("status") or {})
        old_conditions = {c["type"]: c for c in status.get("conditions") or ()}
        ts = now_iso()

        def cond(type_: str, ok: bool, reason: str, message: str) -> Obj:
            prev = old_conditions.get(type_)
            st = "True" if ok else "False"
            if prev and prev.get("status") == st and prev.get("reason") == reason and prev.get("message") == message:
                return prev
            return {"type": type_, "status": st, "lastUpdateTime": ts,
                    "lastTransitionTime": prev["lastTransitionTime"] if prev and prev.get("status") == st else ts,
                    "reason": reason, "message": message}

        rs_name = new_rs["metadata"]["name"] if new_rs else meta["name"]
        available = ready >= desired - unavail
        complete = updated == desired and replicas == desired and ready == desired
        if paused:
            progressing = cond("Progressing", False, "DeploymentPaused", "Deployment is paused")
            progressing["status"] = "Unknown"
        elif complete:
            progressing = cond("Progressing", True, "NewReplicaSetAvailable",
                               f'ReplicaSet "{rs_name}" has successfully progressed.')
        else:
            progressing = cond("Progressing", True, "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.')
        new_status: Obj = {"observedGeneration": meta.get("generation", 1), "replicas": replicas,
                           "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
                           "conditions": [
                               cond("Available", available,
                                    "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                                    "Deployment has minimum availability." if available else
                                    "Deployment does not have minimum availability."), progressing]}
        if replicas - ready > 0:
            new_status["unavailableReplicas"] = replicas - ready
        for k in ("updatedReplicas", "readyReplicas", "availableReplicas", "replicas"):
            if not new_status[k]:
                new_status.pop(k)
        rev = new_rs["metadata"].get("annotations", {}).get(REV) if new_rs else None
        ann = meta.get("annotations") or {}
        if new_status != d.get("status") or (rev and ann.get(REV) != rev):
            new = clone(d)
            new["status"] = new_status
            if rev:
                new["metadata"].setdefault("annotations", {})[REV] = rev
            self._put("deployments", new)

    # -- Pods: scheduling, readiness, eviction ------------------------------------------------------

    def _nodes(self) -> list[Obj]:
        return self.store.peek_all("nodes")

    def _schedule(self, key: Key) -> None:
        if key == ("", "*"):
            keys = sorted(self.unscheduled)
        elif key in self.unscheduled:
            keys = [key]
        else:
            return
        nodes = sorted(self._nodes(), key=lambda n: n["metadata"]["name"])
        for pk in keys:
            pod = self.store.peek("pods", *pk)
            if pod is None or (pod.get("spec") or {}).get("nodeName"):
                continue
            info = self.pods.get(pk)
            if info is None:
                continue
            self._schedule_one(pod, info, nodes)

    def _fits(self, node: Obj, req: dict[str, float]) -> tuple[bool, list[str], float]:
        alloc = (node.get("status") or {}).get("allocatable") or {}
        used = self.node_alloc[node["metadata"]["name"]]
        reasons = []
        score = 0.0
        from mlops_tui.sim.kube.objects import quantity
        for res, want in req.items():
            if want <= 0:
                continue
            have = quantity(alloc.get(res, 0))
            if have - used.get(res, 0.0) < want - 1e-9:
                reasons.append(f"Insufficient {res}")
            elif have:
                score += (used.get(res, 0.0) + want) / have
        if not any(r.startswith("nvidia.com/") for r in req) and any(r.startswith("nvidia.com/") for r in alloc):
            score += 1.0  # keep GPU nodes for GPU pods, as a taint would
        pods_cap = quantity(alloc.get("pods", 110))
        if len(self.pods_by_node.get(node["metadata"]["name"], ())) + 1 > pods_cap:
            reasons.append("Too many pods")
        return not reasons, reasons, score

    def _schedule_one(self, pod: Obj, info: PodInfo, nodes: list[Obj]) -> None:
        best = None
        counts: dict[str, int] = defaultdict(int)
        for node in nodes:
            nstatus = node.get("status") or {}
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in nstatus.get("conditions") or ())
            if not ready:
                counts["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"] += 1
                continue
            if (node.get("spec") or {}).get("unschedulable"):
                counts["node(s) were unschedulable"] += 1
                continue
            sel = (pod.get("spec") or {}).get("nodeSelector") or {}
            if sel and not all((node["metadata"].get("labels") or {}).get(k) == v for k, v in sel.items()):
                counts["node(s) didn't match Pod's node affinity/selector"] += 1
                continue
            ok, reasons, score = self._fits(node, info.requests)
            if not ok:
                for r in reasons:
                    counts[r] += 1
                continue
            if best is None or score < best[0]:
                best = (score, node)
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"])
        if best is None:
            parts = sorted(f"{n} {r}" for r, n in counts.items())
            message = f"0/{len(nodes)} nodes are available: {', '.join(parts)}." if nodes else \
                "no nodes available to schedule pods"
            conditions = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                           "message": message, "lastProbeTime": None, "lastTransitionTime": now_iso()}]
            old = [c for c in (pod.get("status") or {}).get("conditions") or () if c.get("type") == "PodScheduled"]
            if not old or old[0].get("message") != message:
                new = clone(pod)
                new["status"] = {"phase": "Pending", "conditions": conditions,
                                 "qosClass": (pod.get("status") or {}).get("qosClass", "BestEffort")}
                self._put("pods", new)
            if key not in self.failed_scheduling_reported or (old and old[0].get("message") != message):
                self.failed_scheduling_reported.add(key)
                self.event(pod, "Warning", "FailedScheduling", message, "default-scheduler")
            return
        node = best[1]
        node_name = node["metadata"]["name"]
        host_ip = next((a["address"] for a in (node.get("status") or {}).get("addresses") or ()
                        if a.get("type") == "InternalIP"), "")
        n = next(self.ip_counter)
        new = clone(pod)
        new["spec"]["nodeName"] = node_name
        ts = now_iso()
        ip = f"10.244.{(n // 250) % 250}.{n % 250 + 1}"
        new["status"] = {"phase": "Pending", "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "podIP": ip,
                         "podIPs": [{"ip": ip}], "startTime": ts,
                         "qosClass": (pod.get("status") or {}).get("qosClass", "BestEffort"),
                         "conditions": [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                         "lastTransitionTime": ts},
                                        {"type": "Initialized", "status": "True", "lastProbeTime": None,
                                         "lastTransitionTime": ts},
                                        {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                                         "message": "containers with unready status", "lastProbeTime": None,
                                         "lastTransitionTime": ts},
                                        {"type": "ContainersReady", "status": "False", "lastProbeTime": None,
                                         "lastTransitionTime": ts}],
                         "containerStatuses": [{"name": c.get("name", ""), "image": c.get("image", ""), "imageID": "",
                                                "ready": False, "restartCount": 0, "started": False,
                                                "state": {"waiting": {"reason": "ContainerCreating"}}}
                                               for c in (pod.get("spec") or {}).get("containers") or ()]}
        self.unscheduled.discard(key)
        self.failed_scheduling_reported.discard(key)
        # the store event is drained at once, so the next pod in this round sees the capacity taken
        self._put("pods", new)
        self._drain()
        self.event(new, "Normal", "Scheduled", f"Successfully assigned {key[0]}/{key[1]} to {node_name}",
                   "default-scheduler")
        if self.ready_delay <= 0:
            self._sync_pod(key)
        else:
            self._timer(self.ready_delay, "pods", key)

    def _sync_pod(self, key: Key) -> None:
        """Containers become ready once the pod is bound and `ready_delay` has passed."""
        pod = self.store.peek("pods", *key)
        if pod is None or not (pod.get("spec") or {}).get("nodeName"):
            return
        status = pod.get("status") or {}
        if status.get("phase") != "Pending":
            return
        ts = now_iso()
        new = clone(pod)
        new["status"]["phase"] = "Running"
        new["status"]["conditions"] = [
            {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": ts}
            for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")]
        new["status"]["containerStatuses"] = [
            {"name": c.get("name", ""), "image": c.get("image", ""), "imageID": f"docker.io/{c.get('image', '')}",
             "containerID": f"containerd://{safe_encode((key[1] + c.get('name', '')).encode(), 32)}",
             "ready": True, "restartCount": 0, "started": True, "state": {"running": {"startedAt": ts}}}
            for c in (pod.get("spec") or {}).get("containers") or ()]
        self._put("pods", new)

    def _set_node_ready(self, name: str, ready: bool) -> None:
        node = self.store.peek("nodes", "", name)
        if node is None:
            return
        new = clone(node)
        ts = now_iso()
        before = {c.get("type"): c for c in (node.get("status") or {}).get("conditions") or ()}
        new["status"]["conditions"] = node_conditions(ready, ts)
        for c in new["status"]["conditions"]:
            prev = before.get(c["type"])
            if prev is not None and prev.get("status") == c["status"]:
                c["lastTransitionTime"] = prev.get("lastTransitionTime", ts)
            if not ready and prev is not None:  # the kubelet went quiet: its last heartbeat stands
                c["lastHeartbeatTime"] = prev.get("lastHeartbeatTime", ts)
        taints = [t for t in (new.get("spec") or {}).get("taints") or ()
                  if t.get("key") not in ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")]
        if not ready:
            taints += [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": ts},
                       {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": ts}]
        if taints:
            new.setdefault("spec", {})["taints"] = taints
        else:
            new.get("spec", {}).pop("taints", None)
        self._put("nodes", new)
        if ready:
            self.dirty["schedule"].add(("", "*"))
            return
        self.event(new, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady", "node-controller")
        for key in sorted(self.pods_by_node.get(name, ())):
            pod = self.store.peek("pods", *key)
            if pod is None:
                continue
            self.event(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {key[0]}/{key[1]}",
                       "taint-eviction-controller")
            if controller_uid(pod):
                self._delete("pods", key)
            else:
                failed = clone(pod)
                failed["status"]["phase"] = "Failed"
                failed["status"]["reason"] = "NodeLost"
                failed["status"]["message"] = f"Node {name} which was running pod {key[1]} is unresponsive"
                for c in failed["status"].get("conditions") or ():
                    if c.get("type") in ("Ready", "ContainersReady"):
                        c["status"] = "False"
                self._put("pods", failed)

    # -- Services -----------------------------------------------------------------------------------

    def _sync_service(self, key: Key) -> None:
        svc = self.store.peek("services", *key)
        if svc is None:
            return
        selector = (svc.get("spec") or {}).get("selector") or {}
        if not selector:
            return
        ready: list[Obj] = []
        not_ready: list[Obj] = []
        terminating: list[tuple[Obj, bool]] = []
        for pk in sorted(self.pods_by_ns.get(key[0], ())):
            info = self.pods.get(pk)
            if info is None or not info.ip or not map_matches(selector, info.labels) \
                    or info.phase in ("Succeeded", "Failed"):
                continue
            addr = {"ip": info.ip, "nodeName": info.node,
                    "targetRef": {"kind": "Pod", "namespace": info.ns, "name": info.name, "uid": info.uid}}
            if info.terminating:  # out of Endpoints; in the slice as terminating (serving while still ready)
                terminating.append((addr, info.ready and info.phase == "Running"))
                continue
            (ready if info.ready and info.phase == "Running" else not_ready).append(addr)
        ports = [{"name": p.get("name", ""), "port": p.get("targetPort") if isinstance(p.get("targetPort"), int)
                  else p.get("port"), "protocol": p.get("protocol", "TCP")}
                 for p in (svc.get("spec") or {}).get("ports") or ()]
        subset: Obj = {}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        labels = dict(svc["metadata"].get("labels") or {})
        ep: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                   "metadata": {"name": key[1], "namespace": key[0], "labels": labels}}
        if subset:
            subset["ports"] = ports
            ep["subsets"] = [subset]
        self._upsert("endpoints", key, ep)
        slice_ = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                  "metadata": {"name": f"{key[1]}-sim", "namespace": key[0],
                               "labels": {**labels, "kubernetes.io/service-name": key[1],
                                          "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                               "ownerReferences": [owner_ref(svc)]},
                  "addressType": "IPv4",
                  "endpoints": [{"addresses": [a["ip"]], "conditions": {"ready": r, "serving": r, "terminating": False},
                                 "nodeName": a["nodeName"], "targetRef": a["targetRef"]}
                                for r, group in ((True, ready), (False, not_ready)) for a in group]
                  + [{"addresses": [a["ip"]], "conditions": {"ready": False, "serving": serving, "terminating": True},
                      "nodeName": a["nodeName"], "targetRef": a["targetRef"]} for a, serving in terminating],
                  "ports": ports}
        self._upsert("endpointslices", (key[0], f"{key[1]}-sim"), slice_)

    def _upsert(self, resource: str, key: Key, obj: Obj) -> None:
        cur = self.store.peek(resource, *key)
        if cur is None:
            with contextlib.suppress(ApiError):
                self.store.create(resource, key[0], obj)
            return
        new = clone(cur)
        for k, v in obj.items():
            if k == "metadata":
                new["metadata"]["labels"] = v.get("labels", {})
            elif k not in ("apiVersion", "kind"):
                new[k] = v
        if "subsets" not in obj:
            new.pop("subsets", None)
        if new != cur:
            self._put(resource, new)

    # -- HPA --------------------------------------------------------------------------------------------

    def _sync_hpas(self) -> None:
        for hpa in self.store.peek_all("horizontalpodautoscalers"):
            with contextlib.suppress(ApiError):
                self._sync_hpa(hpa)

    def _sync_hpa(self, hpa: Obj) -> None:
        meta, spec = hpa["metadata"], hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        resource = {"Deployment": "deployments", "Rollout": "rollouts", "ReplicaSet": "replicasets"}.get(
            ref.get("kind", ""))
        ns = meta["namespace"]
        target = self.store.peek(resource, ns, ref.get("name", "")) if resource else None
        lo, hi = int(spec.get("minReplicas", 1) or 1), int(spec.get("maxReplicas", 1) or 1)
        ts = now_iso()
        status = dict(hpa.get("status") or {})
        old_conditions = {c["type"]: c for c in status.get("conditions") or ()}

        def cond(type_: str, ok: bool, reason: str, message: str) -> Obj:
            prev = old_conditions.get(type_)
            st = "True" if ok else "False"
            if prev and prev.get("status") == st and prev.get("reason") == reason:
                return prev
            return {"type": type_, "status": st, "lastTransitionTime": ts, "reason": reason, "message": message}

        if target is None or resource is None:  # no resource kind means no target either
            new_status = {"currentReplicas": 0, "desiredReplicas": 0, "conditions": [
                cond("AbleToScale", False, "FailedGetScale",
                     f'the HPA controller was unable to get the target\'s current scale: {resource or "unknown"} '
                     f'"{ref.get("name", "")}" not found')]}
        else:
            current = int((target.get("spec") or {}).get("replicas", 1) or 0)
            util_target = None
            for m in spec.get("metrics") or ():
                if m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == "cpu":
                    util_target = ((m["resource"].get("target") or {}).get("averageUtilization"))
            util_target = int(util_target or 80)
            with self._lock:
                demand = self._loads.get((ns, ref.get("name", "")))
            load = float(util_target) if demand is None else demand / max(1, current)
            metrics = []
            for m in spec.get("metrics") or ():
                if m.get("type") == "Resource":
                    name = (m.get("resource") or {}).get("name", "cpu")
                    metrics.append({"type": "Resource", "resource": {"name": name, "current": {
                        "averageUtilization": round(load), "averageValue": f"{int(load * 5)}m"}}})
                elif m.get("type") == "Pods":
                    pm = m.get("pods") or {}
                    want = (pm.get("target") or {}).get("averageValue", "100m")
                    metrics.append({"type": "Pods", "pods": {"metric": pm.get("metric") or {},
                                                             "current": {"averageValue": want}}})
            if current == 0:
                desired = 0
                conditions = [cond("AbleToScale", True, "SucceededGetScale",
                                   "the HPA controller was able to get the target's current scale"),
                              cond("ScalingActive", False, "ScalingDisabled",
                                   "scaling is disabled since the replica count of the target is zero")]
            else:
                ratio = load / util_target
                desired = current if abs(ratio - 1.0) <= 0.1 else math.ceil(current * ratio)
                limited = desired > hi or desired < lo
                clamped = min(max(desired, lo), hi)
                conditions = [cond("AbleToScale", True, "ReadyForNewScale",
                                   "recommended size matches current size" if clamped == current else
                                   "the HPA controller was able to update the target scale"),
                              cond("ScalingActive", True, "ValidMetricFound",
                                   "the HPA was able to successfully calculate a replica count from cpu resource "
                                   "utilization (percentage of request)"),
                              cond("ScalingLimited", limited,
                                   ("TooManyReplicas" if desired > hi else "TooFewReplicas") if limited
                                   else "DesiredWithinRange",
                                   ("the desired replica count is more than the maximum replica count" if desired > hi
                                    else "the desired replica count is less than the minimum replica count")
                                   if limited else "the desired count is within the acceptable range")]
                desired = clamped
                if desired != current:
                    self.store.patch(resource, ns, ref["name"], {"spec": {"replicas": desired}})
                    reason = "above" if desired > current else "below"
                    self.event(hpa, "Normal", "SuccessfulRescale",
                               f"New size: {desired}; reason: cpu resource utilization (percentage of request) "
                               f"{reason} target", "horizontal-pod-autoscaler")
                    status["lastScaleTime"] = ts
            new_status = {"currentReplicas": current, "desiredReplicas": desired, "currentMetrics": metrics,
                          "conditions": conditions}
            if status.get("lastScaleTime"):
                new_status["lastScaleTime"] = status["lastScaleTime"]
        new_status["observedGeneration"] = meta.get("generation", 1)
        if new_status != hpa.get("status"):
            new = clone(hpa)
            new["status"] = new_status
            self._put("horizontalpodautoscalers", new)

    # -- Argo Rollouts ----------------------------------------------------------------------------------

    def _sync_rollout(self, key: Key) -> None:
        sync_rollout(self, key)

    # -- KServe ---------------------------------------------------------------------------------------------

    def _sync_isvc(self, key: Key) -> None:
        sync_isvc(self, key)


def _scheduling_view(node: Obj) -> Any:
    """What the scheduler reads from a node (a heartbeat changes none of it)."""
    status = node.get("status") or {}
    return (node.get("spec"), (node.get("metadata") or {}).get("labels"), status.get("allocatable"),
            [(c.get("type"), c.get("status")) for c in status.get("conditions") or ()])


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def _neg(ts: str) -> str:
    """Sort key that puts newer timestamps first."""
    return "".join(chr(0x7F - ord(c)) for c in ts)


def _same_template(a: Any, b: Any, label: str) -> bool:
    from mlops_tui.sim.kube.objects import strip_nulls

    a = strip_nulls(clone(a or {}))
    b = strip_nulls(clone(b or {}))
    for t in (a, b):
        labels = (t.get("metadata") or {}).get("labels")
        if isinstance(labels, dict):
            labels.pop(label, None)
    return a == b


def rs_selector_labels(selector: Obj) -> list[Any]:
    return selector_from_match(selector)


__all__ = ["STRATEGIC", "Controllers", "match_labels", "selector_string"]
