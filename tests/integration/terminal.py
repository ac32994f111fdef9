"""mlops-tui in a real terminal: a tmux pane of a private tmux server, driven by `send-keys` and read
with `capture-pane`, as an operator's SSH session would drive and see it."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
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
        # A shell between tmux and the app records the app's exit status in a file: tmux 3.3a was
        # seen to leave an exited pane process unreaped (a zombie, no status) now and then.
        self.status_file = Path(tempfile.mkdtemp(prefix="mlops-tui-term-")) / "status"
        wrapper = ["sh", "-c", f'"$@"; echo $? > {shlex.quote(str(self.status_file))}', "sh", *argv]
        settings = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
        self.run("-f", "/dev/null", "new-session", "-d", "-s", "ops", "-x", "150", "-y", "45", "-c", str(cwd),
                 *settings, *wrapper, ";", "set-option", "-t", "ops", "remain-on-exit", "on")

    def keys(self, *keys: str) -> None:
        """Several keys in one `send-keys`: tmux writes them to the terminal together."""
        self.run("send-keys", "-t", "ops", *keys)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "ops")

    def history(self) -> str:
        """Everything the pane printed, scrolled off or not, wrapped lines joined."""
        return self.run("capture-pane", "-p", "-J", "-S", "-", "-t", "ops")

    def pane(self, field: str) -> str:
        return self.run("display-message", "-p", "-t", "ops", f"#{{{field}}}").strip()

    def alive(self) -> bool:
        return not self._recorded_status() and self.pane("pane_dead") != "1"

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
        """Wait for the app to exit; its exit status."""
        deadline = time.monotonic() + timeout
        while not (status := self._recorded_status()):
            assert time.monotonic() < deadline, f"still running after {timeout}s:\n{self.screen()}"
            time.sleep(0.2)
        return status

    def _recorded_status(self) -> str:
        try:
            return self.status_file.read_text().strip()
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        subprocess.run([self.tmux, "-L", self.socket, "kill-server"], capture_output=True, timeout=30)
        if getattr(self, "status_file", None):
            shutil.rmtree(self.status_file.parent, ignore_errors=True)
