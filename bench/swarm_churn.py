"""Swarm at scale under churn: key press -> frame, and change -> changed cell, on the Swarm simulator.

Setup: one simulated Swarm (`sim/docker`, fleet "scaled": --services services x --replicas tasks)
and no Kubernetes in a child process; `mlops-tui --swarm` in a 200x50 pty (the READY column is
beyond the services pane's right edge at 120 columns). After the initial sync and 3 quiet seconds:

  idle   the baselines, same run: --presses presses of down/up (0.2-0.4 s apart), press -> the end
         of the next frame; and --changes replica changes to services whose rows are on screen
         (what `docker service scale` sends, made in the sim), change -> the frame after which the
         row's READY cell shows the new desired count
  churn  the same presses and changes while other services are scaled up and down so that the
         engine makes --rate changes/s (pace "objects": its version index delta, our service
         updates and the orchestrator's task creations, state moves and shutdowns together, as the
         Kubernetes churn counts resourceVersions; pace "updates": --rate service updates/s)

Freshness baseline, for the same changes at the same time: `docker events --filter type=service`
(the engine's own client, on a pipe): change -> the update event naming the service and the new
replica count.
Targets: key press -> frame p99 <= 100 ms and change -> cell p95 <= 250 ms, both under churn.

The simulated engine stands for a remote Swarm manager: it gets a core of its own and the app and
`docker events` share the other(s) (`--together` lets it share the app's cores, as the first
measurements did: at 200 changes/s its orchestrator alone keeps most of a core busy).

    .venv/bin/python bench/swarm_churn.py [--services 2000] [--replicas 5] [--rate 200] [--duration 30]
        [--together] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.churn import presses, selected_name
from bench.harness import (
    FleetApp,
    ReplicaEvents,
    command_line,
    machine_line,
    ms,
    percentile,
    ratio,
    services_count,
    table,
    update_results,
    verdict,
    visible_rows,
)

TIMEOUT = 10.0
DOCKER = shutil.which("docker") or "docker"


class DockerEventsWatch(ReplicaEvents):
    """`docker events --filter type=service --format '{{json .}}'`: (arrival, service, new replicas)."""

    def __init__(self, host: str) -> None:
        self.config = tempfile.TemporaryDirectory(prefix="bench-docker-")  # no operator config
        env = {**os.environ, "DOCKER_CONFIG": self.config.name}
        env.pop("DOCKER_HOST", None)
        super().__init__([DOCKER, "-H", host, "events", "--filter", "type=service", "--format", "{{json .}}"], env)

    def parse(self, line: str) -> tuple[str, int] | None:
        try:
            attrs = json.loads(line)["Actor"]["Attributes"]
        except (ValueError, KeyError, TypeError):
            return None
        if "replicas.new" not in attrs:
            return None
        return attrs.get("name", ""), int(attrs["replicas.new"])

    def stop(self) -> None:
        super().stop()
        self.config.cleanup()


def desired_on_screen(lines: list[str], name: str) -> int | None:
    for row in visible_rows(lines):
        if row["name"] == name:
            return int(row["desired"])
    return None


def changes(fa: FleetApp, watch: DockerEventsWatch, targets: list[dict], n: int, rng: random.Random,
            counts: dict[str, int]) -> tuple[list[float], list[float]]:
    app, sims = fa.app, fa.sims
    assert app is not None and sims is not None
    ours, theirs = [], []
    for i in range(n):
        row = targets[i % len(targets)]
        k = counts[row["name"]] = counts.get(row["name"], 0) + 1
        replicas = row["base"] + k % 3  # base+1, base+2, base, ...: always a different value
        t0 = sims.call("swarm_scale", service=row["name"], replicas=replicas)["t"]
        seen = app.wait_for(lambda s, name=row["name"], r=replicas: desired_on_screen(s.lines(), name) == r,
                            TIMEOUT, after=t0)
        ours.append((seen - t0) if seen else float("inf"))
        got = watch.wait(row["name"], replicas, t0, TIMEOUT)
        theirs.append((got - t0) if got else float("inf"))
        time.sleep(rng.uniform(0.2, 0.5))
    return ours, theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--replicas", type=int, default=5, help="tasks per service")
    parser.add_argument("--rate", type=float, default=200.0, help="engine changes per second (see --pace)")
    parser.add_argument("--pace", choices=("objects", "updates"), default="objects")
    parser.add_argument("--duration", type=float, default=30.0, help="churn seconds for the presses")
    parser.add_argument("--presses", type=int, default=30, help="idle presses (baseline)")
    parser.add_argument("--changes", type=int, default=40, help="measured replica changes per phase")
    parser.add_argument("--cols", type=int, default=200)
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--together", action="store_true", help="the simulator shares the app's cores")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rng = random.Random(7)
    swarm = {"fleet": "scaled", "services": args.services, "replicas": args.replicas}
    with FleetApp([], swarm, cols=args.cols, rows=args.rows, apart=not args.together) as fa:
        app, sims = fa.app, fa.sims
        assert app is not None and sims is not None
        t_start = app.started
        if app.wait_for(lambda s: services_count(s.lines()) == args.services and selected_name(s.lines()),
                        600) is None:
            raise SystemExit("the services never appeared on screen")
        synced = time.monotonic() - t_start
        fa.wait_quiet(3.0, 120)
        # Order by name (`N`): the default trouble-first order moves churned rows up and pushes the
        # measured ones off screen, where no cell can be seen changing.
        app.press("N")
        if app.wait_for(lambda s: "NAME▲" in s.text(), 10) is None:
            raise SystemExit("the services did not sort by name")
        fa.wait_quiet(1.0, 60)
        targets = [{"name": r["name"], "base": int(r["desired"])} for r in visible_rows(app.snapshot())]
        if len(targets) < 5:
            raise SystemExit("fewer than 5 service rows on screen")
        watch = DockerEventsWatch(sims.info["swarm"])
        counts: dict[str, int] = {}
        try:
            time.sleep(1.0)
            idle_frame, _ = presses(fa, args.presses, rng)
            idle_fresh = changes(fa, watch, targets, args.changes, rng, counts)
            print(f"idle: key->frame p99 {ms(percentile(idle_frame, 99))}, "
                  f"change->cell p95 {ms(percentile(idle_fresh[0], 95))}", flush=True)
            sims.call("swarm_churn", rate=args.rate, pace=args.pace, exclude=[t["name"] for t in targets])
            time.sleep(2.0)
            cpu0, t0, th0, rss0 = app.cpu_seconds(), time.monotonic(), app.thread_cpu(), app.rss_kb()
            churn_frame, _ = presses(fa, 0, rng, until=t0 + args.duration)
            churn_fresh = changes(fa, watch, targets, args.changes, rng, counts)
            cpu1, t1, th1, rss1 = app.cpu_seconds(), time.monotonic(), app.thread_cpu(), app.rss_kb()
            sims.call("churn_stop")
            done = sims.wait_event("swarm_churn_done", 60) or {}
            frames = app.frames_between(t0, t1)
        finally:
            watch.stop()
        app.stop()
    secs = max(done.get("seconds", 1.0), 1e-9)
    cpu = (cpu1 - cpu0) / (t1 - t0)
    main_cpu = (th1.get(app.pid, 0) - th0.get(app.pid, 0)) / (t1 - t0)
    f99, i99 = percentile(churn_frame, 99), percentile(idle_frame, 99)
    c95, ci95 = percentile(churn_fresh[0], 95), percentile(churn_fresh[1], 95)
    i95, ii95 = percentile(idle_fresh[0], 95), percentile(idle_fresh[1], 95)
    rows = [
        ["key press -> next frame", ms(percentile(churn_frame, 50)), ms(f99),
         f"same presses, no churn: p50 {ms(percentile(idle_frame, 50))}, p99 {ms(i99)}", ratio(f99, i99),
         "p99 <= 100 ms", verdict(f99 <= 0.1)],
        ["change -> changed cell on screen", ms(percentile(churn_fresh[0], 50)), ms(percentile(churn_fresh[0], 99)),
         f"`docker events` p50 {ms(percentile(churn_fresh[1], 50))}, p95 {ms(ci95)}", ratio(c95, ci95),
         f"p95 <= 250 ms (ours p95 {ms(c95)})", verdict(c95 <= 0.25)],
        ["change -> cell, no churn", ms(percentile(idle_fresh[0], 50)), ms(percentile(idle_fresh[0], 99)),
         f"`docker events` p50 {ms(percentile(idle_fresh[1], 50))}, p95 {ms(ii95)}", ratio(i95, ii95),
         f"(reference; ours p95 {ms(i95)})", ""],
    ]
    out = table(["under churn", "ours p50", "ours p99", "baseline (same run)", "ratio (p99 keys, p95 cells)",
                 "target", "met?"], rows)
    extra = table(["churn window", "value"], [
        ["engine changes/s (version index delta)", f"{done.get('object_changes', 0) / secs:,.0f}"],
        ["service replica updates/s sent to cause them", f"{done.get('updates', 0) / secs:,.1f}"],
        ["presses measured (idle, churn); changes measured per phase", f"{len(idle_frame)}, {len(churn_frame)}; "
                                                                      f"{args.changes}"],
        ["start -> every service on screen", f"{synced:,.1f} s"],
        ["app CPU (share of one core)", f"{cpu * 100:.0f} %"],
        ["of which the main thread (Textual's event loop)", f"{main_cpu * 100:.0f} %"],
        ["of which the other threads (events, sync, translation, Fleet)", f"{(cpu - main_cpu) * 100:.0f} %"],
        ["frames/s written", f"{len(frames) / (t1 - t0):.1f}"],
        ["app RSS at start -> end of the window", f"{rss0 / 1024:.0f} -> {rss1 / 1024:.0f} MB"],
    ])
    print(out)
    print(extra)
    if args.write:
        body = (f"`{command_line()}` ({machine_line()}; pty {args.cols}x{args.rows}; one simulated Swarm "
                f"(`sim/docker`) with {args.services:,} services x {args.replicas} tasks, no Kubernetes; "
                f"{fa.placement}; churn "
                f"paced by {args.pace}; baselines in the same run: the same presses before the churn, and "
                f"`docker events --filter type=service` on a pipe for the same replica changes)\n\n{out}\n\n{extra}\n")
        update_results("Swarm at scale under churn (`bench/swarm_churn.py`)", body)


if __name__ == "__main__":
    main()
