"""The in-process orchestrator: turns service specs into tasks and ticks them through
new → pending → assigned → preparing → starting → running (or failed/shutdown/rejected),
scheduling against node readiness, placement constraints and generic resources (GPUs), and
rolling updates per UpdateConfig (parallelism, delay, failure action, order).
"""

from __future__ import annotations

import copy
import re
import threading
import time
from typing import Any

from .services import is_global, replicas, spec_key
from .state import SwarmState

PROGRESS = ["new", "pending", "assigned", "accepted", "preparing", "starting", "running"]
MESSAGES = {"new": "created", "pending": "pending task scheduling", "assigned": "scheduler assigned task to node",
            "accepted": "accepted", "preparing": "preparing", "starting": "starting", "running": "started"}
TERMINAL = {"complete", "shutdown", "failed", "rejected", "remove", "orphaned"}
HISTORY = 5
BREATHE_EVERY = 64
"""Services (or moving tasks) a tick handles between two chances for the API to take the lock."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def gpu_request(template: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for res in (template.get("Resources") or {}).get("Reservations", {}).get("GenericResources") or []:
        d = res.get("DiscreteResourceSpec")
        if d:
            out[d["Kind"]] = out.get(d["Kind"], 0) + int(d["Value"])
    return out


_CONSTRAINT = re.compile(r"^\s*([\w.\-]+)\s*(==|!=)\s*(.+?)\s*$")


def constraint_ok(node: dict[str, Any], constraints: list[str]) -> bool:
    for c in constraints:
        m = _CONSTRAINT.match(c)
        if not m:
            return False
        key, op, want = m.groups()
        if key == "node.role":
            have = node["Spec"]["Role"]
        elif key == "node.hostname":
            have = node["Description"]["Hostname"]
        elif key == "node.id":
            have = node["ID"]
        elif key == "node.platform.os":
            have = "linux"
        elif key.startswith("node.labels."):
            have = node["Spec"]["Labels"].get(key[len("node.labels."):])
        else:
            have = None
        if (have == want) != (op == "=="):
            return False
    return True


def _final(task: dict[str, Any]) -> bool:
    """Running as desired, or ended as desired: nothing moves it until its desired state changes."""
    state = task["Status"]["State"]
    if task["DesiredState"] == "running":
        return state == "running" or state in TERMINAL
    return state in TERMINAL


class Orchestrator:
    def __init__(self, state: SwarmState, step: float = 0.05, interval: float = 0.05,
                 restart_delay: float = 1.0) -> None:
        self.state = state
        self.step = step
        self.restart_delay = restart_delay
        self.interval = interval
        self._stop = threading.Event()
        self._breathing = False
        self._next_at: dict[str, float] = {}
        self._keys: dict[str, str] = {}
        self._allocated: set[str] = set()
        self._active: dict[str, None] | None = None
        """Ids of the tasks still on their way (not running or ended as desired), in the order they
        became so: a tick advances these, not the Swarm's 10,000 tasks."""
        self._settled: dict[str, tuple[Any, ...]] = {}
        """Service id -> (its version, its tasks' newest version, the nodes' versions) when its last
        reconcile found nothing to do."""
        self._spec_keys: dict[str, tuple[dict[str, Any], str]] = {}
        """Service id -> (its TaskTemplate object, spec_key of it): a spec is replaced, never edited
        in place, so the key is computed once per spec instead of once per tick (2,000 services)."""
        self.thread = threading.Thread(target=self._run, name="sim-swarm-orchestrator", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self.state.lock:
            self.state.notify()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self.state.lock:
                self._breathing = True
                try:
                    busy = self.tick()
                finally:
                    self._breathing = False
                self.state.changed.wait(self.interval if busy else 1.0)

    def _breathe(self) -> None:
        """Let the API in between two pieces of a tick. dockerd answers reads from its store while
        its orchestrator works; a tick of 2,000 services under churn held the lock 20-130 ms, and
        every read (the app's one-service refresh too) waited for all of it."""
        if self._breathing:
            self.state.lock.release()
            time.sleep(0)  # the GIL goes to a request waiting for the lock
            self.state.lock.acquire()

    # --- one pass --------------------------------------------------------------------------
    def tick(self) -> bool:
        """Reconcile every service and advance tasks; True while something is still moving."""
        st = self.state
        busy = False
        self._index()
        if self._active is None:
            self._active = {tid: None for tid, t in st.tasks.items() if not _final(t)}
        active = self._active
        nodes = tuple((n["ID"], n["Version"]["Index"]) for n in st.nodes.values())
        for done, svc in enumerate(list(st.services.values())):
            if done % BREATHE_EVERY == BREATHE_EVERY - 1:
                self._breathe()
                if st.services.get(svc["ID"]) is not svc:
                    continue  # removed or replaced while the API had the lock
            # A service settled at the last tick, whose spec, tasks and nodes have not moved since,
            # has nothing to reconcile (2,000 services: most ticks touch a few).
            mark = (svc["Version"]["Index"], self._task_mark(svc["ID"]), nodes)
            if self._settled.get(svc["ID"]) == mark:
                continue
            moving = self._reconcile(svc)
            busy |= moving
            # a reconcile may have set tasks' desired state (shut down, replaced): they move again
            active.update((t["ID"], None) for t in st.tasks_of(svc["ID"]) if not _final(t) and t["ID"] not in active)
            if moving:
                self._settled.pop(svc["ID"], None)
            else:  # the reconcile may have bumped the service or its tasks: settled at their new marks
                self._settled[svc["ID"]] = (svc["Version"]["Index"], self._task_mark(svc["ID"]), nodes)
        for done, tid in enumerate(list(active)):
            if done % BREATHE_EVERY == BREATHE_EVERY - 1:
                self._breathe()
            if tid not in active:
                continue
            task = st.tasks.get(tid)
            if task is not None:
                busy |= self._advance(task)
            if task is None or _final(task):
                del active[tid]
        return busy

    def _index(self) -> None:
        """Per-tick caches. The node load and GPUs in use are counted over every task only when a
        tick places a task (`_placement`): most busy ticks only move tasks on, and counting 10,000
        tasks under the lock every 50 ms kept the API waiting."""
        self._placed = False
        self._load: dict[str, int] = {}
        self._load_by_service: dict[tuple[str, str], int] = {}
        self._gpus_used: dict[str, set[str]] = {}
        self._named_gpus: dict[tuple[str, str], list[str]] = {}
        self._no_fit: dict[tuple[str, str], str] = {}
        """(service id, spec key) -> why no node fits, within this tick until a task is placed: the
        pending replicas of one service get the same answer (320 pending GPU tasks x 120 nodes)."""

    def _placement(self) -> None:
        """Count every task's node and GPUs, once per tick that places a task; kept current after."""
        if not self._placed:
            self._placed = True
            for t in self.state.tasks.values():
                self._count(t)

    def _count(self, t: dict[str, Any]) -> None:
        node = t.get("NodeID")
        if not node:
            return
        if t["DesiredState"] == "running":
            self._load[node] = self._load.get(node, 0) + 1
            key = (node, t["ServiceID"])
            self._load_by_service[key] = self._load_by_service.get(key, 0) + 1
        if t["Status"]["State"] not in TERMINAL | {"new", "pending"}:
            for r in t.get("GenericResources", []):
                if "NamedResourceSpec" in r:
                    self._gpus_used.setdefault(node, set()).add(r["NamedResourceSpec"]["Value"])

    def _task_mark(self, sid: str) -> int:
        """The newest version among the service's tasks (the Swarm's index only grows)."""
        return self.state.task_marks.get(sid, 0)

    def key(self, task: dict[str, Any]) -> str:
        k = self._keys.get(task["ID"])
        if k is None:
            k = self._keys[task["ID"]] = spec_key(task["Spec"])
        return k

    def _new_task(self, svc: dict[str, Any], slot: int | None, node_id: str | None) -> dict[str, Any]:
        st = self.state
        tid = st.new_id()
        now = st.now()
        task: dict[str, Any] = {
            "ID": tid, "Version": {"Index": 0}, "CreatedAt": now, "UpdatedAt": now, "Labels": {},
            "Spec": copy.deepcopy(svc["Spec"]["TaskTemplate"]), "ServiceID": svc["ID"],
            "Status": {"Timestamp": now, "State": "new", "Message": "created", "PortStatus": {}},
            "DesiredState": "running",
        }
        if slot is not None:
            task["Slot"] = slot
        if node_id:
            task["NodeID"] = node_id
        st.bump(task)
        st.put_task(task)
        if getattr(self, "_placed", False):
            self._count(task)
        self._next_at[tid] = st.clock() + self.step
        if self._active is not None:
            self._active[tid] = None
        return task

    def _set_state(self, task: dict[str, Any], state: str, message: str, err: str | None = None) -> None:
        st = self.state
        status = task["Status"]
        status.update({"Timestamp": st.now(), "State": state, "Message": message})
        if err:
            status["Err"] = err
        else:
            status.pop("Err", None)
        if state == "running":
            status["ContainerStatus"] = {"ContainerID": (task["ID"] * 3)[:64], "PID": 1000 + len(st.tasks),
                                         "ExitCode": 0}
        st.bump(task)
        self._next_at[task["ID"]] = st.clock() + self.step

    # --- scheduling ------------------------------------------------------------------------
    def service_key(self, svc: dict[str, Any]) -> str:
        template = svc["Spec"]["TaskTemplate"]
        cached = self._spec_keys.get(svc["ID"])
        if cached is None or cached[0] is not template:
            cached = self._spec_keys[svc["ID"]] = (template, spec_key(template))
        return cached[1]

    def _free_gpus(self, node: dict[str, Any], kind: str) -> list[str]:
        named = self._named_gpus.get((node["ID"], kind))
        if named is None:  # once per node and tick: pending GPU tasks ask every node again and again
            named = self._named_gpus[(node["ID"], kind)] = [
                r["NamedResourceSpec"]["Value"] for r in node["Description"]["Resources"].get("GenericResources", [])
                if "NamedResourceSpec" in r and r["NamedResourceSpec"]["Kind"] == kind]
        used = self._gpus_used.get(node["ID"], set())
        return [g for g in named if g not in used]

    def _place(self, task: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str], str]:
        """(node, assigned GPUs, error): the pipeline ready → resources → constraints, counting
        why each node was filtered out, in swarmkit's words."""
        st = self.state
        memo = (task["ServiceID"], self.key(task)) if not task.get("NodeID") else None
        if memo is not None and memo in self._no_fit:
            return None, [], self._no_fit[memo]
        self._placement()
        want = gpu_request(task["Spec"])
        constraints = (task["Spec"].get("Placement") or {}).get("Constraints") or []
        candidates = [st.nodes[task["NodeID"]]] if task.get("NodeID") in st.nodes else list(st.nodes.values())
        not_ready = short = unconstrained = 0
        fits: list[tuple[dict[str, Any], list[str]]] = []
        for node in candidates:
            if node["Status"]["State"] != "ready" or node["Spec"]["Availability"] != "active":
                not_ready += 1
                continue
            assigned: list[str] = []
            ok = True
            for kind, n in want.items():
                free = self._free_gpus(node, kind)
                if len(free) < n:
                    ok = False
                    break
                assigned += [f"{kind}\0{g}" for g in free[:n]]
            if not ok:
                short += 1
                continue
            if not constraint_ok(node, constraints):
                unconstrained += 1
                continue
            fits.append((node, assigned))
        if not fits:
            reasons = []
            if not_ready:
                reasons.append(f"{_plural(not_ready, 'node')} not available for new tasks")
            if short:
                reasons.append(f"insufficient resources on {_plural(short, 'node')}")
            if unconstrained:
                reasons.append(f"scheduling constraints not satisfied on {_plural(unconstrained, 'node')}")
            err = "no suitable node (" + "; ".join(reasons or ["no nodes available"]) + ")"
            if memo is not None:
                self._no_fit[memo] = err
            return None, [], err
        sid = task["ServiceID"]
        node, assigned = min(fits, key=lambda f: (self._load_by_service.get((f[0]["ID"], sid), 0),
                                                  self._load.get(f[0]["ID"], 0), f[0]["Description"]["Hostname"]))
        return node, assigned, ""

    # --- task lifecycle --------------------------------------------------------------------
    def _advance(self, task: dict[str, Any]) -> bool:
        st = self.state
        state = task["Status"]["State"]
        now = st.clock()
        if task["DesiredState"] != "running":
            if state in TERMINAL:
                return False
            if state in ("new", "pending", "assigned") or now >= self._next_at.get(task["ID"], 0):
                self._set_state(task, "shutdown", "shutdown")
                st.emit("container", "destroy", task["ID"], self._container_attributes(task))
                return True
            return True
        if state in TERMINAL or state == "running":
            return False
        if now < self._next_at.get(task["ID"], 0):
            return True
        nxt = PROGRESS[PROGRESS.index(state) + 1]
        if nxt == "assigned":
            node, gpus, err = self._place(task)
            if node is None:
                if task["Status"].get("Err") != err:
                    self._set_state(task, "pending", MESSAGES["pending"], err)
                else:
                    self._next_at[task["ID"]] = now + 0.5
                return False
            task["NodeID"] = node["ID"]
            self._no_fit.clear()  # the nodes' load and free GPUs moved
            if gpus:
                task["GenericResources"] = [
                    {"NamedResourceSpec": {"Kind": g.split("\0")[0], "Value": g.split("\0")[1]}} for g in gpus]
                self._gpus_used.setdefault(node["ID"], set()).update(g.split("\0")[1] for g in gpus)
            self._load[node["ID"]] = self._load.get(node["ID"], 0) + 1
            key = (node["ID"], task["ServiceID"])
            self._load_by_service[key] = self._load_by_service.get(key, 0) + 1
        if nxt == "running" and task["ServiceID"] in st.failing and self._current(task):
            self._set_state(task, "failed", "started", "task: non-zero exit (1)")
            task["Status"]["ContainerStatus"] = {"ContainerID": (task["ID"] * 3)[:64], "ExitCode": 1}
            return True
        self._set_state(task, nxt, MESSAGES[nxt])
        if nxt == "running":
            st.emit("container", "start", task["ID"], self._container_attributes(task))
        return True

    def _container_attributes(self, task: dict[str, Any]) -> dict[str, str]:
        """A task container's event attributes: dockerd copies the container's labels, which name
        the task, its service and its node."""
        svc = self.state.services.get(task["ServiceID"])
        name = svc["Spec"]["Name"] if svc else ""
        return {"com.docker.swarm.task.id": task["ID"], "com.docker.swarm.service.id": task["ServiceID"],
                "com.docker.swarm.service.name": name, "com.docker.swarm.node.id": task.get("NodeID", "")}

    def _current(self, task: dict[str, Any]) -> bool:
        svc = self.state.services.get(task["ServiceID"])
        if not svc:  # the service was removed: none of its tasks is current
            return False
        return self.key(task) == self.service_key(svc)

    # --- services --------------------------------------------------------------------------
    def _eligible_global_nodes(self, svc: dict[str, Any]) -> list[dict[str, Any]]:
        constraints = (svc["Spec"]["TaskTemplate"].get("Placement") or {}).get("Constraints") or []
        return [n for n in self.state.nodes.values()
                if n["Status"]["State"] == "ready" and n["Spec"]["Availability"] != "drain"
                and constraint_ok(n, constraints)]

    def _reconcile(self, svc: dict[str, Any]) -> bool:
        st = self.state
        spec = svc["Spec"]
        key = self.service_key(svc)
        if svc["ID"] not in self._allocated:
            # swarmkit's allocator writes the endpoint right after create: the version moves,
            # so a client holding the create-time version gets "update out of sequence".
            self._allocated.add(svc["ID"])
            st.bump(svc)
        tasks = st.tasks_of(svc["ID"])
        live = [t for t in tasks if t["DesiredState"] == "running"]
        busy = False
        # tasks on nodes that went down (or were drained) are replaced elsewhere
        for t in live:
            node = st.nodes.get(t.get("NodeID", ""))
            if node is not None and ((node["Status"]["State"] == "down" and not is_global(spec))
                                     or node["Spec"]["Availability"] == "drain"):
                t["DesiredState"] = "shutdown"
                st.bump(t)
                busy = True
        # failed tasks are restarted (RestartPolicy condition any/on-failure)
        now = st.clock()
        for t in live:
            if (t["DesiredState"] == "running" and t["Status"]["State"] in ("failed", "rejected", "complete")
                    and now >= self._next_at.get(t["ID"], 0) + self.restart_delay):
                t["DesiredState"] = "shutdown"
                st.bump(t)
                busy = True
        live = [t for t in tasks if t["DesiredState"] == "running"]
        busy |= any(t["Status"]["State"] in ("failed", "rejected") for t in live)
        slots: dict[Any, list[dict[str, Any]]] = {}
        for t in live:
            slots.setdefault(t.get("Slot") if not is_global(spec) else t.get("NodeID"), []).append(t)
        if is_global(spec):
            wanted = {n["ID"] for n in self._eligible_global_nodes(svc)}
            for nid in wanted - set(slots):
                self._new_task(svc, None, nid)
                busy = True
            for nid in set(slots) - wanted:
                for t in slots[nid]:
                    t["DesiredState"] = "shutdown"
                    st.bump(t)
                busy = True
        else:
            n = replicas(spec)
            for slot in range(1, n + 1):
                if slot not in slots:
                    self._new_task(svc, slot, None)
                    busy = True
            for slot in [s for s in slots if s > n]:
                for t in slots[slot]:
                    t["DesiredState"] = "shutdown"
                    st.bump(t)
                busy = True
        busy |= self._rolling_update(svc, key)
        self._prune(svc, tasks)
        return busy

    def _rolling_update(self, svc: dict[str, Any], key: str) -> bool:
        st = self.state
        spec = svc["Spec"]
        status = svc.get("UpdateStatus") or {}
        rolling_back = status.get("State", "").startswith("rollback")
        cfg = (spec.get("RollbackConfig") if rolling_back else spec.get("UpdateConfig")) or {}
        mine = self.state.tasks_of(svc["ID"])
        live = [t for t in mine if t["DesiredState"] == "running"]
        dirty = [t for t in live if self.key(t) != key]
        fresh = [t for t in live if self.key(t) == key]
        if status.get("State") in ("paused", "rollback_paused"):
            return False
        failed_new = [t for t in mine if self.key(t) == key
                      and t["Status"]["State"] in ("failed", "rejected")
                      and t["ID"] not in st.update_state.get(svc["ID"], {}).get("seen_failures", set())]
        in_update = status.get("State") in ("updating", "rollback_started")
        if in_update and failed_new:
            upd = st.update_state.setdefault(svc["ID"], {"next": 0.0, "seen_failures": set()})
            upd.setdefault("seen_failures", set()).update(t["ID"] for t in failed_new)
            action = cfg.get("FailureAction", "pause")
            tid = failed_new[0]["ID"]
            if action == "pause":
                new_state = "rollback_paused" if rolling_back else "paused"
                self._set_update_status(svc, new_state,
                                        f"update paused due to failure or early termination of task {tid}")
                return False
            if action == "rollback" and not rolling_back and svc.get("PreviousSpec"):
                svc["Spec"], svc["PreviousSpec"] = svc["PreviousSpec"], svc["Spec"]
                self._set_update_status(svc, "rollback_started",
                                        f"update rolled back due to failure or early termination of task {tid}")
                st.bump(svc)
                return True
        if not dirty:
            if in_update and all(t["Status"]["State"] == "running" for t in fresh):
                # like swarmkit's updater: the last batch is watched for `Monitor` before done
                monitor = (int(cfg["Monitor"]) if "Monitor" in cfg else 5_000_000_000) / 1e9
                upd = st.update_state.setdefault(svc["ID"], {"next": 0.0, "seen_failures": set()})
                converged = upd.setdefault("converged_at", st.clock())
                if st.clock() - converged < monitor:
                    return True
                done = "rollback_completed" if rolling_back else "completed"
                self._set_update_status(svc, done, "rollback completed" if rolling_back else "update completed",
                                        completed=True)
            return in_update
        if not in_update:
            self._set_update_status(svc, "updating", "update in progress")
            status = svc["UpdateStatus"]
        upd = st.update_state.setdefault(svc["ID"], {"next": 0.0, "seen_failures": set()})
        now = st.clock()
        parallelism = int(cfg.get("Parallelism", 1) or 0) or len(dirty)
        delay = int(cfg.get("Delay", 0) or 0) / 1e9
        start_first = cfg.get("Order") == "start-first"
        inflight = [t for t in fresh if t["Status"]["State"] != "running"]
        upd.pop("converged_at", None)
        if inflight:
            upd["next"] = max(upd["next"], now + delay) if delay else upd["next"]
            return True
        if now < upd["next"]:
            return True
        # start-first: old tasks whose replacement is running are stopped now
        if start_first:
            for t in dirty:
                group = t.get("Slot") if not is_global(spec) else t.get("NodeID")
                if any((f.get("Slot") if not is_global(spec) else f.get("NodeID")) == group for f in fresh):
                    t["DesiredState"] = "shutdown"
                    st.bump(t)
            dirty = [t for t in dirty if t["DesiredState"] == "running"]
            if not dirty:
                return True
        for t in sorted(dirty, key=lambda t: (t.get("Slot") or 0, t["ID"]))[:parallelism]:
            if not start_first:
                t["DesiredState"] = "shutdown"
                st.bump(t)
            self._new_task(svc, t.get("Slot"), t.get("NodeID") if is_global(spec) else None)
        upd["next"] = now + delay
        return True

    def _set_update_status(self, svc: dict[str, Any], state: str, message: str, completed: bool = False) -> None:
        st = self.state
        old = (svc.get("UpdateStatus") or {}).get("State", "")
        us = svc.get("UpdateStatus") or {}
        if state in ("updating", "rollback_started") and old != state:
            us = {"State": state, "StartedAt": st.now(), "Message": message}
        else:
            us = {**us, "State": state, "Message": message}
            if completed:
                us["CompletedAt"] = st.now()
        svc["UpdateStatus"] = us
        st.bump(svc)
        attrs = {"name": svc["Spec"]["Name"], "updatestate.new": state}
        if old:
            attrs["updatestate.old"] = old
        st.emit("service", "update", svc["ID"], attrs)

    def _prune(self, svc: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
        dead: dict[Any, list[dict[str, Any]]] = {}
        for t in tasks:
            if t["DesiredState"] != "running" and t["Status"]["State"] in TERMINAL:
                dead.setdefault(t.get("Slot") or t.get("NodeID"), []).append(t)
        for group in dead.values():
            if len(group) > HISTORY:
                group.sort(key=lambda t: t["CreatedAt"])
                for t in group[:-HISTORY]:
                    self.state.drop_task(t["ID"])
                    self._keys.pop(t["ID"], None)
                    self._next_at.pop(t["ID"], None)
