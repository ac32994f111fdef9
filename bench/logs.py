"""The log view under a flood: key press -> the frame that shows its effect, while 2,000 lines a second
stream in, against the same presses with the stream idle (the baseline, same run); and the bytes the
app writes to the terminal meanwhile (bounded: the view redraws at most 10 times a second).

    .venv/bin/python bench/logs.py [--rate 2000] [--presses 30] [--write]

The app runs in a pseudo-terminal (bench/harness.py `PtyApp`) on a one-service fleet whose backend
streams generated request lines (4 pods) once the bench tells it to (a trigger file). The key is `w`
(wrap on/off): its effect is the status line's `wrap` / `no wrap`, so each press is timed to the
frame that shows it, not merely to the next drain's frame.

Target: key -> frame p99 <= 100 ms at 2,000 lines/s.

Diagnostics (not written to RESULTS.md): `BENCH_TIMES=file` writes the app's drain, action, layout
and frame times (p50/p90/max/sum) to `file` when it exits; `BENCH_PROFILE=file` a cProfile of its
main thread.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import PtyApp, isolated_env, machine_line, ms, percentile, ratio, table, update_results, verdict

TARGET = 0.100


def app_main(trigger: str, rate: int, state: str) -> int:
    """The app side (run in the pty): a fleet of one service whose pods print `rate` lines a second
    in all once `trigger` exists."""
    from mlops_tui.backends.base import Change, ChangeSink
    from mlops_tui.backends.fleet import Fleet
    from mlops_tui.backends.model import (
        ClusterRef,
        LogLine,
        LogOptions,
        LogSources,
        ModelService,
        Platform,
        ServiceKey,
        ServiceKind,
    )
    from mlops_tui.tui.cli import run_dashboard
    from mlops_tui.tui.config import Settings

    pods = tuple(f"flood-model-7d4-{suffix}" for suffix in ("abc12", "def34", "ghi56", "jkl78"))
    service = ModelService(ServiceKey("bench", "ml-prod", ServiceKind.DEPLOYMENT, "flood-model"), Platform.K8S,
                           image="proptechusa/flood-model:v1", desired=4, ready=4, updated=4)

    class Flood:
        name = "bench"
        cluster = ClusterRef("bench", Platform.K8S, "https://bench.example:6443")

        def start(self, sink: ChangeSink) -> None:
            sink(Change(source=self.name, services={service.key: service}, snapshot=True))

        def stop(self) -> None:
            pass

        def log_sources(self, _service: ModelService) -> LogSources:
            return LogSources(replicas=pods, containers=("kserve-container",), previous=True)

        def stream_logs(self, _service: ModelService, options: LogOptions, on_line, on_status,
                        stop: threading.Event) -> None:
            on_status("")
            n = 0
            started = None
            while not stop.wait(0.01):
                if not os.path.exists(trigger):
                    continue
                started = started or time.monotonic()
                due = int((time.monotonic() - started) * rate)
                while n < due:
                    n += 1
                    on_line(LogLine(pods[n % 4], f'INFO:     10.244.1.{n % 250}:{40000 + n % 20000} - "POST '
                                                 f'/v1/models/flood-model:predict HTTP/1.1" 200 latency_ms={n % 97}.3'))

    def build(_settings: Settings) -> Fleet:
        return Fleet([Flood()])

    if os.environ.get("BENCH_TIMES"):  # diagnostics: how long drains, layouts and frames take in the app
        import atexit

        from textual.screen import Screen

        from mlops_tui.tui.screens.logs import LogScreen
        times: dict[str, list[float]] = {}

        def timed(cls, name):
            original = getattr(cls, name)

            def wrapper(*a, **k):
                t = time.perf_counter()
                try:
                    return original(*a, **k)
                finally:
                    times.setdefault(name, []).append(time.perf_counter() - t)
            setattr(cls, name, wrapper)
        timed(LogScreen, "drain")
        timed(LogScreen, "action_wrap")
        timed(Screen, "_compositor_refresh")
        timed(Screen, "_refresh_layout")

        def dump():
            with open(os.environ["BENCH_TIMES"], "w") as out:
                for name, values in times.items():
                    values.sort()
                    out.write(f"{name} n={len(values)} p50={values[len(values)//2]*1000:.1f}ms "
                              f"p90={values[int(len(values)*.9)]*1000:.1f}ms max={values[-1]*1000:.1f}ms "
                              f"sum={sum(values):.2f}s\n")
        atexit.register(dump)
    if os.environ.get("BENCH_PROFILE"):  # where the main thread's time goes (diagnostics only)
        import cProfile

        profile = cProfile.Profile()
        try:
            return profile.runcall(run_dashboard, Settings(audit_log=str(Path(state) / "audit.jsonl")), build)
        finally:
            profile.dump_stats(os.environ["BENCH_PROFILE"])
    return run_dashboard(Settings(audit_log=str(Path(state) / "audit.jsonl")), build)


def presses(app: PtyApp, n: int) -> list[float]:
    """`w` n times; each timed from the write to the frame whose status line shows the new state."""
    out = []
    for _ in range(n):
        wrapped = app.screen.find("· wrap") is not None
        want = "· no wrap" if wrapped else "· wrap"
        t = app.press("w")
        shown = app.wait_for_text(want, 5.0, after=t)
        out.append(shown - t if shown is not None else float("inf"))
        time.sleep(0.15)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=2000, help="lines a second streamed in")
    parser.add_argument("--presses", type=int, default=30)
    parser.add_argument("--write", action="store_true", help="write the figures into bench/RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        trigger = str(Path(home) / "stream")
        argv = [sys.executable, __file__, "app", trigger, str(args.rate), home]
        with PtyApp(argv, env=isolated_env(home)) as app:
            assert app.wait_for_text("flood-model", 60), "the dashboard did not show the service"
            app.press("l")
            assert app.wait_for_text("Logs of flood-model", 20), "l did not open the log view"
            assert app.wait_for_text("no wrap", 10)
            idle = presses(app, args.presses)
            Path(trigger).touch()
            assert app.wait_for_text("flood-model-7d4", 10), "no line arrived"
            time.sleep(2.0)
            t0, cpu0 = time.monotonic(), app.cpu_seconds()
            flood = presses(app, args.presses)
            t1, cpu1 = time.monotonic(), app.cpu_seconds()
            written = app.bytes_between(t0, t1)
            frames = app.frames_between(t0, t1)
            rss = app.rss_kb()
            if os.environ.get("BENCH_DEBUG"):
                print("\n".join(app.snapshot()))
    p99, base99 = percentile(flood, 99), percentile(idle, 99)
    out = table(["", f"{args.rate:,} lines/s p50", "p99", "idle p50", "idle p99", "p99 vs idle", "target",
                 "verdict"], [
        ["key (`w`) -> the frame showing its effect", ms(percentile(flood, 50)), ms(p99),
         ms(percentile(idle, 50)), ms(base99), ratio(p99, base99), ms(TARGET), verdict(p99 <= TARGET)],
    ])
    extra = table(["while streaming", "value"], [
        ["presses measured (idle, streaming)", f"{len(idle)}, {len(flood)}"],
        ["bytes written to the terminal", f"{written / (t1 - t0) / 1024:,.0f} KiB/s"],
        ["frames/s written", f"{len(frames) / (t1 - t0):.1f}"],
        ["app CPU (share of one core)", f"{(cpu1 - cpu0) / (t1 - t0) * 100:.0f} %"],
        ["app RSS at the end", f"{rss / 1024:.0f} MB"],
    ])
    print(out)
    print(extra)
    if args.write:
        command = f".venv/bin/python bench/logs.py --rate {args.rate} --presses {args.presses} --write"
        update_results("Log view under a flood (`bench/logs.py`)",
                       f"`{command}` ({machine_line()}; pty 120x40; 4 pods, 10,000-line buffer; baseline = the "
                       f"same presses before the stream starts, same run)\n\n{out}\n\n{extra}\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "app":
        sys.exit(app_main(sys.argv[2], int(sys.argv[3]), sys.argv[4]))
    main()
