"""Smoke run of the operator-benchmark harness (bench/harness.py) at a tiny scale.

Not a performance test: it checks that the harness measures what it claims (a frame is seen, the
services count on screen matches the simulator, a change made in the simulator reaches the screen,
CPU and memory of the app are read, the app quits on `q`), so the benchmarks' figures can be trusted.
"""

from __future__ import annotations

import re
import time

import pytest

from bench.harness import _TOKEN, KEYS, FleetApp, PtyApp, VirtualScreen, percentile, row_for, services_count

pytestmark = pytest.mark.integration


def feed(screen: VirtualScreen, text: str) -> None:
    for m in _TOKEN.finditer(text):
        screen.apply(m)


def test_the_virtual_screen_places_text_where_textual_moves_the_cursor() -> None:
    screen = VirtualScreen(20, 3)
    feed(screen, "\x1b[2;5H\x1b[1;38;2;1;2;3mhello\x1b[0m\x1b[3;1Hwide:界x")
    assert screen.lines()[1] == "    hello           "
    assert screen.lines()[2].startswith("wide:界x")
    assert screen.find("hello") == (1, 4)


def test_an_escape_sequence_split_across_reads_is_not_shown_as_text() -> None:
    app = PtyApp(["true"], cols=20, rows=2)
    app._feed("\x1b[1;1Hab\x1b[38;2;25", 0.0, 10)
    app._feed("5;0;0mcd", 0.0, 8)
    assert app.screen.lines()[0] == "abcd".ljust(20)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95) == 10
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50) == 5


def test_the_harness_sees_the_app_start_show_a_change_and_quit() -> None:
    pytest.importorskip("mlops_tui.sim.kube")
    kube = [{"name": "sim-a", "fleet": "scaled", "services": 20, "pods_per_service": 1, "gpu_nodes": 2,
             "extra": {"ready_delay": 0.1}}]
    with FleetApp(kube, cols=200, rows=50) as fa:
        app, sims = fa.app, fa.sims
        counts = sims.call("kube_count", cluster="sim-a", resources=["deployments", "rollouts", "inferenceservices"])
        expected = sum(counts.values())

        first = app.first_frame(30)
        assert first is not None and 0 < first - app.started < 30
        assert app.wait_for(lambda s: services_count(s.lines()) == expected, 30) is not None
        assert app.frames, "frames are recorded"
        assert any(f.synchronized for f in app.frames), "the harness answered DECRQM, so frames are synchronized"

        # the operator's view: scale a deployment in the cluster and see its READY cell change
        fa.wait_quiet(1.0, 20)
        lines = app.snapshot()
        deployments = {name: ns for ns, name in sims.call("kube_deployments", cluster="sim-a")["keys"]}
        rows = (row_for(lines, name, "sim-a") for name in deployments)
        deploys = [{**r, "ns": deployments[r["name"]]} for r in rows if r]
        assert deploys, "\n".join(lines)
        row = deploys[0]
        target = int(row["desired"]) + 2
        change = sims.call("kube_patch", cluster="sim-a", namespace=row["ns"], name=row["name"],
                           patch={"spec": {"replicas": target}})
        seen = app.wait_for(lambda s: (r := row_for(s.lines(), row["name"], "sim-a")) is not None
                            and int(r["desired"]) == target, 10, after=change["t"])
        assert seen is not None and 0 < seen - change["t"] < 10

        # a key press produces a frame; the app's CPU and memory are readable
        t = app.press("down")
        frame = app.next_frame(t, 5)
        assert frame is not None and frame >= t
        assert app.cpu_seconds() > 0
        assert 10_000 < app.rss_kb() <= app.hwm_kb()

        # idle: after the changes settle, the app writes (almost) nothing
        fa.wait_quiet(1.0, 20)
        before = app.total_bytes
        time.sleep(1.5)
        assert app.total_bytes - before < 2048

        info = app.stop()
        assert info.clean, info
        assert info.cpu_seconds > 0 and info.maxrss_kb > 10_000


def test_the_keys_the_benchmarks_press_are_terminal_sequences() -> None:
    assert KEYS["down"] == "\x1b[B"
    assert all(re.fullmatch(r"[\x1b\r\t\[\dA-Z~]+", seq) for seq in KEYS.values())


def _allowed_cpus(pid: int, tid: int | None = None) -> set[int]:
    path = f"/proc/{pid}/task/{tid}/status" if tid else f"/proc/{pid}/status"
    with open(path) as f:
        line = next(line for line in f if line.startswith("Cpus_allowed_list:"))
    cpus: set[int] = set()
    for part in line.split(":", 1)[1].strip().split(","):
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def test_the_simulators_standing_for_remote_engines_run_on_a_core_the_app_does_not_use() -> None:
    """startup.py and swarm_churn.py time the app's own work, not the simulators answering it."""
    import os

    every = os.sched_getaffinity(0)
    with FleetApp([], {"fleet": "demo"}, apart=True) as fa:
        sims, app = fa.sims, fa.app
        sim_cpus = {cpu for task in os.listdir(f"/proc/{sims.proc.pid}/task")
                    for cpu in _allowed_cpus(sims.proc.pid, int(task))}
        app_cpus = _allowed_cpus(app.pid)
        if len(every) >= 2:
            assert sim_cpus == {max(every)} and app_cpus == every - {max(every)}, fa.placement
            assert "simulators on CPU" in fa.placement
        else:
            assert sim_cpus == app_cpus == every and "share" in fa.placement
    assert os.sched_getaffinity(0) == every, "the test process has its cores back"


def test_the_first_frame_counter_starts_both_apps_to_their_first_frame() -> None:
    """bench/first_frame_instructions.py counts instructions up to the first frame and then ends each
    start: without valgrind (--dry), both starts must reach that frame and end there."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "bench" / "first_frame_instructions.py"
    done = subprocess.run([sys.executable, str(script), "--dry"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "every start reached its first frame" in done.stdout
