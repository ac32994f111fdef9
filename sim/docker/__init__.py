"""A Docker Engine API subset with Swarm endpoints, on 127.0.0.1, that the docker CLI and SDK accept.

    swarm = SimSwarm.start(seed=0, fleet="demo")      # or "scaled" (services=N, replicas=R) or "empty"
    docker.DockerClient(base_url=swarm.url, version="auto")
    swarm.set_node_state("swarm-gpu-1", "down"); swarm.fail_update("proptech-ml_model-api")
    swarm.mutations      # mutating HTTP requests received (POST/DELETE), for read-only tests
    swarm.stop()

Endpoints: /_ping, /version, /info, /swarm, /nodes, /services (list/inspect/create/update/delete, with
`version`, `rollback=previous`, `insertDefaults`, `status`), /tasks, /events (streamed),
versioned (/v1.41/...) or not. An orchestrator thread ticks tasks new → … → running and runs
rolling updates (sim/docker/orchestrator.py). A task's assigned GPUs are in `GenericResources`
(the Engine API's name for swarmkit's AssignedGenericResources), as dockerd 20.10 answers.
tests/integration/test_docker_contract.py runs the same assertions against this and a real Swarm.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable
from typing import Any

from . import services as _services
from .fleet import build
from .httpd import Server
from .orchestrator import Orchestrator
from .server import DockerHandler
from .state import API_VERSION, ENGINE_VERSION, MIN_API_VERSION, ApiError, SwarmState

__all__ = ["ApiError", "SimSwarm"]


def _base36(data: bytes, width: int) -> str:
    n, out = int.from_bytes(data, "big"), ""
    while len(out) < width:
        n, r = divmod(n, 36)
        out = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + out
    return out


def _join_token(cluster_id: str, role: str) -> str:
    digest = hashlib.sha256(f"{cluster_id}/ca".encode()).digest()
    secret = hashlib.sha256(f"{cluster_id}/{role}".encode()).digest()
    return f"SWMTKN-1-{_base36(digest, 50)}-{_base36(secret, 25)}"


class SimSwarm:
    def __init__(self, seed: int = 0, fleet: str = "demo", services: int = 0, step: float = 0.05,
                 restart_delay: float = 1.0, replicas: int | None = None) -> None:
        self.seed = seed
        self.state = SwarmState(seed=seed)
        self.mutations = 0
        self.stopping = False
        self.slow_services: set[str] = set()
        """Services whose tasks log slow requests (the demo's slow canary)."""
        build(self.state, fleet, services, replicas)
        self.orchestrator = Orchestrator(self.state, step=step, restart_delay=restart_delay)
        self._server: Server | None = None

    @classmethod
    def start(cls, seed: int = 0, fleet: str = "demo", services: int = 0, *, step: float = 0.05,
              restart_delay: float = 1.0, port: int = 0, replicas: int | None = None) -> SimSwarm:
        sim = cls(seed=seed, fleet=fleet, services=services, step=step, restart_delay=restart_delay,
                  replicas=replicas)
        sim.orchestrator.start()
        sim._server = Server(DockerHandler, sim, port)
        return sim

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.port

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.stopping = True
        self.orchestrator.stop()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> SimSwarm:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- bodies ----------------------------------------------------------------------------
    def version_body(self) -> dict[str, Any]:
        details = {"ApiVersion": API_VERSION, "Arch": "amd64", "BuildTime": "2026-05-07T21:09:36.000000000+00:00",
                   "Experimental": "false", "GitCommit": "5d6db84", "GoVersion": "go1.19.8",
                   "KernelVersion": "6.1.0-sim", "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}
        return {"Platform": {"Name": ""},
                "Components": [{"Name": "Engine", "Version": ENGINE_VERSION, "Details": details}],
                "Version": ENGINE_VERSION, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
                "GitCommit": "5d6db84", "GoVersion": "go1.19.8", "Os": "linux", "Arch": "amd64",
                "KernelVersion": "6.1.0-sim", "BuildTime": "2026-05-07T21:09:36.000000000+00:00"}

    def info_body(self) -> dict[str, Any]:
        st = self.state
        nodes = list(st.nodes.values())
        managers = [n for n in nodes if n["Spec"]["Role"] == "manager"]
        me = st.nodes.get(st.manager_id) or (nodes[0] if nodes else None)
        running = sum(1 for t in st.tasks.values() if t["Status"]["State"] == "running")
        return {
            "ID": "SIM0:" + st.cluster_id[:20].upper(), "Containers": running, "ContainersRunning": running,
            "ContainersPaused": 0, "ContainersStopped": 0, "Images": 8, "Driver": "overlay2",
            "Name": me["Description"]["Hostname"] if me else "sim", "ServerVersion": ENGINE_VERSION,
            "OperatingSystem": "Debian GNU/Linux 12 (bookworm) (simulated)", "OSType": "linux",
            "Architecture": "x86_64", "KernelVersion": "6.1.0-sim", "NCPU": 4, "MemTotal": 16 * 2**30,
            "IndexServerAddress": "https://index.docker.io/v1/", "Labels": [], "ExperimentalBuild": False,
            "SystemTime": st.now(), "LoggingDriver": "json-file", "CgroupDriver": "systemd",
            "DockerRootDir": "/var/lib/docker", "Warnings": None,
            "Swarm": {
                "NodeID": me["ID"] if me else "", "NodeAddr": "127.0.0.1", "LocalNodeState": "active",
                "ControlAvailable": True, "Error": "",
                "RemoteManagers": [{"NodeID": n["ID"], "Addr": n["ManagerStatus"]["Addr"]} for n in managers],
                "Nodes": len(nodes), "Managers": len(managers),
                "Cluster": self.cluster_body(),
            },
        }

    def cluster_body(self) -> dict[str, Any]:
        """The ClusterInfo dockerd shares between `/info` (Swarm.Cluster) and `/swarm`, with the
        default spec `docker swarm init` leaves (docker info prints each of these)."""
        st = self.state
        spec = {"Name": "default", "Labels": {}, "Orchestration": {"TaskHistoryRetentionLimit": 5},
                "Raft": {"SnapshotInterval": 10000, "KeepOldSnapshots": 0, "LogEntriesForSlowFollowers": 500,
                         "ElectionTick": 10, "HeartbeatTick": 1},
                "Dispatcher": {"HeartbeatPeriod": 5_000_000_000},
                "CAConfig": {"NodeCertExpiry": 7_776_000_000_000_000},  # 90 days
                "TaskDefaults": {}, "EncryptionConfig": {"AutoLockManagers": False}}
        # The sim runs no CA: TLSInfo has dockerd's fields, empty.
        return {"ID": st.cluster_id, "Version": {"Index": 10}, "CreatedAt": st.cluster_created,
                "UpdatedAt": st.cluster_created, "Spec": spec,
                "TLSInfo": {"TrustRoot": "", "CertIssuerSubject": "", "CertIssuerPublicKey": ""},
                "RootRotationInProgress": False, "DefaultAddrPool": ["10.0.0.0/8"], "SubnetSize": 24,
                "DataPathPort": 4789}

    def swarm_body(self) -> dict[str, Any]:
        """`GET /swarm` (what the SDK's `client.swarm` and `docker swarm join-token` read): the cluster
        plus its join tokens, in swarmkit's SWMTKN-1-<CA digest>-<secret> shape, stable per cluster."""
        return {**self.cluster_body(), "JoinTokens": {role: _join_token(self.state.cluster_id, role)
                                                      for role in ("Worker", "Manager")}}

    # --- helpers for scenarios and tests (in-process, not counted as mutations) -------------
    def set_node_state(self, node: str, state: str) -> None:
        """Node `Status.State`: 'ready' or 'down' (its tasks are rescheduled elsewhere)."""
        with self.state.lock:
            self.state.set_node_state(node, state)

    def set_node_availability(self, node: str, availability: str) -> None:
        with self.state.lock:
            self.state.set_node_availability(node, availability)

    def fail_update(self, service: str, failing: bool = True) -> None:
        """From now on, tasks of `service`'s current spec exit 1 when they start (so an update
        to a new spec fails and its FailureAction applies)."""
        with self.state.lock:
            sid = self.state.find_service(service)["ID"]
            (self.state.failing.add if failing else self.state.failing.discard)(sid)
            self.state.notify()

    def service(self, name: str) -> dict[str, Any]:
        with self.state.lock:
            return copy.deepcopy(self.state.find_service(name))

    def services(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return copy.deepcopy(list(self.state.services.values()))

    def nodes(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return copy.deepcopy(list(self.state.nodes.values()))

    def tasks(self, service: str | None = None) -> list[dict[str, Any]]:
        with self.state.lock:
            sid = self.state.find_service(service)["ID"] if service else None
            return copy.deepcopy(list(self.state.tasks.values()) if sid is None else self.state.tasks_of(sid))

    def update_service(self, name: str, mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Apply `mutate(spec)` to a copy of the current spec and update, as a client would."""
        with self.state.lock:
            svc = self.state.find_service(name)
            new = copy.deepcopy(svc["Spec"])
            mutate(new)
            return copy.deepcopy(_services.update_service(self.state, svc["ID"], str(svc["Version"]["Index"]), new))

    def rollback_service(self, name: str) -> dict[str, Any]:
        with self.state.lock:
            svc = self.state.find_service(name)
            return copy.deepcopy(_services.update_service(self.state, svc["ID"], str(svc["Version"]["Index"]),
                                                          None, "previous"))

    def wait_until(self, predicate: Callable[[SimSwarm], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.05)
        return predicate(self)
