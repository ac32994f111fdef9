"""`python -m mlops_tui.sim --out DIR ...`: start the simulated engines, write DIR/kubeconfig, print `ready`, serve
until SIGTERM/SIGINT.

Each engine is a *starter*: a function that adds its options to the parser and, given the parsed
arguments and DIR, starts its servers and returns the objects to stop. To add an engine (Swarm,
Prometheus, Alertmanager), write one starter and append it to STARTERS."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol


class Stoppable(Protocol):
    def stop(self) -> None: ...


class Starter(Protocol):
    name: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def start(self, args: argparse.Namespace, out: Path) -> Sequence[Stoppable]: ...


class KubeStarter:
    """Kubernetes API server simulators: `--clusters` of them, contexts sim-1..N in DIR/kubeconfig."""

    name = "kube"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("kubernetes")
        group.add_argument("--clusters", type=int, default=1, help="simulated clusters (default 1)")
        group.add_argument("--fleet", choices=("demo", "scaled", "empty"), default=None,
                           help="seeded fleet (default: demo, or scaled when --services is given)")
        group.add_argument("--services", type=int, default=None, help="services per cluster (scaled fleet)")
        group.add_argument("--pods-per-service", type=int, default=10)
        group.add_argument("--gpu-nodes", type=int, default=200)
        group.add_argument("--cpu-nodes", type=int, default=0)
        group.add_argument("--ready-delay", type=float, default=1.0, help="seconds until a new pod is Ready")

    def start(self, args: argparse.Namespace, out: Path) -> Sequence[Stoppable]:
        from mlops_tui.sim.kube import SimKubeCluster, write_kubeconfig

        fleet = args.fleet or ("scaled" if args.services else "demo")
        clusters = []
        try:
            for i in range(args.clusters):
                clusters.append(SimKubeCluster.start(
                    name=f"sim-{i + 1}", seed=args.seed + i, fleet=fleet, services=args.services or 2000,
                    pods_per_service=args.pods_per_service, gpu_nodes=args.gpu_nodes, cpu_nodes=args.cpu_nodes,
                    ready_delay=args.ready_delay))
        except BaseException:
            for c in clusters:
                c.stop()
            raise
        write_kubeconfig(out / "kubeconfig", clusters)
        self.clusters = clusters  # the engines starter's scenario drives them
        return clusters


def _starters() -> list[Starter]:
    from mlops_tui.sim.demo import EnginesStarter  # Swarm, Prometheus, Alertmanager and the scenario

    kube = KubeStarter()
    return [kube, EnginesStarter(kube)]


STARTERS: list[Starter] = _starters()


def until_set(done: threading.Event, tick: float = 0.5) -> None:
    """`done.wait()` in slices. A signal may be handed to any thread of the process (after SIGSTOP and
    SIGCONT it mostly went to another one): Python then runs its handler only when the main thread
    next runs Python code, and one wait without a timeout never returns to it."""
    while not done.wait(tick):
        pass


def main(argv: list[str] | None = None, starters: list[Starter] | None = None,
         wait: Callable[[], Any] | None = None) -> int:
    starters = STARTERS if starters is None else starters
    parser = argparse.ArgumentParser(prog="python -m mlops_tui.sim", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="directory for kubeconfig and other client files")
    parser.add_argument("--seed", type=int, default=1)
    for starter in starters:
        starter.add_arguments(parser)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    running: list[Stoppable] = []
    try:
        for starter in starters:
            running.extend(starter.start(args, args.out))
        print("ready", flush=True)
        (wait or (lambda: until_set(done)))()
    finally:
        for server in reversed(running):
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
