"""HTTP routes of the Docker Engine API subset (versioned `/v1.41/...` and unversioned paths)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from . import services as svcs
from .filters import check_keys, event_matches, labels_match, node_matches, parse_filters, service_matches
from .httpd import Handler
from .params import json_body, parse_bool
from .services import is_global, replicas, spec_key
from .state import API_VERSION, ENGINE_VERSION, MIN_API_VERSION, ApiError, SwarmState

_VERSIONED = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")


def _vtuple(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


class DockerHandler(Handler):
    extra_headers = {"Api-Version": API_VERSION, "Docker-Experimental": "false", "Ostype": "linux",
                     "Server": f"Docker/{ENGINE_VERSION} (linux)"}
    fast_json = True  # 2,000 services and 10,000 tasks are listed while the lock is held

    def version_string(self) -> str:
        return f"Docker/{ENGINE_VERSION} (linux)"

    @property
    def sim(self) -> Any:
        return self.server.context  # type: ignore[attr-defined]

    @property
    def state(self) -> SwarmState:
        return self.sim.state

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # dockerd's router answers a method it has no route for with its JSON 404, never an HTML 501.
    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        path, query = self.parsed()
        q = {k: v[-1] for k, v in query.items()}
        try:
            m = _VERSIONED.match(path)
            if m:
                version = (int(m.group(1)), int(m.group(2)))
                path = m.group(3)
                if version > _vtuple(API_VERSION):
                    raise ApiError(400, f"client version {m.group(1)}.{m.group(2)} is too new. "
                                        f"Maximum supported API version is {API_VERSION}")
                if version < _vtuple(MIN_API_VERSION):
                    raise ApiError(400, f"client version {m.group(1)}.{m.group(2)} is too old. Minimum supported "
                                        f"API version is {MIN_API_VERSION}, "
                                        "please upgrade your client to a newer version")
            if method in ("POST", "DELETE"):
                with self.state.lock:
                    self.sim.mutations += 1
            self._route(method, path.rstrip("/") or "/", q)
        except ApiError as e:
            self.send(e.status, {"message": e.message}, head=method == "HEAD")
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # a body of the wrong shape: dockerd answers, it never drops the connection
            self.send(500, {"message": f"{type(e).__name__}: {e}"}, head=method == "HEAD")

    # --- routing ---------------------------------------------------------------------------
    def _route(self, method: str, path: str, q: dict[str, str]) -> None:
        st = self.state
        parts = path.strip("/").split("/")
        if path == "/_ping" and method in ("GET", "HEAD"):
            self.send(200, raw=b"OK", content_type="text/plain; charset=utf-8", head=method == "HEAD",
                      headers={"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"})
            return
        if path == "/version" and method == "GET":
            self.send(200, self.sim.version_body())
            return
        if path == "/info" and method == "GET":
            with st.lock:
                self.send(200, self.sim.info_body())
            return
        if path == "/swarm" and method == "GET":
            with st.lock:
                self.send(200, self.sim.swarm_body())
            return
        if path == "/events" and method == "GET":
            self._events(q)
            return
        if parts[0] == "distribution" and method == "GET":
            raise ApiError(500, 'Get "https://registry-1.docker.io/v2/": '
                                'dial tcp: lookup registry-1.docker.io: no such host')
        if parts[0] == "nodes":
            self._nodes(method, parts[1:], q)
            return
        if parts[0] in ("services", "tasks") and len(parts) == 3 and parts[2] == "logs" and method == "GET":
            self._logs(parts[0], parts[1], q)
            return
        if parts[0] == "services":
            self._services(method, parts[1:], q)
            return
        if parts[0] == "tasks":
            self._tasks(method, parts[1:], q)
            return
        raise ApiError(404, "page not found")

    def _nodes(self, method: str, rest: list[str], q: dict[str, str]) -> None:
        st = self.state
        with st.lock:
            if not rest and method == "GET":
                f = parse_filters(q.get("filters"))
                check_keys(f, {"id", "label", "membership", "name", "node.label", "role"})
                self.send(200, [st.snapshot(n) for n in st.nodes.values() if node_matches(n, f)])
                return
            if len(rest) == 1 and method == "GET":
                self.send(200, st.snapshot(st.find_node(rest[0])))
                return
            if len(rest) == 2 and rest[1] == "update" and method == "POST":
                spec = json_body(self.body(), "swarm.NodeSpec")  # dockerd decodes before swarmkit looks
                node = st.find_node(rest[0])
                if str(node["Version"]["Index"]) != q.get("version"):
                    raise ApiError(500, svcs.OUT_OF_SEQUENCE)
                old = node["Spec"]
                node["Spec"] = {"Labels": spec.get("Labels") or {}, "Role": spec.get("Role", old["Role"]),
                                "Availability": spec.get("Availability", old["Availability"])}
                st.bump(node)
                st.emit("node", "update", node["ID"], {"name": node["Description"]["Hostname"]})
                st.notify()
                self.send(200, raw=b"", content_type="text/plain; charset=utf-8")
                return
        raise ApiError(404, "page not found")

    def _task_counts(self, services: list[dict[str, Any]]) -> dict[str, list[int]]:
        """Service id -> [running tasks, tasks desired running], on nodes that are not down, for the
        listed services only (their tasks from the per-service index: one service's status costs its
        own tasks, not the Swarm's 10,000)."""
        st = self.state
        counts: dict[str, list[int]] = {}
        for svc in services:
            c = counts[svc["ID"]] = [0, 0]
            for t in st.by_service.get(svc["ID"], {}).values():
                node = st.nodes.get(t.get("NodeID", ""))
                up = node is not None and node["Status"]["State"] != "down"
                if t["Status"]["State"] == "running" and up:
                    c[0] += 1
                if t["DesiredState"] == "running" and (node is None or up):
                    c[1] += 1
        return counts

    @staticmethod
    def _service_status(svc: dict[str, Any], counts: dict[str, list[int]]) -> dict[str, int]:
        running, desired_global = counts.get(svc["ID"], (0, 0))
        desired = desired_global if is_global(svc["Spec"]) else replicas(svc["Spec"])
        return {"RunningTasks": running, "DesiredTasks": desired, "CompletedTasks": 0}

    def _candidates(self, f: dict[str, list[str]]) -> list[dict[str, Any]]:
        """The services an `id` filter can match (full ids looked up directly, prefixes scanned)."""
        services = self.state.services
        ids = f.get("id")
        if ids and all(i in services for i in ids):
            return [services[i] for i in dict.fromkeys(ids)]
        return list(services.values())

    def _services(self, method: str, rest: list[str], q: dict[str, str]) -> None:
        st = self.state
        with st.lock:
            if not rest and method == "GET":
                f = parse_filters(q.get("filters"))
                check_keys(f, {"id", "label", "mode", "name"})
                show_status = parse_bool("status", q.get("status"))
                # Serialized before the lock is let go: no copies needed.
                matched = [svc for svc in self._candidates(f) if service_matches(svc, f)]
                counts = self._task_counts(matched) if show_status else {}
                out = [{**svc, "ServiceStatus": self._service_status(svc, counts)} if show_status else svc
                       for svc in matched]
                self.send(200, out)
                return
            if rest == ["create"] and method == "POST":
                svc = svcs.create_service(st, json_body(self.body(), "swarm.ServiceSpec"))
                self.send(201, {"ID": svc["ID"]})
                return
            if len(rest) == 1 and method == "GET":
                svc = st.find_service(rest[0])
                defaults = parse_bool("insertDefaults", q.get("insertDefaults"))
                body = svcs.with_defaults(svc) if defaults else st.snapshot(svc)
                self.send(200, body)
                return
            if len(rest) == 1 and method == "DELETE":
                svcs.remove_service(st, rest[0])
                self.send(200, raw=b"", content_type="text/plain; charset=utf-8")
                return
            if len(rest) == 2 and rest[1] == "update" and method == "POST":
                body = json_body(self.body(), "swarm.ServiceSpec")
                svcs.update_service(st, rest[0], q.get("version"), body, q.get("rollback"))
                self.send(200, {"Warnings": None})
                return
        raise ApiError(404, "page not found")

    def _tasks(self, method: str, rest: list[str], q: dict[str, str]) -> None:
        st = self.state
        with st.lock:
            if not rest and method == "GET":
                f = parse_filters(q.get("filters"))
                check_keys(f, {"_up-to-date", "desired-state", "id", "label", "name", "node", "service"})
                # dockerd answers 404 "service X not found" (or node) for a filter naming one it lacks.
                service_ids = {st.find_service(ref)["ID"] for ref in f.get("service", [])}
                node_ids = {st.find_node(ref)["ID"] for ref in f.get("node", [])}
                keys = ({sid: spec_key(s["Spec"]["TaskTemplate"]) for sid, s in st.services.items()}
                        if "_up-to-date" in f else {})
                out = []
                candidates = ([t for sid in service_ids for t in st.by_service.get(sid, {}).values()]
                              if "service" in f else st.tasks.values())
                for t in candidates:
                    if "node" in f and t.get("NodeID") not in node_ids:
                        continue
                    if "desired-state" in f and t["DesiredState"] not in f["desired-state"]:
                        continue
                    if "id" in f and not any(t["ID"].startswith(v) for v in f["id"]):
                        continue
                    # swarmkit matches a task's label filter against its service's labels
                    # (ServiceAnnotations), which is how `docker stack ps` picks one stack's tasks.
                    svc_labels = (st.services.get(t["ServiceID"]) or {}).get("Spec", {}).get("Labels") or {}
                    if "label" in f and not labels_match(svc_labels, f["label"]):
                        continue
                    if "_up-to-date" in f and spec_key(t["Spec"]) != keys.get(t["ServiceID"]):
                        continue
                    if "name" in f:
                        svc = st.services.get(t["ServiceID"])
                        name = f"{svc['Spec']['Name']}.{t.get('Slot') or t.get('NodeID')}" if svc else ""
                        if not any(name.startswith(v) for v in f["name"]):
                            continue
                    out.append(t)  # serialized before the lock is let go: no copy needed
                self.send(200, out)
                return
            if len(rest) == 1 and method == "GET":
                self.send(200, st.snapshot(st.find_task(rest[0])))
                return
        raise ApiError(404, "page not found")

    def _logs(self, kind: str, ref: str, q: dict[str, str]) -> None:
        """Every task's lines (or one task's), multiplexed as dockerd sends them (sim/docker/logs.py)."""
        from mlops_tui.sim.docker import logs

        st = self.state
        with st.lock:
            if kind == "services":
                svc = st.find_service(ref)
                tasks = [st.snapshot(t) for t in st.tasks_of(svc["ID"])]
            else:
                task = st.find_task(ref)
                svc, tasks = st.services[task["ServiceID"]], [st.snapshot(task)]
            name = svc["Spec"]["Name"]
            sid = svc["ID"]
        body = logs.stream(tasks, name.split("_", 1)[-1], q, slow=name in self.sim.slow_services,
                           running=lambda: not self.sim.stopping and sid in st.services)
        self.start_chunked(200, "application/vnd.docker.multiplexed-stream")
        try:
            for part in body:
                self.chunk(part)
            self.end_chunked()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    # --- events ----------------------------------------------------------------------------
    def _events(self, q: dict[str, str]) -> None:
        st = self.state
        f = parse_filters(q.get("filters"))
        now = st.clock()
        since = float(q["since"]) if q.get("since") else now
        until = float(q["until"]) if q.get("until") else None
        self.start_chunked()
        sent = 0
        with st.lock:
            backlog = [e for e in st.events if e["timeNano"] / 1e9 >= since and event_matches(e, f)
                       and (until is None or e["timeNano"] / 1e9 <= until)]
            seen = st.emitted
        try:
            for e in backlog:
                self.chunk(json.dumps(e).encode() + b"\n")
                sent += 1
            while not self.sim.stopping and (until is None or time.time() < until):
                with st.lock:
                    if st.emitted == seen:  # emit() notifies: an event is sent once the lock is let go
                        st.changed.wait(0.5)
                    fresh, seen = st.events_since(seen), st.emitted
                for e in fresh:
                    if event_matches(e, f) and (until is None or e["timeNano"] / 1e9 <= until):
                        self.chunk(json.dumps(e).encode() + b"\n")
            self.end_chunked()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
