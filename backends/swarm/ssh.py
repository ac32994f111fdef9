"""`ssh://` Swarm endpoints through the system `ssh`, as the docker CLI reaches them.

Each HTTP connection to the Engine API is one `ssh [-l user] [-p port] -- host docker system dial-stdio`
process whose stdin and stdout are one end of a socket pair; the HTTP client reads and writes the other
end, a real socket, so every call's timeout holds (the docker SDK's own shell-out transport reads a pipe
without any timeout, and needs paramiko installed even when it does not use it).

`ssh` is the operator's: `~/.ssh/config` (aliases, ports, identities, ProxyJump), the agent and known
hosts are honoured as for any `ssh` they type. Two options are ours: `BatchMode=yes`, because a password
or host-key prompt would be written over the dashboard and wait on a terminal nobody types into, and a
`ConnectTimeout`. `ssh`'s stderr goes to a file per connection, never to the screen; after a failure it
is read back and said in one line (`ssh_failure`).

Closing a connection, the adapter or the client ends its `ssh` process and reaps it: once a backend
stops, no `ssh` of ours is left running; at interpreter exit the ones still open are ended too (an ssh
whose far side never answers would otherwise outlive the app).
"""

from __future__ import annotations

import atexit
import contextlib
import re
import socket
import subprocess
import tempfile
import threading
import weakref
from typing import IO, Any
from urllib.parse import urlsplit

import requests.adapters
import urllib3.connection
import urllib3.connectionpool

DIAL_STDIO = ["docker", "system", "dial-stdio"]
"""What runs on the far side: the docker CLI there relays stdin/stdout to its own dockerd socket."""
EXIT_WAIT = 2.0
"""Seconds an ssh process gets to exit after its socket closed and it was told to end, before a kill."""
SSH_BINARY = "ssh"


def ssh_command(url: str, connect_timeout: float) -> list[str]:
    """The `ssh` argv for one `ssh://[user@]host[:port]` connection, the docker CLI's plus BatchMode."""
    parts = urlsplit(url)
    args = [SSH_BINARY, "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={max(1, round(connect_timeout))}"]
    if parts.username:
        args += ["-l", parts.username]
    if parts.port:
        args += ["-p", str(parts.port)]
    return [*args, "--", parts.hostname or "", *DIAL_STDIO]


class SshFailure(ConnectionError):
    """ssh could not give us the far side's Engine API; the message is ssh's reason in one line."""


_LIVE: weakref.WeakSet[SshProcess] = weakref.WeakSet()
"""Every ssh process not yet closed, in this interpreter."""
_SPAWN_LOCK = threading.Lock()
_exiting = threading.Event()


class SshProcess:
    """One `ssh ... docker system dial-stdio`, talking through a socket pair; stderr kept in a file."""

    def __init__(self, argv: list[str], timeout: float) -> None:
        ours, theirs = socket.socketpair()
        # Open for the process's lifetime, closed in close(): not a with-block.
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._said_before_close: str | None = None
        try:
            with _SPAWN_LOCK:  # registered in the same step, so the exit sweep sees every process
                if _exiting.is_set():
                    raise SshFailure("ssh: not started, the app is exiting")
                # A session of its own: Ctrl-C in the app's terminal is not ssh's, and ssh has no
                # terminal to prompt on.
                self.proc = subprocess.Popen(argv, stdin=theirs.fileno(), stdout=theirs.fileno(),
                                             stderr=self._stderr, start_new_session=True)
                _LIVE.add(self)
        except OSError:  # SshFailure included
            ours.close()
            self._stderr.close()
            raise
        finally:
            theirs.close()
        ours.settimeout(timeout)  # for the send; urllib3 sets each response's read timeout on this socket too
        self.sock = ours

    def stderr_text(self) -> str:
        """What ssh (and the far side's shell) said so far (all of it, once closed)."""
        if self._said_before_close is not None:
            return self._said_before_close
        try:
            self._stderr.seek(0)
            return self._stderr.read(16384).decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def exit_code(self, wait: float = 0.0) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.proc.wait(wait) if wait else self.proc.poll()
        return None

    def close(self) -> None:
        """End ssh and reap it: closing our end tells dial-stdio to stop; terminate, then kill."""
        _LIVE.discard(self)
        with contextlib.suppress(OSError):
            self.sock.close()
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.terminate()
            try:
                self.proc.wait(EXIT_WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # The HTTP client closes a failed connection before we are asked why it failed: keep what ssh said.
        if self._said_before_close is None:
            self._said_before_close = self.stderr_text()
        with contextlib.suppress(OSError):
            self._stderr.close()


@atexit.register
def _end_every_ssh() -> None:
    """At exit, end the ssh processes still open. `status` exits without waiting for a slow stop, and
    an ssh whose far side never answers would otherwise outlive us, waiting there forever. A backend
    thread still retrying (daemon threads run on during exit) starts no new one."""
    with _SPAWN_LOCK:
        _exiting.set()
        live = list(_LIVE)
    for process in live:
        with contextlib.suppress(OSError):
            process.proc.terminate()
    for process in live:
        process.close()


class _Processes:
    """Every live ssh process of one adapter, so that closing the adapter ends them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: list[SshProcess] = []
        self.last: SshProcess | None = None

    def add(self, process: SshProcess) -> None:
        with self._lock:
            self._live.append(process)
            self.last = process

    def close(self, process: SshProcess) -> None:
        process.close()
        with self._lock:
            if process in self._live:
                self._live.remove(process)

    def close_all(self) -> None:
        with self._lock:
            live, self._live = self._live, []
        for process in live:
            process.close()


class SshConnection(urllib3.connection.HTTPConnection):
    def __init__(self, argv: list[str], processes: _Processes, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._argv = argv
        self._processes = processes
        self._process: SshProcess | None = None

    def connect(self) -> None:
        self._process = SshProcess(self._argv, self.timeout if isinstance(self.timeout, float | int) else 60.0)
        self._processes.add(self._process)
        self.sock = self._process.sock

    def close(self) -> None:
        super().close()
        process, self._process = self._process, None
        if process is not None:
            self._processes.close(process)


class SshConnectionPool(urllib3.connectionpool.HTTPConnectionPool):
    scheme = "ssh"

    def __init__(self, argv: list[str], processes: _Processes, timeout: float, maxsize: int) -> None:
        super().__init__("localhost", timeout=timeout, maxsize=maxsize)
        self._argv = argv
        self._processes = processes
        self._timeout_seconds = timeout

    def _new_conn(self) -> SshConnection:
        return SshConnection(self._argv, self._processes, self._timeout_seconds)


class SshDialStdioAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter whose connections are `ssh ... docker system dial-stdio` processes."""

    def __init__(self, url: str, timeout: float, max_connections: int = 4) -> None:
        super().__init__()
        self.url = url
        self.processes = _Processes()
        self._pool = SshConnectionPool(ssh_command(url, timeout), self.processes, timeout, max_connections)

    def get_connection_with_tls_context(self, request: Any, verify: Any, proxies: Any = None,
                                        cert: Any = None) -> SshConnectionPool:
        return self._pool

    def get_connection(self, url: Any, proxies: Any = None) -> SshConnectionPool:  # requests < 2.32
        return self._pool

    def request_url(self, request: Any, proxies: Any) -> str:
        return str(request.path_url)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._pool.close()
        self.processes.close_all()
        super().close()

    def failure(self) -> str:
        """Why the latest ssh connection failed, in one line; empty when ssh said nothing useful."""
        process = self.processes.last
        if process is None:
            return ""
        return ssh_failure(process.stderr_text(), process.exit_code(wait=EXIT_WAIT))


_HOST_KEY_CHANGED = re.compile(r"REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed")
_OFFENDING = re.compile(r"Offending \S+ key in (\S+)")
_NOT_KNOWN = re.compile(r"No \S+ host key is known for (\S+)")
_PERMISSION = re.compile(r"Permission denied \(([^)]*)\)")
_NO_DOCKER = re.compile(r"docker: (?:command )?not found|docker: No such file or directory"
                        r"|exec: \"?docker\"?: executable file not found")
_SSH_CONNECT = re.compile(r"connect to host \S+ port \d+: (.+)$", re.MULTILINE)


def ssh_failure(stderr: str, exit_code: int | None) -> str:
    """ssh's stderr (and exit code) -> one line saying what went wrong and what to check."""
    text = stderr.replace("\r", "")
    if _HOST_KEY_CHANGED.search(text):
        offending = _OFFENDING.search(text)
        where = f" (the key in {offending.group(1)})" if offending else ""
        return (f"ssh: the host key does not match known_hosts{where}: the host was reinstalled, "
                "or someone is in between; check with the host's owner before you accept the new key")
    if _NOT_KNOWN.search(text) or "Host key verification failed" in text:
        return "ssh: the host key is not in known_hosts; connect once with ssh to check and accept it"
    permission = _PERMISSION.search(text)
    if permission:
        return (f"ssh: authentication failed (permission denied, {permission.group(1)}): "
                "is your key in the agent or the IdentityFile, and authorized on the host?")
    if _NO_DOCKER.search(text) or exit_code == 127:
        return (f"ssh: no docker on the far side ({' '.join(DIAL_STDIO)} is what runs there; "
                "install the docker CLI on the host or put it on the ssh user's PATH)")
    connect = _SSH_CONNECT.search(text)
    if connect:
        return f"ssh: {connect.group(1).strip()}"
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("@")]
    if lines:
        return "ssh: " + lines[-1].removeprefix("ssh: ")[:300]
    if exit_code not in (None, 0):
        return f"ssh exited with status {exit_code} and said nothing"
    return ""


def open_ssh_api(url: str, timeout: float, version: str) -> Any:
    """A `docker.APIClient` speaking HTTP through `SshDialStdioAdapter` (no paramiko needed).

    The SDK is built for a placeholder unix socket it never opens (an explicit version: no call at
    construction), then our adapter is mounted for the base URL it uses for ssh; `auto` asks the Engine
    its version over ssh afterwards, as the SDK would."""
    import docker

    # ignore[arg-type]: the stubs say `timeout: int`; requests takes the float (see client.open_api).
    api: Any = docker.APIClient(base_url="unix:///nonexistent-placeholder.sock", version="1.41",
                                timeout=timeout)  # type: ignore[arg-type]
    adapter = SshDialStdioAdapter(url, timeout)
    api.mount("http+docker://ssh", adapter)
    api._custom_adapter = adapter
    api.base_url = "http+docker://ssh"
    if version.lower() == "auto":
        try:
            api._version = api.version(api_version=False)["ApiVersion"]
        except Exception:
            reason = adapter.failure()
            api.close()
            if reason:
                raise SshFailure(reason) from None
            raise
    else:
        api._version = version
    return api


def ssh_adapter(api: Any) -> SshDialStdioAdapter | None:
    adapter = getattr(api, "_custom_adapter", None)
    return adapter if isinstance(adapter, SshDialStdioAdapter) else None

