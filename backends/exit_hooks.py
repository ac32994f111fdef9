"""What must happen however the process ends: an engine package registers a clean-up here (the
Kubernetes client's temporary key and certificate files), and both a normal exit (atexit) and the
app's SIGTERM/SIGHUP handler run them. Runs each hook at most once; a failing hook never stops the rest."""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

_hooks: dict[str, Callable[[], None]] = {}
_lock = threading.Lock()


def on_exit(name: str, hook: Callable[[], None]) -> None:
    """Register `hook` under `name` (registering the same name again keeps one)."""
    with _lock:
        _hooks[name] = hook


def run_exit_hooks() -> None:
    with _lock:
        hooks = list(_hooks.values())
        _hooks.clear()
    for hook in hooks:
        try:
            hook()
        except Exception:
            log.exception("an exit clean-up failed")


atexit.register(run_exit_hooks)
