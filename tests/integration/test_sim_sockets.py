"""The simulators answer as promptly as the servers they stand for. dockerd, the API server,
Prometheus and Alertmanager are Go servers, and Go sets TCP_NODELAY on every connection; a
simulator that left Nagle on made each answer on a kept-alive connection wait for the client's
delayed ACK (40 ms: `GET /tasks` of one service took 48 ms, not 3), and every freshness figure
measured against it carried that wait."""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from urllib.parse import urlsplit

import pytest

from mlops_tui.sim.alertmanager import SimAlertmanager
from mlops_tui.sim.docker import SimSwarm
from mlops_tui.sim.kube import SimKubeCluster
from mlops_tui.sim.prometheus import SimPrometheus

pytestmark = pytest.mark.integration


@pytest.fixture
def accepted(monkeypatch):
    """(handler class, TCP_NODELAY) for every connection a simulator accepts during the test."""
    seen: list[tuple[str, int]] = []
    done = threading.Event()
    setup = socketserver.StreamRequestHandler.setup

    def recording_setup(self) -> None:
        setup(self)
        seen.append((type(self).__name__, self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))
        done.set()

    monkeypatch.setattr(socketserver.StreamRequestHandler, "setup", recording_setup)
    return seen, done


def connect_once(url: str, accepted) -> tuple[str, int]:
    seen, done = accepted
    done.clear()
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as raw:
        if parts.scheme == "https":  # the API server's handler starts after the TLS handshake
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            context.wrap_socket(raw, server_hostname=parts.hostname).close()
        assert done.wait(10), f"the simulator at {url} never accepted the connection"
    return seen[-1]


@pytest.mark.parametrize("simulator", ["dockerd", "kube-apiserver", "prometheus", "alertmanager"])
def test_every_simulator_sends_each_answer_at_once_as_the_go_servers_do(simulator, accepted):
    started = {
        "dockerd": lambda: SimSwarm.start(seed=1, fleet="demo"),
        "kube-apiserver": lambda: SimKubeCluster.start(name="sim-nodelay", fleet="empty"),
        "prometheus": lambda: SimPrometheus.start(evaluate_rules=False),
        "alertmanager": lambda: SimAlertmanager.start(),
    }[simulator]()
    try:
        handler, nodelay = connect_once(started.url, accepted)
        assert nodelay, f"{simulator} ({handler}) leaves Nagle on: answers wait for the client's delayed ACK"
    finally:
        started.stop()
