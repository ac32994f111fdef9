"""Cost over SSH: bytes/s the app writes to its terminal (120x40 pty), idle and under churn; its CPU.

Setup: one Kubernetes sim ("scaled": --services services x --pods pods, 200 GPU nodes) and an empty
Swarm sim (simulators in a child process), `mlops-tui` in a 120x40 pty, no metrics sources (so
"idle" means nothing changes anywhere). After every service is on screen and the app has been
quiet for 3 s:

  idle   --idle seconds: bytes written, frames, CPU time of the app process
  churn  --rate deployment changes/s (spec.replicas up and back, spread over every deployment) for
         --churn seconds: bytes/s, frames/s, bytes/frame, CPU
  demo   (with --demo) the demo topology started by sim.demo.start_demo (Prometheus, Alertmanager,
         the incident scenario): steady-state bytes/s and CPU with live metrics (not idle: data
         changes every scrape), for reference

Baseline, in the same windows and against the same simulator: `kubectl get deployments -A -w`
(what an operator runs to watch live), its bytes/s on a pipe and its CPU.
Targets: idle output <= 1 KB/s; idle CPU <= 2 % of a core.

    .venv/bin/python bench/ssh_cost.py [--idle 30] [--churn 20] [--rate 200] [--demo] [--write]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    FleetApp,
    command_line,
    kubectl,
    machine_line,
    stop_process,
    table,
    update_results,
    verdict,
    visible_rows,
)


class KubectlWatch:
    """`kubectl get deployments -A -w` on a pipe: bytes it writes, its CPU."""

    def __init__(self, kubeconfig: str, context: str) -> None:
        self.proc = subprocess.Popen(kubectl(kubeconfig, context, "get", "deployments", "-A", "-w"),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.bytes = 0
        self.lines: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            t = time.monotonic()
            with self._lock:
                self.bytes += len(line)
                self.lines.append((t, line))

    def count(self) -> int:
        with self._lock:
            return self.bytes

    def cpu(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        stop_process(self.proc)


def window(fa: FleetApp, watch: KubectlWatch | None, seconds: float) -> dict:
    app = fa.app
    assert app is not None
    c0, b0, k0, kc0 = app.cpu_seconds(), app.total_bytes, watch.count() if watch else 0, watch.cpu() if watch else 0
    t0 = time.monotonic()
    time.sleep(seconds)
    t1 = time.monotonic()
    c1, b1 = app.cpu_seconds(), app.total_bytes
    frames = app.frames_between(t0, t1)
    wall = t1 - t0
    out = {"wall": wall, "bytes_s": (b1 - b0) / wall, "cpu": (c1 - c0) / wall, "frames_s": len(frames) / wall,
           "bytes_frame": (b1 - b0) / len(frames) if frames else 0.0, "rss_kb": app.rss_kb()}
    if watch:
        out["kubectl_bytes_s"] = (watch.count() - k0) / wall
        out["kubectl_cpu"] = (watch.cpu() - kc0) / wall
    return out


def fmt_rate(b: float) -> str:
    return f"{b / 1024:,.2f} KB/s" if b >= 10 else f"{b:,.1f} B/s"


def pct(x: float) -> str:
    return f"{x * 100:.1f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--pods", type=int, default=10, help="pods per service")
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--churn", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--demo", action="store_true", help="also measure the demo topology with live metrics")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    kube = [{"name": "sim-a", "fleet": "scaled", "services": args.services, "pods_per_service": args.pods,
             "gpu_nodes": 200}]
    results: dict[str, dict] = {}
    with FleetApp(kube) as fa:
        app = fa.app
        assert app is not None and fa.sims is not None
        if app.wait_for(lambda s: len(visible_rows(s.lines())) >= 5, 120) is None:
            raise SystemExit("the services never appeared on screen")
        fa.wait_quiet(3.0, 120)
        watch = KubectlWatch(fa.sims.info["kubeconfig"], "sim-a")
        try:
            time.sleep(2.0)  # kubectl's initial list printed
            results["idle"] = window(fa, watch, args.idle)
            print(f"idle: {results['idle']}", flush=True)
            fa.sims.call("churn", rate=args.rate, duration=args.churn + 5)
            time.sleep(1.0)
            results["churn"] = window(fa, watch, args.churn)
            print(f"churn: {results['churn']}", flush=True)
            fa.sims.call("churn_stop")
            fa.sims.wait_event("churn_done", 30)
        finally:
            watch.stop()
        exit_info = app.stop()
    if args.demo:
        with FleetApp([], demo={"seed": 0, "scale": 1, "clusters": 1}) as fa:
            app = fa.app
            assert app is not None
            app.wait_for(lambda s: len(visible_rows(s.lines())) >= 3, 120)
            time.sleep(10.0)
            results["demo"] = window(fa, None, args.idle)
            print(f"demo: {results['demo']}", flush=True)

    idle, churn = results["idle"], results["churn"]
    kb = idle["kubectl_bytes_s"]
    rows = [
        ["idle: bytes/s to the terminal", fmt_rate(idle["bytes_s"]), fmt_rate(kb),
         f"{idle['bytes_s'] / kb:.2f}x" if kb > 0 else "n/a (kubectl wrote 0)", "<= 1 KB/s",
         verdict(idle["bytes_s"] <= 1024)],
        ["idle: CPU (share of one core)", pct(idle["cpu"]), pct(idle["kubectl_cpu"]),
         f"{idle['cpu'] / idle['kubectl_cpu']:.2f}x" if idle["kubectl_cpu"] > 0 else "n/a (kubectl 0)", "<= 2 %",
         verdict(idle["cpu"] <= 0.02)],
        ["idle: frames/s", f"{idle['frames_s']:.2f}", "", "", "", ""],
        [f"churn {args.rate:.0f}/s: bytes/s", fmt_rate(churn["bytes_s"]), fmt_rate(churn["kubectl_bytes_s"]),
         f"{churn['bytes_s'] / churn['kubectl_bytes_s']:.2f}x" if churn["kubectl_bytes_s"] else "n/a",
         "(no target)", ""],
        [f"churn {args.rate:.0f}/s: frames/s, bytes/frame", f"{churn['frames_s']:.1f}, "
         f"{churn['bytes_frame'] / 1024:.1f} KB", "", "", "(Fleet paces to <= 20/s under load)", ""],
        [f"churn {args.rate:.0f}/s: CPU", pct(churn["cpu"]), pct(churn["kubectl_cpu"]),
         f"{churn['cpu'] / churn['kubectl_cpu']:.2f}x" if churn["kubectl_cpu"] else "n/a", "(no target)", ""],
    ]
    if "demo" in results:
        d = results["demo"]
        rows.append(["demo topology (live metrics, incident scenario): bytes/s, CPU",
                     f"{fmt_rate(d['bytes_s'])}, {pct(d['cpu'])}", "", "", "(not idle: reference)", ""])
    out = table(["what", "mlops-tui", "`kubectl get deployments -A -w`", "ratio", "target", "met?"], rows)
    print(out)
    print(f"app exit: {exit_info}")
    if args.write:
        body = (f"`{command_line()}` ({machine_line()}; pty 120x40; one Kubernetes sim with {args.services} "
                f"services x {args.pods} pods, 200 GPU nodes; idle window {args.idle:.0f} s, churn window "
                f"{args.churn:.0f} s; kubectl on a pipe in the same windows)\n\n{out}\n")
        update_results("Cost over SSH (`bench/ssh_cost.py`)", body)


if __name__ == "__main__":
    main()
