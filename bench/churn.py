"""Responsiveness under churn: key press -> frame latency, CPU share and RSS growth of the app.

Setup: one Kubernetes sim ("scaled": --services services x --pods pods, 200 GPU nodes) and an empty
Swarm sim in a child process; `mlops-tui` in a 120x40 pty. After the initial sync and 3 quiet
seconds:

  idle   (the baseline, same run) --presses presses of down/up (alternating, so the cursor stays
         on screen), 0.2-0.4 s apart: press -> the end of the next frame, and press -> the frame
         where the latency pane shows the newly selected service's name
  churn  the same presses while deployments are scaled up and down so that the cluster makes
         --rate object changes/s in all (store resourceVersion delta: our patches plus the
         simulated controllers' reactions), for --duration seconds; CPU time of the app over the
         window (share of one core), RSS at the start and end of the window, peak RSS (VmHWM)

Target: key press -> frame p99 <= 100 ms under churn.

    .venv/bin/python bench/churn.py [--duration 20] [--rate 200] [--services 5000] [--write]
    full run: --duration 60

`--probe FILE` runs the app under bench/memprobe.py (live Python blocks and pymalloc's arenas every 10 s,
`malloc_trim` at the end: does RSS growth come from objects held or from the allocator?); with `--trace`,
tracemalloc snapshots at the window's start and end are compared by line (pymalloc's own figures are
then missing: tracemalloc hooks the allocator).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    FleetApp,
    command_line,
    machine_line,
    ms,
    percentile,
    ratio,
    services_count,
    table,
    update_results,
    verdict,
)
from bench.soak import print_probe

SELECTED = re.compile(r"(?:^|│) ?(\S+): no latency series")


def selected_name(lines: list[str]) -> str | None:
    for line in lines:
        m = SELECTED.search(line.split("││", 1)[-1] if "││" in line else line)
        if m:
            return m.group(1)
    return None


def presses(fa: FleetApp, n: int, rng: random.Random, until: float | None = None) -> tuple[list, list]:
    app = fa.app
    assert app is not None
    to_frame, to_selection = [], []
    i = 0
    while (until is None and i < n) or (until is not None and time.monotonic() < until):
        before = selected_name(app.snapshot())
        t = app.press("down" if i % 2 == 0 else "up")
        frame = app.next_frame(t, 5.0)
        to_frame.append((frame - t) if frame else float("inf"))
        shown = app.wait_for(lambda s, b=before: (x := selected_name(s.lines())) is not None and x != b, 5.0, after=t)
        to_selection.append((shown - t) if shown else float("inf"))
        i += 1
        time.sleep(rng.uniform(0.2, 0.4))
    return to_frame, to_selection


def sample_rss(app, t0: float, duration: float, out: list[tuple[float, int]]) -> None:
    while (elapsed := time.monotonic() - t0) <= duration + 0.5:
        out.append((elapsed, app.rss_kb()))
        time.sleep(max(0.0, 10.0 * len(out) - (time.monotonic() - t0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=2, help="pods per service")
    parser.add_argument("--rate", type=float, default=200.0, help="object changes per second (all kinds)")
    parser.add_argument("--duration", type=float, default=20.0, help="churn seconds (issue 9 asks for 60)")
    parser.add_argument("--presses", type=int, default=30, help="idle presses (baseline)")
    parser.add_argument("--probe", default="", help="run the app under bench/memprobe.py; its JSON lines go here")
    parser.add_argument("--trace", action="store_true", help="with --probe: tracemalloc snapshots at the window's "
                                                             "start and end, compared")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rng = random.Random(5)
    launcher = None
    if args.probe:
        Path(args.probe).unlink(missing_ok=True)
        os.environ.update(MLOPS_MEMPROBE=os.path.abspath(args.probe), MLOPS_MEMPROBE_TRACE="1" if args.trace else "0")
        launcher = [sys.executable, str(Path(__file__).resolve().parent / "memprobe.py")]

    def probe(what: str, number: int) -> None:
        if args.probe:
            Path(f"{os.path.abspath(args.probe)}.cmd.{number:04d}.{what}").touch()
    kube = [{"name": "sim-a", "fleet": "scaled", "services": args.services, "pods_per_service": args.pods,
             "gpu_nodes": 200}]
    with FleetApp(kube, launcher=launcher) as fa:
        app, sims = fa.app, fa.sims
        assert app is not None and sims is not None
        c = sims.call("kube_count", cluster="sim-a", resources=["deployments", "rollouts", "inferenceservices"])
        expected = c["deployments"] + c["rollouts"] + c["inferenceservices"]
        if app.wait_for(lambda s: services_count(s.lines()) == expected and selected_name(s.lines()), 300) is None:
            raise SystemExit("the services never appeared on screen")
        fa.wait_quiet(3.0, 120)
        idle_frame, idle_sel = presses(fa, args.presses, rng)
        print(f"idle: p99 {ms(percentile(idle_frame, 99))}", flush=True)
        probe("snapshot", 1)
        rss0, cpu0, t0, th0 = app.rss_kb(), app.cpu_seconds(), time.monotonic(), app.thread_cpu()
        rss_samples: list[tuple[float, int]] = []  # growth or warm-up? RSS every 10 s of the window
        sampler = threading.Thread(target=sample_rss, args=(app, t0, args.duration, rss_samples), daemon=True)
        sampler.start()
        sims.call("churn", rate=args.rate, duration=args.duration, field="replicas")
        churn_frame, churn_sel = presses(fa, 0, rng, until=t0 + args.duration)
        sampler.join()
        cpu1, t1, rss1, hwm, th1 = app.cpu_seconds(), time.monotonic(), app.rss_kb(), app.hwm_kb(), app.thread_cpu()
        main_cpu = (th1.get(app.pid, 0) - th0.get(app.pid, 0)) / (t1 - t0)
        done = sims.wait_event("churn_done", 60) or {}
        if args.probe:  # the window's end, then memory the app no longer holds handed back (high-water?)
            probe("snapshot", 2)
            probe("trim", 3)
            time.sleep(10.0)  # the probe looks every 0.5 s; a tracemalloc dump of ~1M blocks takes seconds
        frames = app.frames_between(t0, t1)
        exit_info = app.stop()
    secs = max(done.get("seconds", 1.0), 1e-9)
    obj_rate = done.get("object_changes", 0) / secs
    cpu = (cpu1 - cpu0) / (t1 - t0)
    f99, i99 = percentile(churn_frame, 99), percentile(idle_frame, 99)
    s99, is99 = percentile(churn_sel, 99), percentile(idle_sel, 99)
    rows = [
        ["key press -> next frame", ms(percentile(churn_frame, 50)), ms(f99), ms(percentile(idle_frame, 50)),
         ms(i99), ratio(f99, i99), "p99 <= 100 ms", verdict(f99 <= 0.1)],
        ["key press -> new selection on screen", ms(percentile(churn_sel, 50)), ms(s99),
         ms(percentile(idle_sel, 50)), ms(is99), ratio(s99, is99), "(no target)", ""],
    ]
    out = table(["under churn", "churn p50", "churn p99", "idle p50", "idle p99", "p99 churn / idle", "target",
                 "met?"], rows)
    extra = table(["churn window", "value"], [
        ["object changes/s made by the cluster (store resourceVersion delta)", f"{obj_rate:,.0f}"],
        ["deployment scale patches/s sent to cause them", f"{done.get('changes', 0) / secs:,.1f}"],
        ["presses measured (idle, churn)", f"{len(idle_frame)}, {len(churn_frame)}"],
        ["app CPU (share of one core)", f"{cpu * 100:.0f} %"],
        ["of which the main thread (Textual's event loop: panes, tables, compositor)", f"{main_cpu * 100:.0f} %"],
        ["of which the other threads (watches, translation, Fleet)", f"{(cpu - main_cpu) * 100:.0f} %"],
        ["frames/s written", f"{len(frames) / (t1 - t0):.1f}"],
        ["app RSS at start -> end of the window (growth)", f"{rss0 / 1024:.0f} -> {rss1 / 1024:.0f} MB "
                                                           f"({(rss1 - rss0) / 1024:+.0f} MB)"],
        ["app peak RSS (VmHWM)", f"{hwm / 1024:.0f} MB"],
        ["app RSS every 10 s of the window", ", ".join(f"{kb / 1024:.0f}" for _t, kb in rss_samples) + " MB"],
    ])
    print(out)
    print(extra)
    print(f"app exit: {exit_info}")
    if args.probe:
        print_probe(args.probe)
    if args.write:
        body = (f"`{command_line()}` ({machine_line()}; pty 120x40; one Kubernetes sim with {args.services} "
                f"services x {args.pods} pods, 200 GPU nodes; churn {args.duration:.0f} s; baseline = the same "
                f"presses before the churn, same run)\n\n{out}\n\n{extra}\n")
        update_results("Responsiveness under churn (`bench/churn.py`)", body)


if __name__ == "__main__":
    main()
