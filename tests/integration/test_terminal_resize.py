"""The real app in a pseudo-terminal: after the terminal is resized, the screen is drawn in full again.

The app sends only the cells a terminal does not show already (tui/terminal_output.py); a terminal may
clear or reflow its screen when resized, so after a resize that knowledge must go. The terminal model
here clears on every resize (as some terminals do), so a cell the app skipped would stay blank."""

from __future__ import annotations

import fcntl
import struct
import termios
import time

import pytest

from bench.harness import FleetApp, visible_rows

pytestmark = pytest.mark.integration


def test_after_a_resize_that_cleared_the_terminal_the_whole_screen_is_drawn_again() -> None:
    pytest.importorskip("mlops_tui.sim.kube")
    kube = [{"name": "sim-a", "fleet": "scaled", "services": 20, "pods_per_service": 1, "gpu_nodes": 2}]
    with FleetApp(kube) as fa:
        app = fa.app
        assert app is not None
        assert app.wait_for(lambda s: len(visible_rows(s.lines())) >= 5, 60) is not None
        assert fa.wait_quiet(2.0, 60)
        drawn = app.snapshot()
        for cols in (app.cols - 20, app.cols):
            with app._cond:  # the terminal clears as it resizes
                app.screen.cells = [[" "] * app.cols for _ in range(app.rows)]
            resized = time.monotonic()
            fcntl.ioctl(app._master, termios.TIOCSWINSZ, struct.pack("HHHH", app.rows, cols, 0, 0))
            assert app.next_frame(resized, 30) is not None  # the repaint began
            assert fa.wait_quiet(2.0, 60)
        assert app.snapshot() == drawn
