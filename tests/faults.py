"""A fault-injecting TCP proxy for HTTP engines (the simulated Kubernetes API, the simulated dockerd,
Alertmanager), on 127.0.0.1, for the fault suite. Clients speak plain HTTP to it; it may speak TLS to the
engine (`upstream_tls`), so that a judge such as kubectl can still reach the engine directly over TLS.

It reads the HTTP requests going up (to count the mutating ones, POST/PUT/PATCH/DELETE, and to know when
one has been forwarded) and, by mode, what it does with the answers coming down:
- `pass`: forwards both ways;
- `freeze`: forwards every request, holds every answer, and the rest of the streams already open (an
  engine that stopped answering but already has the request); `wake()` forwards what is still wanted and
  goes back to `pass`;
- `reset`: forwards the request, waits for the first byte of the answer (the engine has acted) and
  resets the client's connection before it reaches it (a connection lost before the answer);
- `lose`: reads the request and resets the connection without forwarding it (sent, never arrived);
- `error`: answers the request itself with `503 Service Unavailable` (an overloaded engine or a load
  balancer in front of it), without forwarding it.
`cut_streams()` cuts every open connection in the middle of what it is sending (a watch or event
stream torn mid-object); `reset_all()` resets every open connection at once.
The mode can apply to every request or only to mutating ones (`only_mutating`), so reads and watches
keep flowing while one call's answer is lost.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import struct
import threading
from dataclasses import dataclass, field

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MODES = ("pass", "freeze", "reset", "lose", "error")
UNAVAILABLE = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n"
               b"Connection: close\r\n\r\nservice unavailable\n")
NOT_CHANGES = ("/selfsubjectaccessreviews", "/selfsubjectrulesreviews", "/events")
"""POSTs that change no workload: Kubernetes access reviews (nothing is stored) and the Event the app
writes after an action as its record on the object. `mutations()` leaves them out."""


@dataclass
class _Conn:
    client: socket.socket
    upstream: socket.socket
    faulted: bool = False
    """The last request on this connection falls under the current mode: its answer is not passed on."""
    mode: str = "pass"
    held: list[bytes] = field(default_factory=list)
    cut: bool = False
    """Send half of the next chunk coming down, then reset (torn mid-object)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Held bytes go out before any newer ones (TCP never reorders; a wake must not either)."""
    ended: bool = False
    """The engine closed its side while answers were held: the client's side closes once they are out."""
    tls_lock: threading.Lock = field(default_factory=threading.Lock)
    """One TLS connection is never read and written by two threads at once (OpenSSL forbids it: a
    request written while the other pump sat in a read was seen lost on the way to the engine)."""


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int, upstream_tls: ssl.SSLContext | None = None) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.upstream_tls = upstream_tls
        """Speak TLS to the engine (the proxy sees plain HTTP from the client, so it can count)."""
        self.mode = "pass"
        self.only_mutating = False
        self.skip = 0
        """Requests the mode would catch that still pass first (cut a multi-call action after its first call)."""
        self.mutating: list[tuple[str, str]] = []
        """(method, path) of every mutating request that reached the proxy, in order."""
        self.requests: list[tuple[str, str]] = []
        """(method, path) of every request that reached the proxy, reads too (a read-only run counts
        everything that is not a GET or HEAD)."""
        self.faulted_requests = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._conns: list[_Conn] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, name=f"fault-proxy-{self.port}", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- commands from the test ----------------------------------------------------------------

    def set_mode(self, mode: str, *, only_mutating: bool = False, skip: int = 0) -> None:
        assert mode in MODES, mode
        with self._lock:
            self.mode, self.only_mutating, self.skip = mode, only_mutating, skip

    def wake(self) -> None:
        """Back to `pass`; answers held by a freeze go to clients still waiting for them."""
        with self._lock:
            self.mode, self.only_mutating = "pass", False
            conns = list(self._conns)
        for conn in conns:
            with conn.lock:
                held, conn.held = conn.held, []
                conn.faulted = False
                for chunk in held:
                    with contextlib.suppress(OSError):
                        conn.client.sendall(chunk)
                if conn.ended:  # the engine's close comes after its data, as TCP would deliver it
                    _hang_up(conn.client)

    def _frozen(self) -> bool:
        """Frozen for every request: streams opened before the freeze (watches, events) go silent too,
        as they do when the engine's process is stopped."""
        return self.mode == "freeze" and not self.only_mutating

    def cut_streams(self) -> None:
        """Tear every open connection in the middle of the next bytes it carries down."""
        with self._lock:
            for conn in self._conns:
                conn.cut = True

    def reset_all(self) -> None:
        """Reset every open connection now (the engine's side stays as it was)."""
        with self._lock:
            conns, self._conns = list(self._conns), []
        for conn in conns:
            _reset(conn.client)
            _close(conn.upstream)

    def mutations(self) -> int:
        """Mutating requests that change what the engine runs (see NOT_CHANGES)."""
        with self._lock:
            return sum(1 for _method, path in self.mutating
                       if not any(path.split("?")[0].endswith(tail) for tail in NOT_CHANGES))

    def wait_for_faulted(self, count: int = 1, timeout: float = 30.0) -> bool:
        """Until `count` requests have been caught by a fault mode (forwarded and held, reset, lost)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.faulted_requests >= count, timeout)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            conns, self._conns = list(self._conns), []
        for conn in conns:
            _close(conn.client)
            _close(conn.upstream)

    # -- the pumps ---------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _addr = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                if self.upstream_tls is not None:
                    upstream = self.upstream_tls.wrap_socket(upstream, server_hostname=self.upstream[0])
                    upstream.setblocking(False)  # the pumps take turns on it (see `_Conn.tls_lock`)
                else:
                    upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            conn = _Conn(client, upstream)
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._up, args=(conn,), daemon=True).start()
            threading.Thread(target=self._down, args=(conn,), daemon=True).start()

    def _up(self, conn: _Conn) -> None:
        """Client → engine: whole requests, one at a time, each counted and judged by the mode."""
        buffer = b""
        try:
            while True:
                request, buffer = _read_request(conn.client, buffer)
                if request is None:
                    break
                method, path, raw = request
                with self._lock:
                    self.requests.append((method, path))
                    if method in MUTATING:
                        self.mutating.append((method, path))
                    applies = self.mode != "pass" and (not self.only_mutating or method in MUTATING)
                    if applies and self.skip > 0:
                        self.skip, applies = self.skip - 1, False
                    conn.faulted, conn.mode = applies, self.mode if applies else "pass"
                    if applies:
                        self.faulted_requests += 1
                        self._changed.notify_all()
                if conn.mode == "lose":
                    _reset(conn.client)
                    _close(conn.upstream)
                    return
                if conn.mode == "error":
                    with contextlib.suppress(OSError):
                        conn.client.sendall(UNAVAILABLE)
                    _close(conn.client)
                    _close(conn.upstream)
                    return
                _send_upstream(conn, raw)
        except (OSError, ValueError):
            pass
        _close(conn.upstream)

    def _down(self, conn: _Conn) -> None:
        """Engine → client: passed on, held (freeze) or turned into a reset (reset)."""
        try:
            while True:
                chunk = _recv_upstream(conn)
                if not chunk:
                    break
                if conn.faulted and conn.mode == "reset":
                    _reset(conn.client)
                    break
                with conn.lock:
                    if (conn.faulted and conn.mode == "freeze") or self._frozen():
                        conn.held.append(chunk)
                        continue
                    if conn.cut:
                        conn.client.sendall(chunk[: max(1, len(chunk) // 2)])
                        _reset(conn.client)
                        break
                    held, conn.held = conn.held, []  # what a wake has not flushed yet goes first
                    for older in held:
                        conn.client.sendall(older)
                    conn.client.sendall(chunk)
        except (OSError, ValueError):  # ValueError: the other pump closed the socket under select()
            pass
        with conn.lock:
            conn.ended = True
            if not conn.held:
                _hang_up(conn.client)


def _recv_upstream(conn: _Conn) -> bytes:
    """The engine's next bytes; on TLS, read only while holding the connection's TLS lock, never
    blocking inside it (the socket is non-blocking: wait for readability outside the lock)."""
    if not isinstance(conn.upstream, ssl.SSLSocket):
        return conn.upstream.recv(65536)
    while True:
        with conn.tls_lock:
            try:
                return conn.upstream.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
        select.select([conn.upstream], [], [], 0.05)


def _send_upstream(conn: _Conn, data: bytes) -> None:
    if not isinstance(conn.upstream, ssl.SSLSocket):
        conn.upstream.sendall(data)
        return
    view = memoryview(data)
    while view:
        with conn.tls_lock:
            try:
                view = view[conn.upstream.send(view):]
                continue
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
        select.select([], [conn.upstream], [], 0.05)


def _read_request(sock: socket.socket, buffer: bytes) -> tuple[tuple[str, str, bytes] | None, bytes]:
    """One HTTP/1.1 request (head and a Content-Length or chunked body) from `sock`, and what follows it."""
    while b"\r\n\r\n" not in buffer.lstrip(b"\r\n"):
        data = sock.recv(65536)
        if not data:
            return None, b""
        buffer += data
    buffer = buffer.lstrip(b"\r\n")  # empty lines before a request line are ignored (RFC 9112 2.2)
    head, rest = buffer.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, path, *_ = [*lines[0].split(" "), "", ""]  # a malformed line is forwarded as it is
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while b"\r\n0\r\n\r\n" not in b"\r\n" + rest:
            data = sock.recv(65536)
            if not data:
                return None, b""
            rest += data
        # The terminator's end, in `rest` (searched with the two bytes prepended, so less 2).
        end = (b"\r\n" + rest).index(b"\r\n0\r\n\r\n") + len(b"\r\n0\r\n\r\n") - 2
        body, buffer = rest[:end], rest[end:]
    else:
        length = int(headers.get("content-length", "0") or 0)
        while len(rest) < length:
            data = sock.recv(65536)
            if not data:
                return None, b""
            rest += data
        body, buffer = rest[:length], rest[length:]
    return (method, path, head + b"\r\n\r\n" + body), buffer


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST (SO_LINGER 0): the peer sees 'connection reset', not a clean end. The
    read side is shut first: a thread blocked reading this socket holds the file open, and the RST
    would only leave once it returns (a torn stream would look merely silent)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)
    _close(sock)


def _hang_up(sock: socket.socket) -> None:
    """A clean end (FIN) the client sees now: shut both ways first, since `_up` may be blocked reading
    this socket and a bare close would wait for that read (a kept-alive client would not notice)."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
