"""Shared helpers for the operator benchmarks (issue 9): the app in a pseudo-terminal, a virtual
screen, simulators in a child process, baselines, statistics and the RESULTS.md section.

The app under test
    `PtyApp` runs `mlops-tui` (any argv) in a pseudo-terminal of a given size (TIOCSWINSZ, default
    120x40, TERM=xterm-256color), as a session leader with the pty as its controlling terminal.
    A reader thread reads the master side continuously and records every chunk with its
    `time.monotonic()` arrival time and size (bytes/s over SSH = what it writes to the terminal).

Frames
    Textual asks the terminal whether it supports synchronized output (DECRQM `ESC[?2026$p`). The
    harness answers like a modern terminal (`ESC[?2026;2$y`: supported, currently reset), so from
    then on Textual wraps every frame in `ESC[?2026h ... ESC[?2026l`; a frame is one such pair and
    its time is the arrival of the `ESC[?2026l`. Output written before the answer is processed (the
    first frame or two, a few ms into the run) is not wrapped: for it, each read chunk counts as a
    frame ("burst"). Both kinds are recorded in `frames`; `sync=False` turns the answer off (then
    every frame is a burst, which is how the numbers look on a terminal without mode 2026).

The virtual screen
    `VirtualScreen` is a deliberately small terminal model: cursor moves (CUP/CUU/CUD/CUF/CUB/CHA/
    VPA, CR, LF, BS), erase (ED/EL), printable text with East-Asian wide characters taking two
    cells, no line wrap (Textual turns autowrap off), SGR and every other sequence ignored. That is
    what Textual emits (each changed line span is a cursor move and styled text), so "the text X is
    on screen at row r" is a substring search in the screen's rows. Inside a synchronized frame the
    screen is updated at the frame's end, like a real terminal presents it.

CPU and memory of the app
    `cpu_seconds()` reads utime+stime of the child from /proc/<pid>/stat (all its threads), `rss_kb()`
    /`hwm_kb()` read VmRSS/VmHWM from /proc/<pid>/status; `stop()` reaps with `os.wait4` and returns
    the child's rusage (ru_maxrss = peak RSS) as well.

Simulators
    `SimHost` starts simulators (`sim.kube`, `sim.docker`, ...) in a child process, so their CPU and
    GIL are not the measuring process's, and drives them with JSON lines: changes are made in the
    child and reported with the child's `time.monotonic()` (CLOCK_MONOTONIC is system-wide on
    Linux, so the parent can subtract it from its own readings). Run this file as
    `python bench/harness.py simhost '<json spec>'` to get that child.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import fcntl
import json
import os
import random
import re
import resource
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PYTHON = sys.executable
VENV_BIN = Path(PYTHON).parent
MLOPS_TUI = shutil.which("mlops-tui", path=str(VENV_BIN)) or shutil.which("mlops-tui") or "mlops-tui"
KUBECTL = shutil.which("kubectl") or "kubectl"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Operator benchmarks (issue 9)"

SYNC_START = "\x1b[?2026h"
SYNC_END = "\x1b[?2026l"
KEYS = {
    "down": "\x1b[B", "up": "\x1b[A", "right": "\x1b[C", "left": "\x1b[D", "enter": "\r", "escape": "\x1b",
    "tab": "\t", "pagedown": "\x1b[6~", "pageup": "\x1b[5~", "home": "\x1b[H", "end": "\x1b[F",
}


# --------------------------------------------------------------------------------------------------
# The virtual screen
# --------------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\x1b\[(?P<params>[0-9;?<>=:]*)(?P<inter>[ -/]*)(?P<final>[@-~])"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1b[()*+][0-9A-Za-z]"  # charset designation
    r"|\x1b[^\[\]()*+]"  # other two-byte escapes
    r"|(?P<ctl>[\x00-\x1a\x1c-\x1f\x7f])"  # C0 controls (ESC excluded)
    r"|(?P<text>[^\x00-\x1f\x7f\x1b]+)"
)
_INCOMPLETE = re.compile(r"\x1b(?:\[[0-9;?<>=:]*[ -/]*|\][^\x07\x1b]*|\][^\x07]*\x1b|[()*+])?$")


def char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


class VirtualScreen:
    """A small terminal model: enough for Textual's output (see the module docstring)."""

    def __init__(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.cells = [[" "] * cols for _ in range(rows)]
        self.x = self.y = 0

    def apply(self, token: re.Match) -> None:
        text = token.group("text")
        if text is not None:
            row = self.cells[self.y] if 0 <= self.y < self.rows else None
            for ch in text:
                w = char_width(ch)
                if w == 0:
                    continue
                if row is not None and 0 <= self.x < self.cols:
                    row[self.x] = ch
                    if w == 2 and self.x + 1 < self.cols:
                        row[self.x + 1] = ""
                self.x += w
            return
        ctl = token.group("ctl")
        if ctl is not None:
            if ctl == "\r":
                self.x = 0
            elif ctl == "\n":
                self.y = min(self.y + 1, self.rows - 1)
            elif ctl == "\b":
                self.x = max(self.x - 1, 0)
            return
        final = token.group("final")
        if final is None or token.group("inter"):
            return
        params = token.group("params")
        if params.startswith(("?", ">", "<", "=")):
            return
        nums = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else []
        n = (nums[0] if nums else 0) or 1
        if final in "Hf":
            self.y = min(max((nums[0] if nums and nums[0] else 1) - 1, 0), self.rows - 1)
            self.x = min(max((nums[1] if len(nums) > 1 and nums[1] else 1) - 1, 0), self.cols - 1)
        elif final == "A":
            self.y = max(self.y - n, 0)
        elif final == "B":
            self.y = min(self.y + n, self.rows - 1)
        elif final == "C":
            self.x = min(self.x + n, self.cols - 1)
        elif final == "D":
            self.x = max(self.x - n, 0)
        elif final == "G":
            self.x = min(n - 1, self.cols - 1)
        elif final == "d":
            self.y = min(n - 1, self.rows - 1)
        elif final == "J":
            mode = nums[0] if nums else 0
            if mode in (2, 3):
                self.cells = [[" "] * self.cols for _ in range(self.rows)]
            elif mode == 0 and 0 <= self.y < self.rows:
                self.cells[self.y][self.x:] = [" "] * (self.cols - self.x)
                for r in range(self.y + 1, self.rows):
                    self.cells[r] = [" "] * self.cols
        elif final == "K" and 0 <= self.y < self.rows:
            mode = nums[0] if nums else 0
            row = self.cells[self.y]
            if mode == 0:
                row[self.x:] = [" "] * (self.cols - self.x)
            elif mode == 1:
                row[: self.x + 1] = [" "] * (self.x + 1)
            else:
                self.cells[self.y] = [" "] * self.cols

    def lines(self) -> list[str]:
        return ["".join(row) for row in self.cells]

    def text(self) -> str:
        return "\n".join(self.lines())

    def find(self, needle: str) -> tuple[int, int] | None:
        for y, line in enumerate(self.lines()):
            x = line.find(needle)
            if x >= 0:
                return y, x
        return None

    def row_of(self, needle: str) -> str | None:
        hit = self.find(needle)
        return self.lines()[hit[0]] if hit else None


# --------------------------------------------------------------------------------------------------
# The app in a pseudo-terminal
# --------------------------------------------------------------------------------------------------

@dataclass
class Frame:
    end: float  # time.monotonic() at the end of the frame (arrival of ESC[?2026l, or of the burst)
    nbytes: int
    synchronized: bool


@dataclass
class ExitInfo:
    returncode: int | None
    cpu_seconds: float
    maxrss_kb: int
    clean: bool  # exited by itself after `q` (not killed)


def isolated_env(home: str | Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The app's environment: its own config/state dirs (no operator config, audit log in `home`),
    no kubeconfig or DOCKER_HOST from the caller, TERM=xterm-256color."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TEXTUAL", "KUBE", "DOCKER_", "PROMETHEUS_", "ALERTMANAGER_"))
           and k not in ("COLUMNS", "LINES", "NO_COLOR", "TERM_PROGRAM", "PYTEST_CURRENT_TEST",
                         # an operator's install keeps its bytecode: without this, every start
                         # would compile our sources again (about 30 ms of the first frame)
                         "PYTHONDONTWRITEBYTECODE")}
    home = str(home)
    env.update(TERM="xterm-256color", COLORTERM="truecolor", XDG_CONFIG_HOME=f"{home}/config",
               XDG_STATE_HOME=f"{home}/state", XDG_CACHE_HOME=f"{home}/cache", KUBECONFIG=f"{home}/no-kubeconfig",
               PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


class PtyApp:
    """`mlops-tui` (or any argv) in a pseudo-terminal, with its output recorded and a virtual screen."""

    def __init__(self, argv: Sequence[str], *, cols: int = 120, rows: int = 40, env: dict[str, str] | None = None,
                 sync: bool = True, cwd: str | Path | None = None) -> None:
        self.argv = list(argv)
        self.cols, self.rows = cols, rows
        self.env = env
        self.sync = sync
        self.cwd = str(cwd or ROOT)
        self.screen = VirtualScreen(cols, rows)
        self.chunks: list[tuple[float, int]] = []  # (arrival, bytes)
        self.frames: list[Frame] = []
        self.started = 0.0  # time.monotonic() just before the process was created
        self.proc: subprocess.Popen | None = None
        self.exit: ExitInfo | None = None
        self.sync_answered_at: float | None = None
        self._cond = threading.Condition()
        self._master = -1
        self._reader: threading.Thread | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = ""
        self._in_sync = False
        self._sync_tokens: list[re.Match] = []
        self._sync_bytes = 0
        self._total = 0
        self._screen_version = 0
        self._listeners: list[Callable[[float], None]] = []

    # -- life cycle -----------------------------------------------------------------------------
    def start(self) -> PtyApp:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", self.rows, self.cols, 0, 0))
        self._master = master

        def controlling_tty() -> None:  # runs in the child after setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            self.argv, stdin=slave, stdout=slave, stderr=slave, env=self.env, cwd=self.cwd,
            start_new_session=True, preexec_fn=controlling_tty, close_fds=True,
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._read_loop, name="pty-reader", daemon=True)
        self._reader.start()
        return self

    def __enter__(self) -> PtyApp:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.exit is None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> ExitInfo:
        """Quit with `q` (what an operator does); SIGTERM then SIGKILL the process group on timeout."""
        if self.exit is not None:
            return self.exit
        assert self.proc is not None
        clean = False
        status = None
        usage = None
        with contextlib.suppress(OSError):
            self.send("q")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                clean = True
                break
            time.sleep(0.02)
        else:
            for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, sig)
                end = time.monotonic() + wait
                while time.monotonic() < end:
                    pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
                    if pid:
                        break
                    time.sleep(0.02)
                if usage is not None and pid:
                    break
        code = os.waitstatus_to_exitcode(status) if status is not None else None
        self.proc.returncode = code if code is not None else -9
        self.exit = ExitInfo(code, (usage.ru_utime + usage.ru_stime) if usage else float("nan"),
                             usage.ru_maxrss if usage else 0, clean and code == 0)
        if self._reader is not None:
            self._reader.join(2.0)
        with contextlib.suppress(OSError):
            os.close(self._master)
        return self.exit

    # -- input ----------------------------------------------------------------------------------
    def send(self, data: str | bytes) -> float:
        """Write to the app's terminal; returns time.monotonic() just before the write."""
        raw = data.encode() if isinstance(data, str) else data
        t = time.monotonic()
        os.write(self._master, raw)
        return t

    def press(self, key: str) -> float:
        return self.send(KEYS.get(key, key))

    # -- output ---------------------------------------------------------------------------------
    def _read_loop(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:
                break
            if not data:
                break
            t = time.monotonic()
            with self._cond:
                self.chunks.append((t, len(data)))
                self._total += len(data)
                self._feed(self._decoder.decode(data), t, len(data))
                self._cond.notify_all()
            for listener in list(self._listeners):
                listener(t)
        with self._cond:
            self._cond.notify_all()

    def _feed(self, text: str, t: float, nbytes: int) -> None:
        buf = self._pending + text
        pos = 0
        applied_outside_sync = False
        frame_done = False
        n = len(buf)
        while pos < n:
            m = _TOKEN.match(buf, pos)
            if m is None:
                if _INCOMPLETE.fullmatch(buf, pos):  # an escape sequence split across reads
                    break
                pos += 1  # a lone or unknown escape: skip its ESC, like a terminal would
                continue
            pos = m.end()
            final = m.group("final")
            if final is not None and m.group("params") == "?2026":
                inter = m.group("inter")
                if final == "p" and inter == "$":  # DECRQM: does the terminal support mode 2026?
                    if self.sync:
                        with contextlib.suppress(OSError):
                            os.write(self._master, b"\x1b[?2026;2$y")
                        self.sync_answered_at = t
                    continue
                if final == "h" and not inter:
                    self._in_sync = True
                    self._sync_tokens = []
                    self._sync_bytes = 0
                    continue
                if final == "l" and not inter:
                    for token in self._sync_tokens:
                        self.screen.apply(token)
                    self.frames.append(Frame(t, self._sync_bytes, True))
                    self._in_sync = False
                    self._sync_tokens = []
                    self._screen_version += 1
                    frame_done = True
                    continue
            if self._in_sync:
                self._sync_tokens.append(m)
                self._sync_bytes += len(m.group(0).encode())
            else:
                self.screen.apply(m)
                applied_outside_sync = True
        self._pending = buf[pos:]
        if applied_outside_sync:
            self._screen_version += 1
            if not frame_done:
                self.frames.append(Frame(t, nbytes, False))

    @property
    def total_bytes(self) -> int:
        with self._cond:
            return self._total

    def snapshot(self) -> list[str]:
        with self._cond:
            return self.screen.lines()

    def wait_for(self, predicate: Callable[[VirtualScreen], Any], timeout: float, after: float = 0.0) -> float | None:
        """Until `predicate(screen)` is true; returns the arrival time of the output that made it so
        (None on timeout or exit). `after`: only output that arrived after this time counts."""
        deadline = time.monotonic() + timeout
        with self._cond:
            seen = -1
            while True:
                if self._screen_version != seen:
                    seen = self._screen_version
                    last = self.frames[-1].end if self.frames else 0.0
                    if last >= after and predicate(self.screen):
                        return last
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self._reader is not None and not self._reader.is_alive()):
                    return None
                self._cond.wait(min(remaining, 0.5))

    def wait_for_text(self, text: str, timeout: float, after: float = 0.0) -> float | None:
        return self.wait_for(lambda s: s.find(text) is not None, timeout, after)

    def first_frame(self, timeout: float) -> float | None:
        """Arrival of the first output that put visible text on the screen."""
        return self.wait_for(lambda s: any(line.strip() for line in s.lines()), timeout)

    def next_frame(self, after: float, timeout: float) -> float | None:
        """The end of the first frame that arrived after `after`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                hit = None
                for frame in reversed(self.frames):
                    if frame.end < after:
                        break
                    hit = frame.end
                if hit is not None:
                    return hit
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(min(remaining, 0.5))

    def bytes_between(self, t0: float, t1: float) -> int:
        with self._cond:
            return sum(n for t, n in self.chunks if t0 <= t < t1)

    def frames_between(self, t0: float, t1: float) -> list[Frame]:
        with self._cond:
            return [f for f in self.frames if t0 <= f.end < t1]

    # -- the child's resources --------------------------------------------------------------------
    def cpu_seconds(self) -> float:
        """utime+stime of the app process so far (every thread)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def thread_cpu(self) -> dict[int, float]:
        """CPU seconds per thread of the app ({tid: seconds}; the main thread's tid is the pid)."""
        out = {}
        tick = os.sysconf("SC_CLK_TCK")
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                with open(f"/proc/{self.pid}/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
        return out

    def _status_kb(self, key: str) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def rss_kb(self) -> int:
        return self._status_kb("VmRSS")

    def hwm_kb(self) -> int:
        return self._status_kb("VmHWM")


# --------------------------------------------------------------------------------------------------
# Simulators in a child process
# --------------------------------------------------------------------------------------------------

class SimHost:
    """Simulators in a child process (`python bench/harness.py simhost SPEC`), driven by JSON lines.

    SPEC: {"kube": [{"name", "fleet", "services", "pods_per_service", "gpu_nodes", "seed"}...],
           "swarm": {"fleet", "services", "replicas", "seed"} | null, "kubeconfig": path,
           "prometheus": bool, "alertmanager": bool}
    """

    def __init__(self, spec: dict[str, Any], timeout: float = 600.0) -> None:
        self.spec = spec
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.info: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._replies: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._stderr: Any = None
        self._every_cpu: set[int] | None = None

    def start(self) -> SimHost:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [PYTHON, str(Path(__file__).resolve()), "simhost", json.dumps(self.spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True, cwd=ROOT, bufsize=1,
        )
        line = self._readline_timeout(self.timeout)
        if not line:
            self.stop()
            raise RuntimeError(f"the simulators did not start: {self.stderr_tail()}")
        self.info = json.loads(line)
        threading.Thread(target=self._pump, name="simhost-out", daemon=True).start()
        return self

    def _readline_timeout(self, timeout: float) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        result: list[str] = []
        t = threading.Thread(target=lambda: result.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        return result[0] if result else ""

    def stderr_tail(self, n: int = 2000) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-n:]

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            msg = json.loads(line)
            with self._cond:
                (self._events if "event" in msg else self._replies).append(msg)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def call(self, op: str, timeout: float = 60.0, **args: Any) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        with self._lock:
            with self._cond:
                self._replies.clear()
            self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
            self.proc.stdin.flush()
            deadline = time.monotonic() + timeout
            with self._cond:
                while not self._replies:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self.proc.poll() is not None:
                        raise RuntimeError(f"simhost {op}: no reply ({self.stderr_tail()})")
                    self._cond.wait(remaining)
                reply = self._replies.pop(0)
        if "error" in reply:
            raise RuntimeError(f"simhost {op}: {reply['error']}")
        return reply

    def wait_event(self, name: str, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self._events:
                    if ev["event"] == name:
                        self._events.remove(ev)
                        return ev
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc is not None and self.proc.poll() is not None):
                    return None
                self._cond.wait(remaining)

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def run_apart(self) -> str:
        """Give the simulators a core of their own and keep this benchmark (and every process it
        starts from now on) off it: a real cluster's API server does not run on the operator's
        machine, so its CPU must not be charged to the app's start. Affinity is per thread: every
        thread the simulators have is moved; the threads they start later inherit it.
        `stop` gives this benchmark its cores back. Returns what was done, for the results' note."""
        assert self.proc is not None
        self._every_cpu = os.sched_getaffinity(0)
        cpus = sorted(self._every_cpu)
        if len(cpus) < 2:
            return "simulators and app share the only core"
        sims, others = {cpus[-1]}, set(cpus[:-1])
        for task in os.listdir(f"/proc/{self.proc.pid}/task"):
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(int(task), sims)
        os.sched_setaffinity(0, others)
        apps = ",".join(map(str, sorted(others)))
        return f"simulators on CPU {cpus[-1]}, the benchmark and the apps it starts on CPU {apps}"

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.flush()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._every_cpu is not None:
            os.sched_setaffinity(0, self._every_cpu)
            self._every_cpu = None

    def __enter__(self) -> SimHost:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _simhost_main(spec: dict[str, Any]) -> None:  # runs in the child
    out_lock = threading.Lock()

    def emit(msg: dict[str, Any]) -> None:
        with out_lock:
            sys.stdout.write(json.dumps(msg) + "\n")
            sys.stdout.flush()

    clusters: dict[str, Any] = {}
    swarm = None
    prom = alertmgr = None
    demo = None
    try:
        if spec.get("demo") is not None:  # sim.demo.start_demo: what `mlops-tui --demo` starts, out of the app
            from mlops_tui.sim.demo import start_demo

            demo = start_demo(**spec["demo"])
            clusters = {c.name: c for c in demo.clusters}
            swarm = demo.swarm
            emit({"kube": {n: c.url for n, c in clusters.items()}, "swarm": demo.docker_host,
                  "kubeconfig": demo.kubeconfig, "prometheus": demo.prometheus_url,
                  "alertmanager": demo.alertmanager_url, "pid": os.getpid()})
        if spec.get("kube"):
            from mlops_tui.sim.kube import SimKubeCluster, write_kubeconfig

            for c in spec["kube"]:
                kwargs = {k: c[k] for k in ("services", "pods_per_service", "gpu_nodes") if k in c}
                kwargs.update(c.get("extra", {}))
                clusters[c["name"]] = SimKubeCluster.start(name=c["name"], seed=c.get("seed", 7),
                                                           fleet=c.get("fleet", "scaled"), **kwargs)
            write_kubeconfig(spec["kubeconfig"], list(clusters.values()))
        if spec.get("swarm"):
            from mlops_tui.sim.docker import SimSwarm

            s = spec["swarm"]
            swarm = SimSwarm.start(seed=s.get("seed", 0), fleet=s.get("fleet", "demo"), services=s.get("services", 0),
                                   replicas=s.get("replicas"))
        info: dict[str, Any] = {"kubeconfig": spec.get("kubeconfig"), "kube": {n: c.url for n, c in clusters.items()},
                                "swarm": swarm.url if swarm else None, "pid": os.getpid()}
        if spec.get("prometheus"):
            from mlops_tui.sim.prometheus import SimPrometheus  # type: ignore[attr-defined]

            prom = SimPrometheus.start(**spec["prometheus"]) if isinstance(spec["prometheus"], dict) \
                else SimPrometheus.start()
            info["prometheus"] = prom.url
        if spec.get("alertmanager"):
            from mlops_tui.sim.alertmanager import SimAlertmanager  # type: ignore[attr-defined]

            alertmgr = SimAlertmanager.start()
            info["alertmanager"] = alertmgr.url
        if demo is None:
            emit(info)
        churners: list[threading.Event] = []
        for line in sys.stdin:
            if not line.strip():
                continue
            cmd = json.loads(line)
            op = cmd.pop("op")
            if op == "quit":
                break
            try:
                reply = _simhost_op(op, cmd, clusters, swarm, churners, emit)
            except Exception as exc:  # reported to the parent, which raises
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            emit(reply)
        for stop in churners:
            stop.set()
    finally:
        if demo is not None:
            with contextlib.suppress(Exception):
                demo.stop()
            clusters, swarm = {}, None
        for c in clusters.values():
            with contextlib.suppress(Exception):
                c.stop()
        for s in (swarm, prom, alertmgr):
            if s is not None:
                with contextlib.suppress(Exception):
                    s.stop()


def _deployment_names(cluster: Any) -> list[tuple[str, str]]:
    return sorted(cluster.store.keys("deployments"))


def _simhost_op(op: str, cmd: dict[str, Any], clusters: dict[str, Any], swarm: Any,
                churners: list[threading.Event], emit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    if op == "kube_patch":  # {"cluster", "resource", "namespace", "name", "patch"}
        store = clusters[cmd["cluster"]].store
        t = time.monotonic()
        store.patch(cmd.get("resource", "deployments"), cmd["namespace"], cmd["name"], cmd["patch"])
        return {"t": t, "t_done": time.monotonic()}
    if op == "kube_get":
        obj = clusters[cmd["cluster"]].store.get(cmd.get("resource", "deployments"), cmd["namespace"], cmd["name"])
        return {"object": obj}
    if op == "kube_count":
        store = clusters[cmd["cluster"]].store
        return {r: store.count(r) for r in cmd["resources"]}
    if op == "kube_deployments":
        return {"keys": [list(k) for k in _deployment_names(clusters[cmd["cluster"]])]}
    if op == "swarm_scale":  # {"service", "replicas"}
        n = int(cmd["replicas"])
        t = time.monotonic()
        swarm.update_service(cmd["service"], lambda spec: spec["Mode"].__setitem__("Replicated", {"Replicas": n}))
        return {"t": t, "t_done": time.monotonic()}
    if op == "swarm_service":
        return {"service": swarm.service(cmd["service"])}
    if op == "swarm_tasks":
        return {"tasks": swarm.tasks(cmd["service"])}
    if op == "churn":  # {"rate", "duration", "clusters", "exclude", "field": "replicas"|"annotation", "pace"}
        stop = threading.Event()
        churners.append(stop)
        threading.Thread(target=_churn, args=(cmd, clusters, swarm, stop, emit), daemon=True).start()
        return {"started": time.monotonic()}
    if op == "swarm_churn":  # {"rate", "duration", "exclude": [service names], "pace": "objects"|"updates"}
        stop = threading.Event()
        churners.append(stop)
        threading.Thread(target=_swarm_churn, args=(cmd, swarm, stop, emit), daemon=True).start()
        return {"started": time.monotonic()}
    if op == "kube_fault":  # {"cluster", "kind": "restart" | "compact" | "fail" | "slow"}: the soak's faults
        cluster = clusters[cmd["cluster"]]
        kind = cmd["kind"]
        if kind == "restart":  # the API server down and up again on its address and certificate
            cluster.restart()
        elif kind == "compact":  # etcd compacted, every watch cut: resumed watches get 410 Expired
            cluster.compact()
            cluster.server.store.close_watches()
        elif kind == "fail":  # a burst of 503s
            cluster.server.faults.fail_next(int(cmd.get("n", 50)), 503)
        elif kind == "slow":  # answers held back
            cluster.server.faults.delay_next(int(cmd.get("n", 20)), float(cmd.get("seconds", 5.0)))
        else:
            raise ValueError(f"unknown fault {kind!r}")
        return {"t": time.monotonic()}
    if op == "churn_stop":
        for s in churners:
            s.set()
        return {"stopped": time.monotonic()}
    raise ValueError(f"unknown op {op!r}")


RAISED_AT_ONCE = 50


def _churn(cmd: dict[str, Any], clusters: dict[str, Any], swarm: Any, stop: threading.Event,
           emit: Callable[[dict[str, Any]], None]) -> None:
    """`rate` deployment changes per second for `duration` seconds, spread over every deployment of
    the cluster(s). field="annotation" (default): a metadata annotation changes, so each change is
    exactly one object change and one watch event (the app must read and translate it; nothing
    visible changes). field="replicas": spec.replicas moves between base and base+1, a visible
    change that the simulated controllers amplify (ReplicaSet, pods created/deleted, scheduling,
    readiness, status: several object changes each). `churn_done` reports the object changes the
    store really made (resourceVersion delta) besides the deployment changes sent.

    pace="objects" (default): `rate` counts every object change in the store (the resourceVersion
    delta: our patches and the controllers' reactions together), and deployment patches are sent
    only while the store is below that rate; pace="patches": `rate` deployment patches/s."""
    rate = float(cmd["rate"])
    duration = float(cmd["duration"])
    exclude = {tuple(k) for k in cmd.get("exclude", [])}
    rng = random.Random(cmd.get("seed", 1))
    targets: list[tuple[Any, str, str, int]] = []
    for name in cmd.get("clusters") or list(clusters):
        store = clusters[name].store
        for ns, dep in _deployment_names(clusters[name]):
            if (name, ns, dep) in exclude:
                continue
            base = store.get("deployments", ns, dep)["spec"].get("replicas", 1)
            targets.append((store, ns, dep, base))
    rng.shuffle(targets)
    raised: collections.deque[tuple[Any, str, str, int]] = collections.deque()
    field_ = cmd.get("field", "replicas")
    count_objects = cmd.get("pace", "objects") == "objects"
    budget = sent_now = 0
    stores = [clusters[name].store for name in (cmd.get("clusters") or list(clusters))]
    rv0 = sum(st.rv for st in stores)
    started = time.monotonic()
    done = 0
    i = 0
    while not stop.is_set():
        now = time.monotonic()
        if now - started >= duration:
            break
        due = int((now - started) * rate)
        if count_objects:  # pace by every object change the store made, the controllers' included
            made = sum(st.rv for st in stores) - rv0
            budget = due - made
            sent_now = 0
        while targets and ((budget > sent_now) if count_objects else (done < due)):
            if field_ == "annotation":
                store, ns, dep, base = targets[i % len(targets)]
                i += 1
                patch = {"metadata": {"annotations": {"bench/churn": str(done)}}}
            elif len(raised) >= RAISED_AT_ONCE:  # scale the oldest raised one back: the cluster keeps its size
                store, ns, dep, base = raised.popleft()
                patch = {"spec": {"replicas": base}}
            else:
                store, ns, dep, base = targets[i % len(targets)]
                i += 1
                raised.append((store, ns, dep, base))
                patch = {"spec": {"replicas": base + 1}}
            with contextlib.suppress(Exception):  # a deployment an HPA or a test just changed: next one
                store.patch("deployments", ns, dep, patch)
            done += 1
            if count_objects:
                sent_now += 1
                if sent_now >= 5:  # let the controllers' reactions show up in the count
                    break
        time.sleep(0.005)
    emit({"event": "churn_done", "changes": done, "seconds": time.monotonic() - started,
          "object_changes": sum(st.rv for st in stores) - rv0})


def _swarm_churn(cmd: dict[str, Any], swarm: Any, stop: threading.Event,
                 emit: Callable[[dict[str, Any]], None]) -> None:
    """The Swarm's `_churn`: service replicas go from base to base+1 (a visible change: the READY
    cell's desired count) and, once RAISED_AT_ONCE services are up, the oldest raised one goes back
    to base, so the engine keeps its size. Each update is what `docker service scale` sends.

    pace="objects" (default): `rate` counts every object the engine changed (its version index
    delta: our service updates and the orchestrator's reactions, a task created and moved through
    its states or shut down), and updates are sent only while the engine is below that rate, as
    the Kubernetes churn counts resourceVersions; pace="updates": `rate` service updates/s.
    `swarm_churn_done` reports both."""
    rate = float(cmd["rate"])
    duration = float(cmd.get("duration", 3600))
    exclude = set(cmd.get("exclude", []))
    rng = random.Random(cmd.get("seed", 1))
    with swarm.state.lock:
        targets = [(s["Spec"]["Name"], int(s["Spec"]["Mode"]["Replicated"]["Replicas"]))
                   for s in swarm.state.services.values()
                   if "Replicated" in s["Spec"]["Mode"] and s["Spec"]["Name"] not in exclude]
    rng.shuffle(targets)
    raised: collections.deque[tuple[str, int]] = collections.deque()
    count_objects = cmd.get("pace", "objects") == "objects"

    def index() -> int:
        with swarm.state.lock:
            return int(swarm.state.index)

    def scale(name: str, n: int) -> None:
        swarm.update_service(name, lambda spec: spec["Mode"].__setitem__("Replicated", {"Replicas": n}))

    index0 = index()
    started = time.monotonic()
    done = i = 0
    while not stop.is_set() and targets:
        now = time.monotonic()
        if now - started >= duration:
            break
        due = int((now - started) * rate)
        budget = due - (index() - index0) if count_objects else due - done
        for _ in range(min(budget, 5) if count_objects else budget):  # let the reactions show in the count
            if len(raised) >= RAISED_AT_ONCE:
                name, base = raised.popleft()
                n = base
            else:
                name, base = targets[i % len(targets)]
                i += 1
                raised.append((name, base))
                n = base + 1
            with contextlib.suppress(Exception):  # a service a test just removed: next one
                scale(name, n)
            done += 1
        time.sleep(0.005)
    seconds, changes = time.monotonic() - started, index() - index0
    for name, base in raised:  # back to the size it started with
        with contextlib.suppress(Exception):
            scale(name, base)
    emit({"event": "swarm_churn_done", "updates": done, "seconds": seconds, "object_changes": changes})


class ReplicaEvents:
    """A client of the engine on a pipe (`kubectl get -w`, `docker events`): each line it prints that
    names a new replica count is kept as (arrival, name, replicas); `parse(line)` says which."""

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
                                     env=env)
        self.events: list[tuple[float, str, int]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def parse(self, line: str) -> tuple[str, int] | None:
        raise NotImplementedError

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            t = time.monotonic()
            seen = self.parse(line)
            if seen is not None:
                with self.cond:
                    self.events.append((t, *seen))
                    self.cond.notify_all()

    def wait(self, name: str, replicas: int, after: float, timeout: float) -> float | None:
        """When `name` was first printed with `replicas` at or after `after`; None after `timeout`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for t, n, r in reversed(self.events):
                    if t < after:
                        break
                    if n == name and r == replicas:
                        return t
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.cond.wait(remaining)

    def stop(self) -> None:
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate a baseline client this benchmark started (by its own handle), killing it if it lingers."""
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


# --------------------------------------------------------------------------------------------------
# Baselines, statistics, reporting
# --------------------------------------------------------------------------------------------------

def timed_run(argv: Sequence[str], *, stdout: Any = subprocess.DEVNULL, env: dict[str, str] | None = None,
              timeout: float = 600.0) -> float:
    """Wall time of one process run to exit (raises if it fails)."""
    t = time.monotonic()
    subprocess.run(list(argv), stdout=stdout, stderr=subprocess.PIPE, env=env, check=True, timeout=timeout)
    return time.monotonic() - t


def python_floor() -> float:
    """`python3 -c pass`: the interpreter starting and importing nothing (site disabled: -S -I)."""
    return timed_run([PYTHON, "-S", "-I", "-c", "pass"])


def kubectl(kubeconfig: str, context: str, *args: str) -> list[str]:
    return [KUBECTL, "--kubeconfig", kubeconfig, "--context", context, *args]


def best(values: Iterable[float]) -> float:
    values = [v for v in values if v == v]
    return min(values) if values else float("nan")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a list; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    if seconds != seconds:
        return "n/a"
    if seconds == float("inf"):
        return "timeout"
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def ratio(value: float, baseline: float) -> str:
    if value != value or baseline != baseline or baseline <= 0 or value == float("inf"):
        return "n/a"
    return f"{value / baseline:.2f}x"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (printed as is to the terminal too)."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def machine_line() -> str:
    load = os.getloadavg()
    py = sys.version.split()[0]
    try:
        kv = subprocess.run([KUBECTL, "version", "--client"], capture_output=True, text=True, timeout=20).stdout
        kv = kv.splitlines()[0].split(":", 1)[1].strip() if kv else "?"
    except Exception:
        kv = "?"
    try:
        from importlib import metadata

        textual = metadata.version("textual")
    except Exception:
        textual = "?"
    return (f"{os.cpu_count()} cores, load average {load[0]:.2f} at start; Python {py}, textual {textual}, "
            f"kubectl {kv}")


def update_results(subsection: str, body: str) -> None:
    """Replace (or add) `### {subsection}` inside `## Operator benchmarks (issue 9)` in RESULTS.md,
    leaving every other section as it is."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    header = f"### {subsection}"
    start = text.find(SECTION + "\n")
    if start < 0:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\nFigures from `bench/` scripts of issue 9; "\
            "how to run them: `bench/README.md`.\n"
        start = text.find(SECTION + "\n")
    m = re.compile(r"^## ", re.M).search(text, start + len(SECTION))
    end = m.start() if m else len(text)
    section = text[start:end]
    block = f"{header}\n\n{body.strip()}\n\n"
    i = section.find(header + "\n")
    if i >= 0:
        j = re.compile(r"^### ", re.M).search(section, i + len(header))
        section = section[:i] + block + (section[j.start():] if j else "")
    else:
        section = section.rstrip("\n") + "\n\n" + block
    text = text[:start] + section.rstrip("\n") + "\n" + ("\n" + text[end:] if m else "")
    RESULTS.write_text(text)


def command_line() -> str:
    args = " ".join(sys.argv[1:])
    return f".venv/bin/python bench/{Path(sys.argv[0]).name}" + (f" {args}" if args else "")


@dataclass
class Env:
    """A temporary home for one benchmark: kubeconfig path, app env, cleanup."""

    tmp: tempfile.TemporaryDirectory = field(default_factory=lambda: tempfile.TemporaryDirectory(prefix="bench-"))

    @property
    def path(self) -> Path:
        return Path(self.tmp.name)

    @property
    def kubeconfig(self) -> str:
        return str(self.path / "kubeconfig")

    def app_env(self, **extra: str) -> dict[str, str]:
        return isolated_env(self.path, extra)

    def cleanup(self) -> None:
        self.tmp.cleanup()


def rusage_children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------------------------------
# The app against simulators, and reading its services pane
# --------------------------------------------------------------------------------------------------

_HEADER_LABELS = {"NAME": "name", "NS/STACK": "ns", "NAMESPACE": "ns", "CLUSTER": "cluster", "KIND": "kind",
                  "READY": "ready", "STATE": "state", "VERSION": "version"}
_READY = re.compile(r"(\d+)/(\d+)")


def _services_columns(lines: Sequence[str]) -> tuple[int, dict[str, tuple[int, int]]] | None:
    """The services pane's header line and each column's [start, end) on screen, read from the header
    (the column order and widths change as the app evolves: never hard-code them)."""
    for y, line in enumerate(lines):
        left = line.split("││", 1)[0].replace("▲", " ").replace("▼", " ")  # the sort column's arrow
        if " NAME " in left and "READY" in left:
            starts = sorted((m.start(), label) for label in _HEADER_LABELS
                            for m in re.finditer(rf"(?<=\s){re.escape(label)}(?=\s)", left))
            cols = {}
            for i, (x, label) in enumerate(starts):
                stop = starts[i + 1][0] if i + 1 < len(starts) else len(left)
                cols[_HEADER_LABELS[label]] = (x, stop)
            return y, cols
    return None


def visible_rows(lines: Sequence[str]) -> list[dict[str, str]]:
    """Service rows on screen whose READY cell is visible: name, ns, cluster, kind (when shown), ready,
    desired."""
    found = _services_columns(lines)
    if found is None:
        return []
    y0, cols = found
    rows = []
    for line in lines[y0 + 1:]:
        left = line.split("││", 1)[0]
        if "╰" in left:
            break
        cell = {key: left[a:b].strip() for key, (a, b) in cols.items()}
        m = _READY.fullmatch(cell.get("ready", "").split(" ")[0]) if cell.get("ready") else None
        if not cell.get("name") or m is None:
            continue
        cell["ready"], cell["desired"] = m.group(1), m.group(2)
        cell.setdefault("kind", "")
        cell.setdefault("cluster", "")
        rows.append(cell)
    return rows


_COUNT = re.compile(r"─ (\d+) ─╯")


def services_count(lines: Sequence[str]) -> int | None:
    """The services pane's row count, from its bottom border (the first pane border on screen)."""
    for line in lines:
        if "╰" in line:
            m = _COUNT.search(line.split("╯", 1)[0] + "╯")
            return int(m.group(1)) if m else None
    return None


def row_for(lines: Sequence[str], name: str, cluster: str) -> dict[str, str] | None:
    for row in visible_rows(lines):
        if row["name"] == name and (not row["cluster"] or cluster.startswith(row["cluster"].rstrip("…"))):
            return row
    return None


def app_argv(info: dict[str, Any]) -> list[str]:
    """`mlops-tui` options for what a SimHost started (explicit contexts: the sim's kubeconfig also
    holds "-readonly" twins that --all-contexts would add)."""
    argv = [MLOPS_TUI, "--swarm", info["swarm"]]
    if info.get("kube"):
        argv += ["--kubeconfig", info["kubeconfig"]]
        for name in info["kube"]:
            argv += ["--context", name]
    if info.get("prometheus"):
        argv += ["--prometheus", info["prometheus"]]
    if info.get("alertmanager"):
        argv += ["--alertmanager", info["alertmanager"]]
    return argv


class FleetApp:
    """Simulators (child process) + `mlops-tui` pointed at them in a pty; stops both on exit.

    kube: list of SimKubeCluster.start kwargs (name, fleet, services, ...); swarm: SimSwarm fleet
    ("empty" keeps the screen to the Kubernetes services and the app off the local dockerd)."""

    def __init__(self, kube: list[dict[str, Any]], swarm: dict[str, Any] | None = None, *, cols: int = 120,
                 rows: int = 40, extra_args: Sequence[str] = (), sync: bool = True,
                 demo: dict[str, Any] | None = None, launcher: Sequence[str] | None = None,
                 apart: bool = False) -> None:
        """apart: the simulators get a core of their own (`SimHost.run_apart`); `placement` says."""
        self.apart, self.placement = apart, "simulators share the cores"
        self.launcher = list(launcher) if launcher else None  # replaces the `mlops-tui` executable
        self.env = Env()
        self.spec = {"kube": kube, "swarm": swarm or {"fleet": "empty"}, "kubeconfig": self.env.kubeconfig}
        if demo is not None:
            self.spec = {"demo": demo}
        self.cols, self.rows, self.extra_args, self.sync = cols, rows, list(extra_args), sync
        self.sims: SimHost | None = None
        self.app: PtyApp | None = None

    @property
    def argv(self) -> list[str]:
        assert self.sims is not None
        argv = app_argv(self.sims.info) + self.extra_args
        return (self.launcher + argv[1:]) if self.launcher else argv

    def __enter__(self) -> FleetApp:
        try:
            self.sims = SimHost(self.spec).start()
            if self.apart:
                self.placement = self.sims.run_apart()
            self.app = PtyApp(self.argv, cols=self.cols, rows=self.rows, env=self.env.app_env(), sync=self.sync)
            self.app.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.app is not None:
            self.app.stop()
        if self.sims is not None:
            self.sims.stop()
        self.env.cleanup()

    def wait_quiet(self, quiet: float = 2.0, timeout: float = 60.0) -> bool:
        """Until the app has written nothing for `quiet` seconds."""
        assert self.app is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = self.app.chunks[-1][0] if self.app.chunks else self.app.started
            if time.monotonic() - last >= quiet:
                return True
            time.sleep(0.1)
        return False


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "simhost":
        _simhost_main(json.loads(sys.argv[2]))
    else:
        print(__doc__)
