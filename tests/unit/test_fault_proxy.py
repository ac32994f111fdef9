"""The fault suite's own tool (tests/faults.py): a frozen engine that answered and closed while frozen
delivers, once woken, its answer and then its close, as TCP would; a client must never be left on a
connection whose engine side is gone (a watch would wait out its 90 s idle timeout and miss changes)."""

from __future__ import annotations

import socket
import threading

from tests.faults import FaultProxy, _read_request

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"


def answering_then_closing() -> tuple[socket.socket, threading.Event]:
    """An engine on 127.0.0.1 that reads one request, answers it and closes the connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    closed = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            conn.sendall(ANSWER)
        closed.set()

    threading.Thread(target=serve, daemon=True).start()
    return listener, closed


def test_an_answer_and_close_held_by_a_freeze_both_reach_the_client_on_wake():
    engine, closed = answering_then_closing()
    proxy = FaultProxy("127.0.0.1", engine.getsockname()[1])
    try:
        proxy.set_mode("freeze")
        client = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        client.sendall(b"GET /watch HTTP/1.1\r\nHost: x\r\n\r\n")
        assert closed.wait(10)  # the engine answered and hung up while the proxy held it all
        assert proxy.wait_for_faulted(1, timeout=10)
        proxy.wake()
        received = b""
        while chunk := client.recv(4096):  # a timeout here (socket.timeout) is the defect: no end
            received += chunk
        assert received == ANSWER
        client.close()
    finally:
        proxy.close()
        engine.close()


def test_a_chunked_request_and_the_next_one_on_the_same_connection_are_both_read_whole():
    """A chunked body's end was misread by two bytes: the next request on that kept-alive connection
    began with an empty line and killed the proxy's reader, leaving the client's call hanging."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.sendall(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                     b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        first, rest = _read_request(theirs, b"")
        second, rest = _read_request(theirs, rest)
    assert first is not None and first[:2] == ("POST", "/a") and first[2].endswith(b"0\r\n\r\n")
    assert second is not None and second[:2] == ("GET", "/b") and rest == b""
