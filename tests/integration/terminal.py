"""mlops-tui in a real terminal: a tmux pane of a private tmux server, driven by `send-keys` and read
with `capture-pane`, as an operator's SSH session would drive and see it."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class Terminal:
    """mlops-tui in a tmux pane of its own (a private tmux server, 150x45)."""

    def __init__(self, tmux: str, socket: str) -> None:
        self.tmux = tmux
        self.socket = socket

    def run(self, *args: str) -> str:
        out = subprocess.run([self.tmux, "-L", self.socket, *args], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def start(self, argv: list[str], env: dict[str, str], cwd: Path = REPO) -> None:
        # The app is the pane's own process (no shell in between): tmux sees it exit and keeps its status.
        settings = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
        self.run("-f", "/dev/null", "new-session", "-d", "-s", "ops", "-x", "150", "-y", "45", "-c", str(cwd),
                 *settings, *argv, ";", "set-option", "-t", "ops", "remain-on-exit", "on")

    def keys(self, *keys: str) -> None:
        """Several keys in one `send-keys`: tmux writes them to the terminal together."""
        self.run("send-keys", "-t", "ops", *keys)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "ops")

    def pane(self, field: str) -> str:
        return self.run("display-message", "-p", "-t", "ops", f"#{{{field}}}").strip()

    def alive(self) -> bool:
        return self.pane("pane_dead") != "1"

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text in shown:
                return shown
            assert self.alive(), f"the app exited while waiting for {text!r}:\n{shown}"
            assert time.monotonic() < deadline, f"{text!r} not on screen within {timeout}s:\n{shown}"
            time.sleep(0.2)

    def wait_gone(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text in (shown := self.screen()):
            assert time.monotonic() < deadline, f"{text!r} still on screen after {timeout}s:\n{shown}"
            time.sleep(0.2)

    def exit_status(self, timeout: float) -> str:
        """Wait for the app to exit; its exit status (tmux keeps the dead pane: remain-on-exit)."""
        deadline = time.monotonic() + timeout
        while True:  # tmux marks the pane dead a moment before it records the status
            status = self.pane("pane_dead_status") if not self.alive() else ""
            found = re.search(r"Pane is dead \(status (\d+)", self.screen())
            if status or found:
                return status or found.group(1)  # type: ignore[union-attr]
            assert time.monotonic() < deadline, f"still running after {timeout}s:\n{self.screen()}"
            time.sleep(0.2)

    def stop(self) -> None:
        subprocess.run([self.tmux, "-L", self.socket, "kill-server"], capture_output=True, timeout=30)
