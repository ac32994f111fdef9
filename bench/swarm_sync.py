"""Full resync of the Swarm backend against the docker CLI, on the real Swarm, in the same run.

Creates `--services` services of `--replicas` tasks each (prefix `bench-swarm-`). The first `--running`
services run real containers; the others carry a placement constraint no node satisfies, so their
tasks exist in the Swarm (the API lists them, `docker service ps` prints them) but stay pending without a
container: a 2-core VM shared with other jobs cannot host 1,000 containers. Then measures, best and
median of `--runs`:

  cli    `docker service ls --filter name=bench-swarm-` + `docker service ps <every bench service>`
         (the engine's own CLI, /usr/bin/docker, output to a pipe)
  ours   `SwarmBackend.full_resync()`: GET /services?status=true, GET /tasks, GET /nodes, translated
         to the model (services, canary/blue-green pairs, GPU nodes, GPU-pending tasks)

and prints the ratio. Everything it created is removed at the end.

    .venv/bin/python bench/swarm_sync.py [--services 200] [--replicas 5] [--running 40] [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402
from docker.types import ContainerSpec, Placement, ServiceMode, TaskTemplate  # noqa: E402

from mlops_tui.backends.swarm.client import SwarmEndpoint  # noqa: E402
from mlops_tui.backends.swarm.watch import SwarmBackend  # noqa: E402

DOCKER = "/usr/bin/docker"
PREFIX = "bench-swarm-"


def create(api, services: int, replicas: int, running: int) -> list[str]:
    names = []
    for i in range(services):
        name = f"{PREFIX}{i:03d}"
        container = ContainerSpec(image="mlops/model:v1", init=True, stop_grace_period=1_000_000_000)
        placement = None if i < running else Placement(constraints=["node.labels.bench-nowhere==1"])
        template = TaskTemplate(container_spec=container, placement=placement, networks=["host"])
        api.create_service(template, name=name, mode=ServiceMode("replicated", replicas),
                           labels={"mlops.bench": "swarm-sync", "version": "v1"})
        names.append(name)
    return names


def task_count(api) -> tuple[int, int]:
    ids = {s["ID"] for s in api.services(filters={"name": PREFIX})}
    ours = [t for t in api.tasks(filters={"desired-state": "running"}) if t["ServiceID"] in ids]
    return len(ours), sum(1 for t in ours if t["Status"]["State"] == "running")


def cleanup(api) -> None:
    for svc in api.services(filters={"name": PREFIX}):
        with contextlib.suppress(docker.errors.APIError):
            api.remove_service(svc["ID"])


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--replicas", type=int, default=5)
    parser.add_argument("--running", type=int, default=40)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    api = docker.APIClient(base_url="unix:///var/run/docker.sock", version="auto", timeout=60)
    cleanup(api)
    try:
        t0 = time.perf_counter()
        names = create(api, args.services, args.replicas, args.running)
        want_running = args.running * args.replicas
        want_tasks = args.services * args.replicas
        deadline = time.monotonic() + 600
        while True:
            total, up = task_count(api)
            if (total >= want_tasks and up >= want_running) or time.monotonic() > deadline:
                break
            time.sleep(2)
        print(f"created {len(names)} services, {total} tasks ({up} running containers, {total - up} pending) "
              f"in {time.perf_counter() - t0:.0f}s", flush=True)

        backend = SwarmBackend(SwarmEndpoint(url="unix:///var/run/docker.sock"), name="bench", timeout=60)
        view = backend.full_resync()  # warm: the SDK import and the connection
        ours_names = [k.name for k in view.services if k.name.startswith(PREFIX)]
        assert len(ours_names) == len(names), (len(ours_names), len(names))

        def cli() -> None:
            subprocess.run([DOCKER, "service", "ls", "--filter", f"name={PREFIX}"], check=True,
                           capture_output=True)
            subprocess.run([DOCKER, "service", "ps", *names], check=True, capture_output=True)

        cli()  # warm
        # Interleave so that load from other jobs on the VM hits both alike.
        cli_times: list[float] = []
        ours_times: list[float] = []
        for _ in range(args.runs):
            cli_times += timed(cli, 1)
            ours_times += timed(backend.full_resync, 1)
        backend.stop()
        total, up = task_count(api)
        best_cli, best_ours = min(cli_times), min(ours_times)
        med_cli, med_ours = statistics.median(cli_times), statistics.median(ours_times)
        print(f"swarm: {len(names)} bench services, {total} tasks ({up} running), every service in the Swarm "
              f"resynced by ours ({len(view.services)} services)")
        print(f"{'path':<58} {'best':>9} {'median':>9}")
        label = f"cli: docker service ls + docker service ps <{len(names)} services>"
        print(f"{label:<58} {best_cli * 1000:8.0f}ms "
              f"{med_cli * 1000:8.0f}ms")
        print(f"{'ours: SwarmBackend.full_resync() (3 GETs + translate)':<58} {best_ours * 1000:8.0f}ms "
              f"{med_ours * 1000:8.0f}ms")
        print(f"ratio cli/ours: best {best_cli / best_ours:.1f}x, median {med_cli / med_ours:.1f}x")
    finally:
        cleanup(api)
        print("removed the bench services", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
