"""A kept-alive connection the API server (or a proxy in front of it) closed while it sat in the pool.

Seen in the fault suite: right after the API server came back, the operator opened a scale preview and
got 'cannot reach demo-prod: Remote end closed connection without response'. A read is sent once more
on a new connection (as Go's net/http does for idempotent requests); a write never is, since it may have
arrived."""

from __future__ import annotations

import socket
import threading

import pytest

from mlops_tui.backends.kubernetes.client import ApiError, RawClient

OK = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
      b"Connection: keep-alive\r\n\r\n{}")


class ClosesAfterFirstAnswer:
    """On 127.0.0.1: every connection gets one answer; the next request on it is read, then the
    connection is closed without a byte (a server that dropped an idle keep-alive connection)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read_request(self, conn: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        self.requests.append(data.split(b" ", 1)[0].decode())
        return True

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            if self._read_request(conn):
                conn.sendall(OK)
            self._read_request(conn)  # ... and no answer

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def server():
    s = ClosesAfterFirstAnswer()
    yield s
    s.close()


def test_a_read_on_a_pooled_connection_the_server_closed_is_sent_again_on_a_new_one(server):
    client = RawClient.for_server(server.url)
    assert client.request("GET", "/version").json() == {}
    assert client.request("GET", "/apis/apps/v1/deployments").json() == {}  # not "cannot reach"
    assert server.requests == ["GET", "GET", "GET"]
    client.close()


def test_a_write_on_a_pooled_connection_the_server_closed_is_never_sent_twice(server):
    client = RawClient.for_server(server.url)
    client.request("GET", "/version")
    with pytest.raises(ApiError):
        client.request("PATCH", "/apis/apps/v1/namespaces/ml/deployments/m/scale", body={"spec": {}})
    assert server.requests == ["GET", "PATCH"]  # it may have arrived: the caller re-reads, never resends
    client.close()
