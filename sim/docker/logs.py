"""`GET /services/{id}/logs` and `GET /tasks/{id}/logs`: what the simulated tasks print, in the engine's
own wire format (api/server/httputils/write_log_stream.go, pkg/stdcopy): with `details=true` each line
starts with the task's attributes (`com.docker.swarm.node.id=…,com.docker.swarm.service.id=…,
com.docker.swarm.task.id=…`), with `timestamps=true` the time comes before them, and each line is one
frame of the multiplexed stream: an 8-byte header (stream 1 stdout / 2 stderr, three zero bytes, the
payload's length as a big-endian uint32) then the payload. `docker service logs` decodes exactly that.
"""

from __future__ import annotations

import heapq
import struct
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from mlops_tui.sim import requestlog
from mlops_tui.sim.docker.state import ApiError
from mlops_tui.sim.requestlog import RATE, stamp

HISTORY = 3600.0


def frame(payload: bytes, stream: int = 1) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def _started(task: dict[str, Any]) -> float:
    text = str(task.get("CreatedAt") or "")
    base, _, frac = text.rstrip("Z").partition(".")
    try:
        return datetime.fromisoformat(base + "+00:00").timestamp() + float("0." + (frac or "0"))
    except ValueError:
        return time.time()


def _attrs(task: dict[str, Any]) -> bytes:
    return (f"com.docker.swarm.node.id={task.get('NodeID', '')},"
            f"com.docker.swarm.service.id={task['ServiceID']},com.docker.swarm.task.id={task['ID']}").encode()


def stream(tasks: list[dict[str, Any]], model: str, q: dict[str, str], slow: bool,
           running: Callable[[], bool]) -> Iterator[bytes]:
    """Check the parameters (a 400 before anything is sent), then every task's lines merged in time order."""
    if q.get("stdout") not in ("1", "true") and q.get("stderr") not in ("1", "true"):
        raise ApiError(400, "Bad parameters: you must choose at least one stream")
    if q.get("stdout") not in ("1", "true"):
        return iter(())  # the simulated servers print on stdout only
    details, timestamps = q.get("details") in ("1", "true"), q.get("timestamps") in ("1", "true")
    follow = q.get("follow") in ("1", "true")
    tail = q.get("tail", "all")
    now = time.time()
    since = float(q["since"]) if q.get("since") not in (None, "", "0") else 0.0
    live = [t for t in tasks if t["Status"]["State"] in ("running", "complete", "failed", "shutdown")]

    def line(task: dict[str, Any], k: int) -> bytes:
        start = _started(task)
        text = requestlog.request_line(task["ID"], model, k, slow).encode()
        prefix = (stamp(start + k / RATE).encode() + b" " if timestamps else b"") + (
            _attrs(task) + b" " if details else b"")
        return frame(prefix + text + b"\n")

    def ks(task: dict[str, Any]) -> range:
        start = _started(task)
        first = max(0, int((max(since, now - HISTORY) - start) * RATE) + 1)
        last = int((now - start) * RATE)
        if tail.isdigit():
            first = max(first, last + 1 - int(tail))
        return range(first, last + 1)

    def body() -> Iterator[bytes]:
        history = heapq.merge(*[[(_started(t) + k / RATE, i, k) for k in ks(t)] for i, t in enumerate(live)])
        batch = [line(live[i], k) for _, i, k in history]
        for n in range(0, len(batch), 512):
            yield b"".join(batch[n:n + 512])
        nexts = [ks(t).stop for t in live]
        while follow and running():
            due = [(_started(t) + nexts[i] / RATE, i) for i, t in enumerate(live)]
            if not due:
                return
            at, i = min(due)
            if at > time.time():
                time.sleep(min(at - time.time(), 0.5))
                continue
            yield line(live[i], nexts[i])
            nexts[i] += 1

    return body()
