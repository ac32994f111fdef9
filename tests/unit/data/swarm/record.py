"""Record the Engine API JSON the Swarm translate tests read, from the real dockerd here.

    .venv/bin/python tests/unit/data/swarm/record.py

Creates a small fleet (prefix `rec-`) with the engine's own CLI, waits until each case shows what
it is meant to show, dumps `GET /services?status=true`, `GET /tasks`, `GET /nodes`, `GET /networks`
and `GET /swarm` as the engine returns them, then removes everything it created.
`nodes_discrete.json` is the one hand-derived file: the recorded node with its named GPUs replaced
by a `DiscreteResourceSpec` (this dockerd was started with named GPUs only).
"""

from __future__ import annotations

import copy
import json
import pathlib
import subprocess
import time

import docker

HERE = pathlib.Path(__file__).parent
D = "/usr/bin/docker"
FAST = ["--detach", "--init", "--stop-grace-period", "1s", "--update-monitor", "2s", "--network", "host"]


def sh(*args: str, check: bool = True) -> str:
    return subprocess.run([D, *args], capture_output=True, text=True, check=check).stdout.strip()


def create(name: str, *args: str, net: list[str] | None = None) -> None:
    opts = FAST if net is None else [a for a in FAST if a not in ("--network", "host")] + net
    sh("service", "create", "--name", name, *opts, *args)


def wait(what: str, check, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise SystemExit(f"timed out waiting for {what}")


def update_state(api, name: str) -> str:
    return (api.inspect_service(name).get("UpdateStatus") or {}).get("State", "")


def running(api, name: str) -> int:
    return sum(1 for t in api.tasks(filters={"service": name, "desired-state": "running"})
               if t["Status"]["State"] == "running")


def main() -> None:
    api = docker.APIClient(base_url="unix:///var/run/docker.sock", version="1.41", timeout=30)
    names: list[str] = []
    try:
        # A production LLM in a stack, holding both GPUs, then updated once (so it has a PreviousSpec).
        create("rec-ml_llm", "--replicas", "2", "--generic-resource", "NVIDIA-GPU=1",
               "--label", "com.docker.stack.namespace=rec-ml", "--label", "mlops.environment=production",
               "--constraint", "node.role==manager", "--restart-condition", "on-failure",
               "--restart-max-attempts", "3", "mlops/model:v1")
        names.append("rec-ml_llm")
        # Asks for more GPUs than the node has: pending with Swarm's own message.
        create("rec-big", "--replicas", "1", "--generic-resource", "NVIDIA-GPU=3", "mlops/model:v1")
        names.append("rec-big")
        create("rec-agent", "--mode", "global", "mlops/busybox:1")
        names.append("rec-agent")
        create("rec-fraud", "--replicas", "3", "--label", "version=v1", "mlops/model:v1")
        create("rec-fraud-canary", "--replicas", "1", "--label", "mlops.canary-of=rec-fraud",
               "--label", "version=v2", "mlops/model:v2")
        names += ["rec-fraud", "rec-fraud-canary"]
        # Update paused: the new spec's tasks exit at once, failure action pause.
        create("rec-paused", "--replicas", "1", "--update-failure-action", "pause",
               "--restart-condition", "none", "mlops/model:v1")
        names.append("rec-paused")
        # Rollback paused: the update fails and rolls back, and the rollback fails too (pause).
        # (The old spec's tasks live 5 s, so they pass the update but fail the 10 s rollback monitor.)
        create("rec-rbpaused", "--replicas", "1", "--update-failure-action", "rollback",
               "--rollback-failure-action", "pause", "--rollback-monitor", "10s",
               "mlops/model:v1", "sh", "-c", "sleep 5; exit 1")
        names.append("rec-rbpaused")
        # Blue-green on an overlay network: blue holds the alias.
        sh("network", "create", "--driver", "overlay", "--attachable", "rec-bg-net")
        create("rec-rank-blue", "--replicas", "2", "--label", "mlops.bluegreen=rec-rank", "--label", "mlops.color=blue",
               "mlops/model:v1", net=["--network", "name=rec-bg-net,alias=rec-rank"])
        create("rec-rank-green", "--replicas", "2", "--label", "mlops.bluegreen=rec-rank",
               "--label", "mlops.color=green", "mlops/model:v2", net=["--network", "rec-bg-net"])
        names += ["rec-rank-blue", "rec-rank-green"]

        wait("llm running", lambda: running(api, "rec-ml_llm") == 2)
        sh("service", "update", "--detach", "--image", "mlops/model:v2", "--no-resolve-image", "rec-ml_llm")
        wait("llm updated", lambda: update_state(api, "rec-ml_llm") == "completed" and running(api, "rec-ml_llm") == 2)
        wait("paused running", lambda: running(api, "rec-paused") == 1)
        sh("service", "update", "--detach", "--args", "false", "rec-paused")
        sh("service", "update", "--detach", "--args", "false", "rec-rbpaused")
        wait("update paused", lambda: update_state(api, "rec-paused") == "paused", 120)
        wait("rollback paused", lambda: update_state(api, "rec-rbpaused") == "rollback_paused", 120)
        wait("fleet running", lambda: all(running(api, n) == want for n, want in
                                          (("rec-fraud", 3), ("rec-fraud-canary", 1), ("rec-agent", 1),
                                           ("rec-rank-blue", 2), ("rec-rank-green", 2))))
        wait("big pending", lambda: any(t["Status"]["State"] == "pending" and t["Status"].get("Err")
                                        for t in api.tasks(filters={"service": "rec-big"})))

        ids = {s["ID"] for s in api.services(filters={"name": "rec-"})}
        services = [s for s in api.services(status=True) if s["ID"] in ids]
        tasks = [t for t in api.tasks() if t["ServiceID"] in ids]
        nodes = api.nodes()
        networks = [n for n in api.networks() if n["Name"] in ("rec-bg-net", "host", "ingress")]
        dump("services.json", services)
        dump("tasks.json", tasks)
        dump("nodes.json", nodes)
        dump("networks.json", networks)
        swarm = api.inspect_swarm()
        swarm.pop("JoinTokens", None)  # credentials: never recorded
        dump("swarm.json", swarm)
        discrete = copy.deepcopy(nodes)
        for node in discrete:
            node["Description"]["Resources"]["GenericResources"] = [
                {"DiscreteResourceSpec": {"Kind": "NVIDIA-GPU", "Value": 4}},
                {"DiscreteResourceSpec": {"Kind": "SSD", "Value": 3}},
            ]
        dump("nodes_discrete.json", discrete)
    finally:
        for name in names:
            sh("service", "rm", name, check=False)
        for _ in range(30):
            if not sh("network", "rm", "rec-bg-net", check=False) and "rec-bg-net" not in sh("network", "ls"):
                break
            time.sleep(1)


def dump(name: str, data) -> None:
    (HERE / name).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print("wrote", name)


if __name__ == "__main__":
    main()
