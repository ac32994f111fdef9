"""The Swarm fleets the simulator starts with: the seed article's stacks ("demo"), N generated
services over many nodes ("scaled"), or nothing but a manager ("empty")."""

from __future__ import annotations

from typing import Any

from .services import create_service
from .state import SwarmState

NETWORK_ID = "mlnet0000000000000000000001"
GPU = "NVIDIA-GPU"


def gpu_uuid(state: SwarmState) -> str:
    h = "".join(state.rng.choice("0123456789abcdef") for _ in range(32))
    return f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def spec(name: str, image: str, replicas: int | None = 1, *, stack: str = "", labels: dict[str, str] | None = None,
         constraints: list[str] | None = None, gpus: int = 0, aliases: list[str] | None = None,
         memory: tuple[int, int] | None = None, update: dict[str, Any] | None = None) -> dict[str, Any]:
    all_labels = dict(labels or {})
    if stack:
        all_labels["com.docker.stack.namespace"] = stack
        all_labels["com.docker.stack.image"] = image
    resources: dict[str, Any] = {"Limits": {}, "Reservations": {}}
    if memory:
        resources["Limits"]["MemoryBytes"] = memory[0]
        resources["Reservations"]["MemoryBytes"] = memory[1]
    if gpus:
        resources["Reservations"]["GenericResources"] = [{"DiscreteResourceSpec": {"Kind": GPU, "Value": gpus}}]
    container: dict[str, Any] = {"Image": image}
    if stack:
        container["Labels"] = {"com.docker.stack.namespace": stack}
    tt: dict[str, Any] = {
        "ContainerSpec": container, "Resources": resources,
        "RestartPolicy": {"Condition": "on-failure", "Delay": 5_000_000_000, "MaxAttempts": 3},
        "Placement": {"Constraints": constraints} if constraints else {},
        "Networks": [{"Target": NETWORK_ID, **({"Aliases": aliases} if aliases else {})}],
    }
    out: dict[str, Any] = {
        "Name": name, "Labels": all_labels, "TaskTemplate": tt,
        "Mode": {"Replicated": {"Replicas": replicas}} if replicas is not None else {"Global": {}},
        "UpdateConfig": {"Parallelism": 1, "FailureAction": "pause", "Monitor": 5_000_000_000,
                         "MaxFailureRatio": 0, "Order": "stop-first", **(update or {})},
        "EndpointSpec": {"Mode": "vip"},
    }
    return out


DEMO_SERVICES = [
    spec("proptech-ml_model-api", "proptechusa/rent-prediction:latest", 3, stack="proptech-ml",
         memory=(2 * 2**30, 2**30), aliases=["model-api"]),
    spec("proptech-ml_load-balancer", "nginx:alpine", 1, stack="proptech-ml",
         constraints=["node.role == manager"], aliases=["load-balancer"]),
    spec("proptech-multi_price-predictor", "proptechusa/price-model:v2.0", 3, stack="proptech-multi",
         constraints=["node.labels.model-type == price"], aliases=["price-predictor"]),
    spec("proptech-multi_demand-predictor", "proptechusa/demand-model:v1.5", 2, stack="proptech-multi",
         constraints=["node.labels.model-type == demand"], aliases=["demand-predictor"]),
    spec("proptech-multi_model-gateway", "proptechusa/ml-gateway:latest", 2, stack="proptech-multi",
         aliases=["model-gateway"]),
    spec("rent-predictor", "proptechusa/model:v2.0", 3, aliases=["rent-predictor"]),
    spec("rent-predictor-canary", "proptechusa/model:v2.1", 1, labels={"mlops.canary-of": "rent-predictor"}),
    spec("valuation-blue", "proptechusa/valuation-model:v2.0", 2,
         labels={"mlops.bluegreen": "valuation", "mlops.color": "blue"}, aliases=["valuation"]),
    spec("valuation-green", "proptechusa/valuation-model:v2.1", 2,
         labels={"mlops.bluegreen": "valuation", "mlops.color": "green"}),
    spec("llm-embedder", "proptechusa/embedder:v1.0", 2, gpus=1, constraints=["node.labels.gpu == true"]),
]


def build(state: SwarmState, fleet: str = "demo", services: int = 0, replicas: int | None = None) -> None:
    """`replicas`: tasks per service of the "scaled" fleet (default 1-3, varied)."""
    with state.lock:
        state.add_node("swarm-manager-1", role="manager", leader=True, cpus=4, memory_gib=16)
        if fleet == "empty":
            return
        if fleet == "demo":
            state.add_node("swarm-cpu-1", labels={"model-type": "price"})
            state.add_node("swarm-cpu-2", labels={"model-type": "demand"})
            state.add_node("swarm-cpu-3", labels={"model-type": "price"})
            for i in (1, 2):
                state.add_node(f"swarm-gpu-{i}", labels={"gpu": "true"}, cpus=16, memory_gib=64,
                               gpus=[gpu_uuid(state), gpu_uuid(state)])
            for s in DEMO_SERVICES:
                create_service(state, s)
            return
        if fleet != "scaled":
            raise ValueError(f"unknown Swarm fleet {fleet!r} (demo, scaled, empty)")
        n = max(services, 1)
        cpu_nodes = max(2, n // 20)
        gpu_nodes = max(1, n // 100)
        for i in range(1, cpu_nodes + 1):
            state.add_node(f"swarm-cpu-{i}", labels={"model-type": "price" if i % 2 else "demand"})
        for i in range(1, gpu_nodes + 1):
            state.add_node(f"swarm-gpu-{i}", labels={"gpu": "true"}, cpus=16, memory_gib=64,
                           gpus=[gpu_uuid(state) for _ in range(4)])
        for i in range(n):
            gpus = 1 if i % 25 == 0 else 0
            create_service(state, spec(f"model-{i:05d}", f"proptechusa/model-{i % 7}:v1.{i % 5}",
                                       replicas if replicas is not None else 1 + i % 3,
                                       stack=f"stack-{i // 50:03d}", gpus=gpus,
                                       constraints=["node.labels.gpu == true"] if gpus else None))
