"""Controllers for the kinds every cluster has besides Deployments: the namespace lifecycle (a
`default` ServiceAccount in each namespace; deletion goes Terminating, removes the namespace's
objects, then the namespace), Jobs (pods run to completion) and DaemonSets (one pod per matching node).

Its own thread, fed by the store's change notifications like `Controllers`: pods of Jobs go through
the shared scheduler and readiness; a Job pod then succeeds `run_seconds` after it started running.
DaemonSet pods are bound to their node at creation (as the DaemonSet controller's node affinity pins
them) and become ready after `ready_delay`."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import random
import threading
import time
from collections import defaultdict, deque
from typing import Any

from mlops_tui.sim.kube.errors import ApiError
from mlops_tui.sim.kube.objects import owner_ref, safe_encode, template_hash
from mlops_tui.sim.kube.reconcile import release_due, run_rounds, sync_dirty
from mlops_tui.sim.kube.resources import RESOURCES
from mlops_tui.sim.kube.store import Store, clone, now_iso

Obj = dict[str, Any]
Key = tuple[str, str]
OWNER_KINDS = {"Job": "jobs", "DaemonSet": "daemonsets"}
DS_HASH = "controller-revision-hash"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_WATCHED = frozenset({"namespaces", "jobs", "daemonsets", "pods", "nodes", "serviceaccounts"})


def _owner(obj: Obj) -> tuple[str, str] | None:
    """(resource, uid) of the Job or DaemonSet controlling `obj`."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller") and ref.get("kind") in OWNER_KINDS:
            return OWNER_KINDS[ref["kind"]], str(ref.get("uid", ""))
    return None


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def _ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or ())


class Workloads:
    def __init__(self, store: Store, seed: int = 0, ready_delay: float = 1.0, tick: float = 0.2,
                 run_seconds: float | None = None) -> None:
        self.store = store
        self.ready_delay = ready_delay
        self.run_seconds = ready_delay if run_seconds is None else run_seconds
        self.tick = tick
        self.rng = random.Random(seed ^ 0x10B5)
        self._events: deque[tuple[str, str, Obj]] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.owned: dict[str, set[Key]] = defaultdict(set)  # Job/DaemonSet uid -> its pods
        self.uids: dict[str, tuple[str, Key]] = {}  # Job/DaemonSet uid -> (resource, key)
        self.dirty: dict[str, set[Key]] = defaultdict(set)
        self.timers: list[tuple[float, int, str, Key]] = []
        self._seq = itertools.count()
        self.since: dict[Key, float] = {}  # pod -> when its current phase began (monotonic)
        store.subscribe(self._on_change)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        with self.store.lock:
            for res in ("namespaces", "jobs", "daemonsets"):
                for obj in self.store.peek_all(res):
                    self._events.append((res, "ADDED", obj))
            for pod in self.store.peek_all("pods"):
                if _owner(pod):
                    self._events.append(("pods", "ADDED", pod))
        self._thread = threading.Thread(target=self._run, name="sim-kube-workloads", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _on_change(self, resource: str, type_: str, obj: Obj, old: Obj | None) -> None:
        # Called under the store lock: queue only what this controller reconciles.
        if resource in _WATCHED and (resource != "pods" or _owner(obj)):
            self._events.append((resource, type_, obj))
            self._wake.set()

    def _run(self) -> None:
        run_rounds(self._stop, self._wake, self.tick, self._round)

    def _round(self) -> None:
        release_due(self.timers, self.dirty)
        for _ in range(8):
            self._drain()
            if not any(self.dirty.values()):
                return
            sync_dirty(self.dirty, (("namespaces", self._sync_namespace), ("jobs", self._sync_job),
                                    ("daemonsets", self._sync_daemonset), ("pods", self._sync_pod)))

    def _timer(self, delay: float, res: str, key: Key) -> None:
        heapq.heappush(self.timers, (time.monotonic() + delay, next(self._seq), res, key))

    def _drain(self) -> None:
        while self._events:
            resource, type_, obj = self._events.popleft()
            meta = obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            if resource == "namespaces":
                self.dirty["namespaces"].add(("", meta["name"]))
            elif resource == "serviceaccounts":
                if type_ == "DELETED" and meta["name"] == "default":
                    self.dirty["namespaces"].add(("", key[0]))  # the controller recreates it
            elif resource == "nodes":
                self.dirty["daemonsets"].update(k for r, k in self.uids.values() if r == "daemonsets")
            elif resource in ("jobs", "daemonsets"):
                uid = meta.get("uid", "")
                if type_ == "DELETED":
                    self.uids.pop(uid, None)
                    for pod in self.owned.pop(uid, set()):  # garbage collection of the dependents
                        with contextlib.suppress(ApiError):
                            self.store.delete("pods", pod[0], pod[1])
                else:
                    self.uids[uid] = (resource, key)
                    self.dirty[resource].add(key)
            elif resource == "pods":
                owner = _owner(obj)
                if owner is None:
                    continue
                if type_ == "DELETED":
                    self.owned[owner[1]].discard(key)
                    self.since.pop(key, None)
                else:
                    self.owned[owner[1]].add(key)
                    if type_ == "ADDED" or _phase(obj) == "Running":
                        self.dirty["pods"].add(key)
                where = self.uids.get(owner[1])
                if where is not None:
                    self.dirty[where[0]].add(where[1])

    def _pods(self, uid: str) -> list[Obj]:
        out = []
        for key in sorted(self.owned.get(uid, ())):
            pod = self.store.peek("pods", *key)
            if pod is not None:
                out.append(pod)
        return out

    # -- namespaces ------------------------------------------------------------------------------

    def _sync_namespace(self, key: Key) -> None:
        name = key[1]
        ns = self.store.peek("namespaces", "", name)
        if ns is None:
            return
        if not ns["metadata"].get("deletionTimestamp"):
            if self.store.peek("serviceaccounts", name, "default") is None:
                with contextlib.suppress(ApiError):
                    self.store.create("serviceaccounts", name, {"metadata": {"name": "default", "namespace": name}})
            return
        # Terminating: remove what is in it; the namespace itself goes once nothing is left.
        left = 0
        for rt in RESOURCES:
            if not rt.namespaced:
                continue
            for obj in list(self.store.peek_all(rt.plural, name)):
                left += 1
                with contextlib.suppress(ApiError):
                    self.store.delete(rt.plural, name, obj["metadata"]["name"])
        if left:
            self.dirty["namespaces"].add(key)
            return
        with contextlib.suppress(ApiError):
            self.store.delete("namespaces", None, name)

    # -- Jobs ------------------------------------------------------------------------------------

    def _sync_job(self, key: Key) -> None:
        job = self.store.peek("jobs", *key)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        spec, status = job.get("spec") or {}, dict(job.get("status") or {})
        uid = job["metadata"]["uid"]
        pods = self._pods(uid)
        succeeded = sum(1 for p in pods if _phase(p) == "Succeeded")
        failed = sum(1 for p in pods if _phase(p) == "Failed")
        active = [p for p in pods if _phase(p) in ("Pending", "Running")]
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1) or 0)
        done = succeeded >= completions if completions is not None else succeeded > 0 and not active
        if not done and not spec.get("suspend"):
            remaining = (int(completions) - succeeded) if completions is not None else parallelism
            want = max(0, min(parallelism, remaining))
            for _ in range(want - len(active)):
                self._create_pod(job, {})
        ts = now_iso()
        new_status: Obj = {"startTime": status.get("startTime") or ts, "active": len(active),
                           "ready": sum(1 for p in active if _ready(p)), "succeeded": succeeded, "failed": failed,
                           "terminating": 0, "uncountedTerminatedPods": {}}
        if done:
            new_status["active"] = 0
            new_status["completionTime"] = status.get("completionTime") or ts
            new_status["conditions"] = status.get("conditions") or [
                {"type": t, "status": "True", "reason": "CompletionsReached", "message": "Reached expected number "
                 "of succeeded pods", "lastProbeTime": ts, "lastTransitionTime": ts}
                for t in ("SuccessCriteriaMet", "Complete")]
        for field in ("active", "succeeded", "failed"):
            if not new_status[field]:
                new_status.pop(field)
        if new_status != job.get("status"):
            new = clone(job)
            new["status"] = new_status
            self.store.put("jobs", new)

    # -- DaemonSets --------------------------------------------------------------------------------

    def _sync_daemonset(self, key: Key) -> None:
        ds = self.store.peek("daemonsets", *key)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return
        template = (ds.get("spec") or {}).get("template") or {}
        selector = (template.get("spec") or {}).get("nodeSelector") or {}
        nodes = {n["metadata"]["name"] for n in self.store.peek_all("nodes")
                 if all((n["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())}
        current = template_hash(template, DS_HASH)
        placed: dict[str, Obj] = {}
        for pod in self._pods(ds["metadata"]["uid"]):
            node = (pod.get("spec") or {}).get("nodeName", "")
            stale = (pod["metadata"].get("labels") or {}).get(DS_HASH) != current
            if node not in nodes or node in placed or stale:
                # Off its node's selector, a duplicate, or an older template: replaced (all at once).
                with contextlib.suppress(ApiError):
                    self.store.delete("pods", key[0], pod["metadata"]["name"])
                continue
            placed[node] = pod
        for node in sorted(nodes - placed.keys()):
            self._create_pod(ds, {"nodeName": node}, {DS_HASH: current, "pod-template-generation":
                                                      str(ds["metadata"].get("generation", 1))})
        ready = sum(1 for p in placed.values() if _ready(p))
        status: Obj = {"currentNumberScheduled": len(placed), "numberMisscheduled": 0,
                       "desiredNumberScheduled": len(nodes), "numberReady": ready,
                       "observedGeneration": ds["metadata"].get("generation", 1),
                       "updatedNumberScheduled": len(placed), "numberAvailable": ready}
        if len(nodes) - ready:
            status["numberUnavailable"] = len(nodes) - ready
        if status != ds.get("status"):
            new = clone(ds)
            new["status"] = status
            self.store.put("daemonsets", new)

    # -- pods --------------------------------------------------------------------------------------

    def _create_pod(self, owner: Obj, spec_extra: Obj, labels_extra: dict[str, str] | None = None) -> None:
        meta = owner["metadata"]
        template = (owner.get("spec") or {}).get("template") or {}
        tmeta = template.get("metadata") or {}
        suffix = "".join(self.rng.choice(_SAFE) for _ in range(5))
        spec = {**clone(template.get("spec") or {}), **spec_extra}
        if "nodeName" in spec_extra:  # what the DaemonSet controller pins its pods with
            spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                        "values": [spec_extra["nodeName"]]}]}]}}}
        pod: Obj = {"metadata": {"name": f"{meta['name']}-{suffix}", "namespace": meta["namespace"],
                                 "labels": {**(tmeta.get("labels") or {}), **(labels_extra or {})},
                                 "ownerReferences": [owner_ref(owner)]},
                    "spec": spec, "status": {"phase": "Pending", "qosClass": "BestEffort"}}
        if tmeta.get("annotations"):
            pod["metadata"]["annotations"] = dict(tmeta["annotations"])
        with contextlib.suppress(ApiError):
            self.store.create("pods", meta["namespace"], pod)

    def _sync_pod(self, key: Key) -> None:
        """A DaemonSet pod starts on its node after `ready_delay`; a Job pod that runs finishes
        `run_seconds` after it started running."""
        pod = self.store.peek("pods", *key)
        owner = _owner(pod) if pod is not None else None
        if pod is None or owner is None:
            self.since.pop(key, None)
            return
        phase = _phase(pod)
        if owner[0] == "daemonsets" and phase == "Pending":
            wait, act = self.ready_delay, self._run_containers
        elif owner[0] == "jobs" and phase == "Running":
            wait, act = self.run_seconds, self._complete
        else:
            return
        now = time.monotonic()
        since = self.since.setdefault(key, now)
        if now - since >= wait - 1e-3:
            self.since.pop(key, None)
            act(pod)
        else:
            self._timer(since + wait - now, "pods", key)

    def _run_containers(self, pod: Obj) -> None:
        ts = now_iso()
        new = clone(pod)
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        n = int(safe_encode(key[1].encode(), 4).encode().hex(), 16) % 60000
        new["status"].update({
            "phase": "Running", "podIP": f"10.245.{n // 250 % 250}.{n % 250 + 1}",
            "conditions": [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": ts}
                           for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                                     "PodScheduled")],
            "containerStatuses": [{"name": c.get("name", ""), "image": c.get("image", ""), "imageID": "",
                                   "ready": True, "restartCount": 0, "started": True,
                                   "state": {"running": {"startedAt": ts}}}
                                  for c in (pod.get("spec") or {}).get("containers") or ()]})
        self.store.put("pods", new)

    def _complete(self, pod: Obj) -> None:
        ts = now_iso()
        new = clone(pod)
        status = new.setdefault("status", {})
        status["phase"] = "Succeeded"
        status["conditions"] = [
            {"type": t, "status": "False" if t in ("Ready", "ContainersReady", "PodReadyToStartContainers")
             else "True", "lastProbeTime": None, "lastTransitionTime": ts,
             **({"reason": "PodCompleted"} if t in ("Ready", "ContainersReady", "Initialized") else {})}
            for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")]
        status["containerStatuses"] = [
            {"name": c.get("name", ""), "image": c.get("image", ""), "imageID": "", "ready": False,
             "restartCount": 0, "started": False,
             "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": status.get("startTime", ts),
                                      "finishedAt": ts}}}
            for c in (pod.get("spec") or {}).get("containers") or ()]
        self.store.put("pods", new)


PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


def terminate_namespace(store: Store, name: str, dry_run: bool = False) -> Obj:
    """DELETE of a namespace: it turns Terminating (deletionTimestamp, phase) and the namespace
    controller empties then removes it. The system namespaces may not be deleted."""
    if name in PROTECTED_NAMESPACES:
        raise ApiError(403, f'namespaces "{name}" is forbidden: this namespace may not be deleted', "Forbidden",
                       {"name": name, "kind": "namespaces"})
    with store.lock:
        ns = store.get("namespaces", None, name)
        if ns["metadata"].get("deletionTimestamp") or dry_run:
            return ns
        ns["metadata"]["deletionTimestamp"] = now_iso()
        ns["metadata"]["deletionGracePeriodSeconds"] = 0
        ns["status"] = {"phase": "Terminating"}
        return clone(store.put("namespaces", ns))


def admit_service_account(store: Store, namespace: str, pod: Obj) -> None:
    """The ServiceAccount admission plugin: a pod runs as `default` unless it names another, and is refused
    while that account does not exist (a pod created in a brand-new namespace waits for the controller)."""
    meta: Obj = pod["metadata"] if isinstance(pod.get("metadata"), dict) else {}
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    ns = namespace or meta.get("namespace") or "default"
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = spec["serviceAccount"] = account
    if store.peek("namespaces", "", ns) is not None and store.peek("serviceaccounts", ns, account) is None:
        name = meta.get("name") or meta.get("generateName") or ""
        raise ApiError(403, f'pods "{name}" is forbidden: error looking up service account {ns}/{account}: '
                       f'serviceaccount "{account}" not found', "Forbidden", {"name": name, "kind": "pods"})
