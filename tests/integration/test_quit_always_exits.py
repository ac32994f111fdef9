"""The operator presses q and gets the prompt back, always: a connection that never lets go while the
app stops (a socket no one answers, a join without a timeout) ends in a crash report with every
thread's stack, not in a terminal that shows nothing and never returns. Real processes, a real
terminal."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from tests.integration.terminal import REPO

STUCK_ON_STOP = textwrap.dedent("""
    import sys, threading
    from pathlib import Path
    from mlops_tui.backends.fleet import Fleet
    from mlops_tui.tui.cli import run_dashboard
    from mlops_tui.tui.config import Settings
    from tests.fakes import InMemoryBackend, service

    class StuckOnStop(InMemoryBackend):
        def stop(self):
            threading.Event().wait()  # a connection that never closes

    def build(settings):
        backend = StuckOnStop()
        backend.upsert(service("bert-mig"))
        fleet = Fleet()
        fleet.add_backend(backend)
        return fleet

    state = Path(sys.argv[1])
    sys.exit(run_dashboard(Settings(audit_log=str(state / "audit.jsonl")), build, exit_grace=3, crash_dir=state))
""")


def test_q_ends_the_app_even_when_a_connection_never_closes(tmp_path, terminal):
    terminal.start([sys.executable, "-c", STUCK_ON_STOP, str(tmp_path)],
                   {"TERM": "xterm-256color"}, cwd=REPO)
    terminal.wait_for("bert-mig", timeout=90)
    terminal.wait_for("prod-a connected", timeout=60)
    terminal.keys("q")
    # Within the grace (3 s) and the test's patience: the status the quit would have had.
    assert terminal.exit_status(timeout=60) == "0"
    assert "a connection did not close within 3 s of quitting" in terminal.history()
    (report,) = tmp_path.glob("crash-*.txt")
    stacks = report.read_text()
    assert "the app had not exited 3 s after it began to" in stacks
    assert "in on_unmount\n    self.fleet.stop()" in stacks and "in stop\n" in stacks  # where it was stuck


def test_the_interpreters_own_shutdown_is_bounded_too(tmp_path):
    """After the app's run: a non-daemon thread that never ends would hold the interpreter's exit."""
    script = textwrap.dedent("""
        import sys, threading
        from pathlib import Path
        from mlops_tui.tui.exit_guard import ExitGuard
        threading.Thread(target=threading.Event().wait, name="never-ends").start()
        ExitGuard(lambda: 0, Path(sys.argv[1]), grace=1).arm()
    """)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "did not close within 1 s" in done.stderr
    (report,) = tmp_path.glob("crash-*.txt")
    assert "thread 'never-ends' (non-daemon)" in report.read_text()
    assert time.monotonic() - started < 60
