"""The Swarm backend's log stream on the real Swarm (dockerd started by .ci/start-swarm.sh): a real
service prints lines, the backend delivers them named as `docker service logs` names its tasks."""

from __future__ import annotations

import threading
import time

from mlops_tui.backends.model import LogLine, LogOptions, Platform, ServiceKind
from tests.fakes import service
from tests.integration.test_swarm_backend import Lab, docker, lab, swarm_engine, wait_for  # noqa: F401
from tests.integration.test_swarm_backend import backend as backend

PRINTS = ["sh", "-c", 'i=0; while true; do i=$((i+1)); echo "request $i"; echo -e "\\033[31mred $i\\033[0m"; '
                      "sleep 0.2; done"]


def test_a_real_service_prints_and_the_backend_streams_every_task_with_its_prefix(backend, lab: Lab):  # noqa: F811
    name = lab.create("printer", "--replicas", "2", "mlops/busybox:1", *PRINTS)
    wait_for("two running tasks", lambda: docker("service", "ls", "--filter", f"name={name}",
                                                  "--format", "{{.Replicas}}") == "2/2", 60)
    target = service(name, cluster=backend.name, namespace="", kind=ServiceKind.SWARM_SERVICE, platform=Platform.SWARM)
    lines: list[LogLine] = []
    statuses: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(target=backend.stream_logs,
                              args=(target, LogOptions(since_seconds=60), lines.append, statuses.append, stop),
                              daemon=True)
    thread.start()
    try:
        wait_for("lines from both tasks", lambda: len({line.source for line in lines}) == 2 and len(lines) > 8, 60)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    sources = {line.source for line in lines}
    assert {s.split("@")[0].rsplit(".", 2)[1] for s in sources} == {"1", "2"}
    assert all(s.startswith(f"{name}.") and "@" in s for s in sources)
    texts = [line.text for line in lines]
    assert any(t.startswith("request ") for t in texts)
    assert any("\x1b[31mred" in t for t in texts), "colour codes reach the view, which strips them"
    assert len({(line.source, line.text) for line in lines}) == len(lines)
    started = time.monotonic()
    assert backend.log_sources(target).replicas == tuple(sorted(sources))
    assert time.monotonic() - started < 10
