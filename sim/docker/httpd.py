"""A small threaded HTTP/1.1 JSON server on 127.0.0.1 that the simulators share.

Each simulator subclasses `Handler` with its routes; `Server` binds a port chosen by the OS and
runs in a daemon thread until `stop()`. (Shared by sim.prometheus and sim.alertmanager too.)
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson


def _dumps(payload: Any, fast: bool) -> bytes:
    """Compact JSON. `fast`: orjson (10,000 Swarm tasks are 8 MB, written while the Swarm's lock is
    held), json for what it refuses (huge ints); orjson writes NaN as null, so it is opt-in."""
    if fast:
        try:
            return orjson.dumps(payload)
        except TypeError:
            pass
    return json.dumps(payload, separators=(",", ":")).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # As dockerd, Prometheus and Alertmanager do (Go sets TCP_NODELAY on every connection). With
    # Nagle on, the body written after the headers waited for the client's delayed ACK: every
    # answer on a kept-alive connection took 40 ms more than the work it cost.
    disable_nagle_algorithm = True
    server_version = "sim"
    extra_headers: dict[str, str] = {}
    fast_json = False
    """Bodies written with orjson (see `_dumps`)."""

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    # --- helpers -------------------------------------------------------------------------
    def parsed(self) -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        return parts.path, parse_qs(parts.query, keep_blank_values=True)

    def handle_one_request(self) -> None:
        self._body_read = False
        super().handle_one_request()
        # A route that answered without reading the body (an error, an unknown path) must still
        # consume it, or its bytes would be parsed as the next request on this keep-alive connection.
        if not self.close_connection and getattr(self, "command", None) and not self._body_read:
            try:
                self.body()
            except (OSError, ValueError):
                self.close_connection = True

    def body(self) -> bytes:
        self._body_read = True
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def json_body(self) -> Any:
        raw = self.body()
        return json.loads(raw) if raw.strip() else None

    def send(self, status: int, payload: Any = None, *, content_type: str = "application/json",
             raw: bytes | None = None, head: bool = False, headers: dict[str, str] | None = None) -> None:
        data = raw if raw is not None else b"" if payload is None else _dumps(payload, self.fast_json) + b"\n"
        self.send_response(status)
        for key, value in {**self.extra_headers, **(headers or {})}.items():
            self.send_header(key, value)
        if data or raw is not None or payload is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head and data:
            self.wfile.write(data)

    def start_chunked(self, status: int = 200, content_type: str = "application/json") -> None:
        self.send_response(status)
        for key, value in self.extra_headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class Server:
    """Run `handler_cls` on 127.0.0.1:<free port> in a daemon thread; `context` reaches the handler
    as `self.server.context`."""

    def __init__(self, handler_cls: type[Handler], context: Any, port: int = 0) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler_cls)
        self.httpd.daemon_threads = True
        self.httpd.context = context  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                       name=f"sim-http-{self.port}", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
