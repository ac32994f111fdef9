"""`q` ends the process, always.

Once the app has begun to exit (its screen is already restored), the connections get `grace`
seconds to close. A thread that never lets go (a socket no one answers, a library's join without a
timeout) would otherwise leave the operator at a terminal that neither shows the app nor returns the
prompt. Past the grace, every thread's stack goes into a crash report (what a bug report needs),
one line on stderr says so, and the process ends with the exit status it would have had. The
audit log needs nothing more: its records are written ahead of each call (tui/audit.py).
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

EXIT_GRACE = 10.0
"""Seconds from the start of the exit to the end of the process, at most (a normal exit takes ~1 s)."""


def thread_stacks() -> str:
    """Every thread's name and stack, as `faulthandler` would print them but readable."""
    frames = sys._current_frames()
    parts = []
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or -1)
        kind = "daemon" if thread.daemon else "non-daemon"
        stack = "".join(traceback.format_stack(frame)) if frame is not None else "  (no frame)\n"
        parts.append(f"thread {thread.name!r} ({kind}):\n{stack}")
    return "\n".join(parts)


class ExitGuard:
    """Armed when the exit begins; ends the process `grace` seconds later if it is still there."""

    def __init__(self, status: Callable[[], int], crash_dir: Path | None = None, grace: float = EXIT_GRACE) -> None:
        self._status = status
        self._crash_dir = crash_dir
        self.grace = grace
        self._timer: threading.Timer | None = None

    def arm(self) -> None:
        if self._timer is not None:
            return
        # A daemon timer: it never holds the exit up itself, and it still runs while the interpreter
        # waits for other threads at shutdown.
        self._timer = threading.Timer(self.grace, self._expire)
        self._timer.daemon = True
        self._timer.name = "exit-guard"
        self._timer.start()

    def cancel(self) -> None:
        """The exit it guarded is over (the app's run returned)."""
        if self._timer is not None:
            self._timer.cancel()

    def _expire(self) -> None:
        from mlops_tui.tui.crash import write_report

        status = self._status()
        try:
            path = write_report(thread_stacks(), self._crash_dir,
                                what=f"the app had not exited {self.grace:g} s after it began to")
            where = str(path) if path else "(the report could not be written)"
            sys.stderr.write(f"mlops-tui: a connection did not close within {self.grace:g} s of quitting; "
                             f"ended anyway (every thread's stack: {where})\n")
            sys.stderr.flush()
            sys.stdout.flush()
        finally:
            os._exit(status)
