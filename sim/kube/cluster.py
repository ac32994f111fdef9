"""`SimKubeCluster`: one simulated cluster (store + API + HTTP server + controllers) and kubeconfigs."""

from __future__ import annotations

import base64
import os
from typing import Any

import yaml

from mlops_tui.sim.kube import fleet as fleets
from mlops_tui.sim.kube.api import Api
from mlops_tui.sim.kube.auth import Auth
from mlops_tui.sim.kube.controllers import Controllers
from mlops_tui.sim.kube.server import Faults, KubeServer
from mlops_tui.sim.kube.store import Store
from mlops_tui.sim.kube.workloads import Workloads


class SimKubeCluster:
    """A running simulated cluster. Build one with `SimKubeCluster.start(...)`; always `stop()` it."""

    def __init__(self, name: str, seed_: int, history: int, ready_delay: float, tick: float,
                 hpa_period: float, bookmark_interval: float, tls: bool = True, grace_factor: float = 0.1,
                 heartbeat: tuple[float, float] = (10.0, 40.0)) -> None:
        self.name = name
        self.seed = seed_
        self.store = Store(history=history, seed=seed_)
        self.auth = Auth()
        self.api = Api(self.store, self.auth, lambda: f"127.0.0.1:{self.server.port}")
        self.faults = Faults(self.store)
        self.server = KubeServer(self.api, self.store, self.faults, bookmark_interval=bookmark_interval,
                                 tls=tls)
        self.controllers = Controllers(self.store, seed=seed_, ready_delay=ready_delay, tick=tick,
                                       hpa_period=hpa_period, grace_factor=grace_factor, heartbeat=heartbeat)
        self.workloads = Workloads(self.store, seed=seed_, ready_delay=ready_delay, tick=tick)

    @classmethod
    def start(cls, name: str = "sim", seed: int = 0, fleet: str = "demo", services: int = 2000,
              pods_per_service: int = 10, gpu_nodes: int = 200, cpu_nodes: int = 0, ready_delay: float = 1.0,
              tick: float = 0.2, history: int = 1000, hpa_period: float = 3.0,
              bookmark_interval: float = 5.0, tls: bool = True, grace_factor: float = 0.1,
              heartbeat: tuple[float, float] = (10.0, 40.0)) -> SimKubeCluster:
        """`grace_factor`: a deleted pod terminates for its grace period × this (the objects still say
        the full grace); `heartbeat`: the range of seconds between one node's status posts."""
        cluster = cls(name, seed, history, ready_delay, tick, hpa_period, bookmark_interval, tls, grace_factor,
                      heartbeat)
        seed_fleet = {"services": services, "pods_per_service": pods_per_service, "gpu_nodes": gpu_nodes,
                      "cpu_nodes": cpu_nodes}
        settled = fleets.seed(cluster.store, fleet, seed, **seed_fleet)
        cluster.controllers.start(settled=settled)
        cluster.workloads.start()
        cluster.server.start()
        return cluster

    # -- identity -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.server.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.server.port}"

    def ssl_context(self):
        """A client SSL context trusting this simulator's certificate (urllib in tests and benchmarks)."""
        from mlops_tui.sim.kube.tls import client_context

        return client_context()

    @property
    def admin_token(self) -> str:
        return self.auth.admin_token

    @property
    def readonly_token(self) -> str:
        return self.auth.readonly_token

    @property
    def mutations(self) -> int:
        """Mutating requests (POST/PUT/PATCH/DELETE) that reached the server, access reviews excluded."""
        return self.api.mutations

    # -- scenario hooks ----------------------------------------------------------------------------

    def set_node_ready(self, name: str, ready: bool) -> None:
        self.controllers.set_node_ready(name, ready)

    def set_load(self, namespace: str, name: str, cpu_percent: float) -> None:
        """The CPU utilisation (percent of requests) an HPA targeting `name` observes from now on."""
        self.controllers.set_load(namespace, name, cpu_percent)

    def settle(self, timeout: float = 10.0) -> bool:
        """Wait until the controllers have nothing left to do (tests); True if they settled."""
        return self.controllers.settle(timeout)

    def compact(self) -> None:
        self.store.compact()

    def restart(self) -> None:
        self.server.stop()
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
        self.controllers.stop()
        self.workloads.stop()

    def __enter__(self) -> SimKubeCluster:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def kubeconfig(clusters: list[SimKubeCluster], readonly: bool = False) -> dict[str, Any]:
    """A kubeconfig dict: context `<name>` (admin, or read-only if `readonly`) and `<name>-readonly`."""
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [], "users": [],
                           "contexts": []}
    for c in clusters:
        entry: dict[str, Any] = {"server": c.url}
        if c.url.startswith("https:"):
            from mlops_tui.sim.kube.tls import ca_data

            entry["certificate-authority-data"] = base64.b64encode(ca_data()).decode()
        doc["clusters"].append({"name": c.name, "cluster": entry})
        doc["users"].append({"name": f"{c.name}-admin", "user": {"token": c.admin_token}})
        doc["users"].append({"name": f"{c.name}-viewer", "user": {"token": c.readonly_token}})
        main_user = f"{c.name}-viewer" if readonly else f"{c.name}-admin"
        doc["contexts"].append({"name": c.name, "context": {"cluster": c.name, "user": main_user}})
        doc["contexts"].append({"name": f"{c.name}-readonly", "context": {"cluster": c.name,
                                                                         "user": f"{c.name}-viewer"}})
    doc["current-context"] = clusters[0].name if clusters else ""
    return doc


def write_kubeconfig(path: str | os.PathLike[str], clusters: list[SimKubeCluster], readonly: bool = False) -> str:
    """Write a kubeconfig for `clusters` (mode 0600) and return its path."""
    text = yaml.safe_dump(kubeconfig(clusters, readonly), sort_keys=False)
    fd = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return os.fspath(path)
