"""HTTP/1.1 on 127.0.0.1: bearer auth, faults, JSON answers, chunked list pages and watch streams."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from mlops_tui.sim.kube import errors, tables
from mlops_tui.sim.kube.api import Api, Response, WatchPlan
from mlops_tui.sim.kube.auth import User
from mlops_tui.sim.kube.errors import ApiError
from mlops_tui.sim.kube.store import Store, WatchEvent

PUBLIC = frozenset({"/version", "/healthz", "/livez", "/readyz", "/version/"})
ANONYMOUS = User("system:anonymous", ("system:unauthenticated",), False)


class Faults:
    """Injected misbehaviour: the next N requests fail or are slow; open watches are cut."""

    def __init__(self, store: Store) -> None:
        self._lock = threading.Lock()
        self._fail: list[int] = []
        self._delay: list[float] = []
        self._store = store

    def fail_next(self, n: int, status: int = 503) -> None:
        with self._lock:
            self._fail.extend([status] * n)

    def delay_next(self, n: int, seconds: float) -> None:
        with self._lock:
            self._delay.extend([seconds] * n)

    def close_watches(self) -> None:
        self._store.close_watches()

    def take(self) -> tuple[int | None, float]:
        with self._lock:
            status = self._fail.pop(0) if self._fail else None
            delay = self._delay.pop(0) if self._delay else 0.0
        return status, delay


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sim: KubeServer) -> None:
        self.sim = sim
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        if self.sim.ssl_context is not None:
            # The handshake happens in the handler's thread, so a slow client never blocks accept().
            sock = self.sim.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet on client hang-ups
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # As the API server does (Go sets TCP_NODELAY on every connection): with Nagle on, a body or a
    # watch event written after another small write waited for the client's delayed ACK (40 ms).
    disable_nagle_algorithm = True
    server_version = "kube-apiserver-sim"
    server: _Httpd
    peer_cert: dict | None = None
    """The client certificate the TLS handshake verified, if the client sent one."""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        if hasattr(self.request, "do_handshake"):
            self.request.settimeout(30)
            self.request.do_handshake()
            self.request.settimeout(None)
            self.peer_cert = self.request.getpeercert() or None
        super().setup()
        self.server.sim.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sim.track(self.connection, False)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def _serve(self, method: str) -> None:
        sim = self.server.sim
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, delay = sim.faults.take()
            if delay:
                time.sleep(delay)
            if status is not None:
                raise ApiError(status, {503: "the server is currently unable to handle the request"}.get(
                    status, f"injected fault {status}"))
            user = sim.api.auth.authenticate(self.headers.get("Authorization"), self.peer_cert)
            if user is None and parts.path in PUBLIC:
                user = ANONYMOUS  # system:public-info-viewer lets anyone read these
            if user is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            resp = sim.api.handle(method, parts.path, query, headers, body, user)
        except ApiError as exc:
            resp = Response(exc.code, orjson.dumps(exc.status()))
        except Exception as exc:
            err = ApiError(500, f"Internal error occurred: {type(exc).__name__}: {exc}", "InternalError")
            resp = Response(500, orjson.dumps(err.status()))
        try:
            if resp.watch is not None:
                self._stream_watch(resp.watch)
            elif isinstance(resp.body, bytes):
                self._send(resp.status, resp.body, resp.content_type)
            else:
                self._send_chunked(resp.status, resp.body, resp.content_type)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def _send(self, status: int, data: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(data)

    def _start_chunked(self, status: int, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _send_chunked(self, status: int, parts: Any, ctype: str) -> None:
        self._start_chunked(status, ctype)
        for part in parts:
            self._chunk(part)
            self.wfile.flush()  # a followed log is read as it is written
        self.wfile.write(b"0\r\n\r\n")

    # -- watch ---------------------------------------------------------------------------------

    def _stream_watch(self, plan: WatchPlan) -> None:
        sim = self.server.sim
        store = sim.store
        watcher, replay, floor = store.watch(plan.rt.plural, plan.since, plan.namespace or None)
        self._start_chunked(200, "application/json")
        if watcher is None:
            self._chunk(orjson.dumps(errors.expired_event(plan.since or 0, floor or 0)) + b"\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        sim.watches.add(watcher)
        state = {"headers": True}
        try:
            for ev in replay:
                self._emit(plan, ev, state)
            if plan.initial_events_end:
                self._bookmark(plan, store.rv, initial_end=True)
            self.wfile.flush()
            deadline = time.monotonic() + plan.timeout
            next_bookmark = time.monotonic() + sim.bookmark_interval
            while not sim.stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                got: WatchEvent | bool | None
                try:
                    got = watcher.queue.get(timeout=min(left, max(0.05, next_bookmark - time.monotonic()), 1.0))
                except Exception:  # queue.Empty
                    got = False
                if got is None:
                    break
                if got is False:
                    if plan.bookmarks and time.monotonic() >= next_bookmark:
                        self._bookmark(plan, store.rv)
                        self.wfile.flush()
                        next_bookmark = time.monotonic() + sim.bookmark_interval
                    continue
                assert isinstance(got, WatchEvent)
                self._emit(plan, got, state)
                # drain whatever else is queued before flushing once
                while True:
                    try:
                        more = watcher.queue.get_nowait()
                    except Exception:
                        break
                    if more is None:
                        watcher.closed = True
                        break
                    self._emit(plan, more, state)
                self.wfile.flush()
                if watcher.closed:
                    break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        finally:
            store.unwatch(watcher)
            sim.watches.discard(watcher)

    def _emit(self, plan: WatchPlan, ev: WatchEvent, state: dict[str, bool]) -> None:
        obj = ev.entry.obj
        meta = obj["metadata"]
        if plan.namespace and meta.get("namespace") != plan.namespace:
            return
        typ = ev.type
        if plan.predicate is not None:
            now_ok = plan.predicate(obj)
            if typ == "MODIFIED":
                was_ok = ev.old is not None and plan.predicate(ev.old)
                if now_ok and not was_ok:
                    typ = "ADDED"
                elif was_ok and not now_ok:
                    typ = "DELETED"
                elif not now_ok:
                    return
            elif not now_ok:
                return
        if plan.table:
            tbl = tables.table(plan.rt.plural, [obj], {"resourceVersion": meta.get("resourceVersion", "")},
                               plan.include, headers=state["headers"])
            state["headers"] = False
            line = orjson.dumps({"type": typ, "object": tbl}) + b"\n"
        elif typ == ev.type:
            line = ev.line()
        else:
            line = b'{"type":"' + typ.encode() + b'","object":' + ev.entry.raw + b"}\n"
        self._chunk(line)

    def _bookmark(self, plan: WatchPlan, rv: int, initial_end: bool = False) -> None:
        if plan.table:
            return
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        self._chunk(orjson.dumps({"type": "BOOKMARK", "object": {"kind": plan.rt.kind,
                                                                 "apiVersion": plan.rt.api_version,
                                                                 "metadata": meta}}) + b"\n")


class KubeServer:
    """The HTTP front of one simulated cluster; `restart()` keeps the port."""

    def __init__(self, api: Api, store: Store, faults: Faults, port: int = 0, bookmark_interval: float = 5.0,
                 tls: bool = True) -> None:
        from mlops_tui.sim.kube.tls import server_context

        self.ssl_context = server_context() if tls else None
        self.api = api
        self.store = store
        self.faults = faults
        self.bookmark_interval = bookmark_interval
        self.stopping = threading.Event()
        self.watches: set[Any] = set()
        self._conns: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self.port = port
        self._httpd: _Httpd | None = None
        self._thread: threading.Thread | None = None

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._conn_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def start(self) -> None:
        self.stopping.clear()
        httpd = None
        for _ in range(50):
            try:
                httpd = _Httpd(("127.0.0.1", self.port), self)
                break
            except OSError:
                if not self.port:
                    raise
                time.sleep(0.1)
        if httpd is None:
            raise OSError(f"cannot bind 127.0.0.1:{self.port}")
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.25},
                                        name=f"sim-kube-http-{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.store.close_watches()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        with self._conn_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
