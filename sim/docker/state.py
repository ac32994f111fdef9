"""The Swarm's objects (nodes, services, tasks), its version index and its event log.

Objects are kept as the Engine API JSON they are served as. All access holds `lock`; `changed`
(a Condition on it) wakes the orchestrator and event streams.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

ENGINE_VERSION = "20.10.24+dfsg1"
API_VERSION = "1.41"
MIN_API_VERSION = "1.12"


def rfc3339(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int((ts % 1) * 1e9):09d}Z"


class ApiError(Exception):
    """An Engine API error: HTTP status and the daemon's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SwarmState:
    def __init__(self, seed: int = 0, clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.rng = random.Random(seed)
        self.clock = clock
        self.index = 10
        self.nodes: dict[str, dict[str, Any]] = {}
        self.services: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        """Every task by id; add and drop them with `put_task` / `drop_task`, which keep `by_service`."""
        self.by_service: dict[str, dict[str, dict[str, Any]]] = {}
        """Service id -> its tasks by id: a filtered `GET /tasks` or one service's status costs what
        it returns, not the whole Swarm's 10,000 tasks under the lock."""
        self.events: deque[dict[str, Any]] = deque(maxlen=5000)
        self.emitted = 0
        self.task_marks: dict[str, int] = {}
        """Service id -> the version index its tasks last moved at (the orchestrator's "settled" mark)."""
        """Events emitted so far: a stream takes the last `emitted - seen` of `events` when woken."""
        self.mutations = 0
        self.failing: set[str] = set()
        """Service IDs whose tasks of the current spec fail when they start (fail_update)."""
        self.update_state: dict[str, dict[str, Any]] = {}
        """Per service: the rolling update's bookkeeping (next batch time)."""
        self.cluster_id = self.new_id()
        self.cluster_created = rfc3339(self.clock())
        self.manager_id = ""

    # --- ids, versions, time -------------------------------------------------------------
    def new_id(self) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(25))

    def now(self) -> str:
        return rfc3339(self.clock())

    def bump(self, obj: dict[str, Any]) -> None:
        self.index += 1
        obj["Version"] = {"Index": self.index}
        obj["UpdatedAt"] = self.now()
        if "ServiceID" in obj:  # a task
            self.task_marks[obj["ServiceID"]] = self.index

    def notify(self) -> None:
        self.changed.notify_all()

    # --- events ----------------------------------------------------------------------------
    def emit(self, type_: str, action: str, actor_id: str, attributes: dict[str, str]) -> None:
        t = self.clock()
        self.events.append({
            "Type": type_, "Action": action,
            "Actor": {"ID": actor_id, "Attributes": dict(sorted(attributes.items()))},
            "scope": "swarm" if type_ in ("service", "node") else "local",
            "time": int(t), "timeNano": int(t * 1e9),
        })
        self.emitted += 1
        with self.lock:  # re-entrant: a caller that holds it (most do) just notifies
            self.notify()  # streams send it when the lock is let go, not at their next 0.5 s poll

    def events_since(self, seen: int) -> list[dict[str, Any]]:
        """Events emitted after the first `seen` (those the deque still holds), oldest first."""
        fresh = min(self.emitted - seen, len(self.events))
        return list(self.events)[len(self.events) - fresh:] if fresh > 0 else []

    # --- tasks -----------------------------------------------------------------------------
    def put_task(self, task: dict[str, Any]) -> None:
        self.tasks[task["ID"]] = task
        self.by_service.setdefault(task["ServiceID"], {})[task["ID"]] = task

    def drop_task(self, tid: str) -> None:
        task = self.tasks.pop(tid, None)
        if task is not None:
            of_service = self.by_service.get(task["ServiceID"], {})
            of_service.pop(tid, None)
            if not of_service:
                self.by_service.pop(task["ServiceID"], None)

    def tasks_of(self, sid: str) -> list[dict[str, Any]]:
        return list(self.by_service.get(sid, {}).values())

    # --- lookups ---------------------------------------------------------------------------
    def find_service(self, ref: str) -> dict[str, Any]:
        if ref in self.services:
            return self.services[ref]
        for svc in self.services.values():
            if svc["Spec"]["Name"] == ref:
                return svc
        matches = [s for sid, s in self.services.items() if sid.startswith(ref)]
        if len(matches) == 1 and ref:
            return matches[0]
        raise ApiError(404, f"service {ref} not found")

    def find_node(self, ref: str) -> dict[str, Any]:
        if ref in self.nodes:
            return self.nodes[ref]
        for node in self.nodes.values():
            if node["Description"]["Hostname"] == ref:
                return node
        matches = [n for nid, n in self.nodes.items() if nid.startswith(ref)]
        if len(matches) == 1 and ref:
            return matches[0]
        raise ApiError(404, f"node {ref} not found")

    def find_task(self, ref: str) -> dict[str, Any]:
        if ref in self.tasks:
            return self.tasks[ref]
        matches = [t for tid, t in self.tasks.items() if tid.startswith(ref)]
        if len(matches) == 1 and ref:
            return matches[0]
        raise ApiError(404, f"task {ref} not found")

    # --- nodes -----------------------------------------------------------------------------
    def add_node(self, hostname: str, *, role: str = "worker", gpus: list[str] | None = None,
                 labels: dict[str, str] | None = None, cpus: int = 8, memory_gib: int = 32,
                 leader: bool = False, addr: str = "127.0.0.1") -> dict[str, Any]:
        nid = self.new_id()
        now = self.now()
        resources: dict[str, Any] = {"NanoCPUs": cpus * 10**9, "MemoryBytes": memory_gib * 2**30}
        if gpus:
            resources["GenericResources"] = [{"NamedResourceSpec": {"Kind": "NVIDIA-GPU", "Value": g}} for g in gpus]
        node: dict[str, Any] = {
            "ID": nid, "Version": {"Index": 0}, "CreatedAt": now, "UpdatedAt": now,
            "Spec": {"Labels": dict(labels or {}), "Role": role, "Availability": "active"},
            "Description": {
                "Hostname": hostname,
                "Platform": {"Architecture": "x86_64", "OS": "linux"},
                "Resources": resources,
                "Engine": {"EngineVersion": ENGINE_VERSION, "Plugins": [
                    {"Type": "Log", "Name": "json-file"}, {"Type": "Network", "Name": "host"},
                    {"Type": "Network", "Name": "overlay"}, {"Type": "Volume", "Name": "local"}]},
            },
            "Status": {"State": "ready", "Addr": addr},
        }
        if role == "manager":
            node["ManagerStatus"] = {"Leader": leader, "Reachability": "reachable", "Addr": f"{addr}:2377"}
            if leader or not self.manager_id:
                self.manager_id = nid
        self.bump(node)
        self.nodes[nid] = node
        self.emit("node", "create", nid, {"name": hostname})
        return node

    def set_node_state(self, ref: str, state: str) -> None:
        """'ready' or 'down' (the node's Status.State as the dispatcher reports it)."""
        node = self.find_node(ref)
        old = node["Status"]["State"]
        if old == state:
            return
        node["Status"]["State"] = state
        if state == "down":
            node["Status"]["Message"] = "heartbeat failure"
            if "ManagerStatus" in node:
                node["ManagerStatus"]["Reachability"] = "unreachable"
        else:
            node["Status"].pop("Message", None)
            if "ManagerStatus" in node:
                node["ManagerStatus"]["Reachability"] = "reachable"
        self.bump(node)
        self.emit("node", "update", node["ID"], {"name": node["Description"]["Hostname"],
                                                 "state.new": state, "state.old": old})
        self.notify()

    def set_node_availability(self, ref: str, availability: str) -> None:
        node = self.find_node(ref)
        old = node["Spec"]["Availability"]
        node["Spec"]["Availability"] = availability
        self.bump(node)
        self.emit("node", "update", node["ID"], {"name": node["Description"]["Hostname"],
                                                 "availability.new": availability, "availability.old": old})
        self.notify()

    def snapshot(self, obj: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(obj)
