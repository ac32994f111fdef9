"""`GET /api/v1/namespaces/{ns}/pods/{name}/log`: what the simulated containers print.

Each container prints believable request lines (a model server's access log; the Istio sidecar's in
Envoy's format) at `RATE` lines a second from its start, deterministically from the pod's name and the
line's number, so a resumed or repeated read sees the same lines. The parameters and refusals are the
API server's (pkg/registry/core/pod/strategy.go LogLocation, pkg/kubelet/kubelet_pods.go
GetContainerLogs): `container` (required when the pod has several), `previous`, `sinceSeconds`,
`sinceTime`, `tailLines`, `timestamps`, `follow`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from mlops_tui.sim import requestlog
from mlops_tui.sim.kube.errors import ApiError
from mlops_tui.sim.requestlog import RATE, stamp

HISTORY = 3600.0
"""The oldest line kept, in seconds before now (the kubelet rotates its files)."""


def _created(pod: dict[str, Any]) -> float:
    status = pod.get("status") or {}
    stamp_ = status.get("startTime") or (pod.get("metadata") or {}).get("creationTimestamp") or ""
    try:
        return datetime.fromisoformat(str(stamp_).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()


def _model(pod: dict[str, Any]) -> str:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return str(labels.get("serving.kserve.io/inferenceservice") or labels.get("app") or
               (pod.get("metadata") or {}).get("name", "model").rsplit("-", 2)[0])


def request_line(pod: dict[str, Any], container: str, k: int, slow: bool) -> str:
    name = str((pod.get("metadata") or {}).get("name") or "")
    return requestlog.request_line(f"{name}/{container}", _model(pod), k, slow, sidecar=container == "istio-proxy")


def _container(pod: dict[str, Any], name: str, pod_name: str) -> str:
    names = [str(c.get("name") or "") for c in (pod.get("spec") or {}).get("containers") or ()]
    if not name:
        if len(names) == 1:
            return names[0]
        raise ApiError(400, f"a container name must be specified for pod {pod_name}, choose one of: "
                            f"[{' '.join(names)}]", "BadRequest")
    if name not in names:
        raise ApiError(400, f"container {name} is not valid for pod {pod_name}", "BadRequest")
    return name


def _status(pod: dict[str, Any], container: str) -> dict[str, Any]:
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        if status.get("name") == container:
            return status
    return {}


def plan(pod: dict[str, Any], query: dict[str, str], slow: bool, now: float | None = None,
         alive: Callable[[], bool] = lambda: True) -> Iterator[bytes]:
    """Check the request (raising the API server's 400s before anything is sent), then the body."""
    pod_name = str((pod.get("metadata") or {}).get("name") or "")
    container = _container(pod, query.get("container", ""), pod_name)
    status = _status(pod, container)
    previous = query.get("previous") in ("true", "1")
    now = time.time() if now is None else now
    start = max(_created(pod), now - HISTORY)
    if previous:
        ended = ((status.get("lastState") or {}).get("terminated") or {})
        if not ended:
            raise ApiError(400, f'previous terminated container "{container}" in pod "{pod_name}" not found',
                           "BadRequest")
        return _lines(pod, container, query, slow, start - 120, start, follow=False, crashed=ended)
    state = status.get("state") or {}
    if "running" not in state and "terminated" not in state:
        reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
        raise ApiError(400, f'container "{container}" in pod "{pod_name}" is waiting to start: {reason}',
                       "BadRequest")
    follow = query.get("follow") in ("true", "1") and "running" in state
    return _lines(pod, container, query, slow, start, now, follow=follow, alive=alive)


def _lines(pod: dict[str, Any], container: str, query: dict[str, str], slow: bool, start: float, now: float,
           follow: bool, crashed: dict[str, Any] | None = None, alive: Callable[[], bool] = lambda: True,
           ) -> Iterator[bytes]:
    timestamps = query.get("timestamps") in ("true", "1")
    since = start
    if query.get("sinceSeconds", "").isdigit():
        since = max(start, now - int(query["sinceSeconds"]))
    elif query.get("sinceTime"):
        try:
            since = max(start, datetime.fromisoformat(query["sinceTime"].replace("Z", "+00:00")).timestamp())
        except ValueError:
            raise ApiError(400, f'parsing time "{query["sinceTime"]}" as RFC3339: cannot parse',
                           "BadRequest") from None
    first = max(0, math.ceil((since - start) * RATE))
    last = math.floor((now - start) * RATE)
    if query.get("tailLines", "").isdigit():
        first = max(first, last + 1 - int(query["tailLines"]))

    def line(k: int, text: str | None = None) -> bytes:
        t = start + k / RATE
        body = text if text is not None else request_line(pod, container, k, slow)
        return ((stamp(t) + " " if timestamps else "") + body + "\n").encode()

    def body() -> Iterator[bytes]:
        chunk = [line(k) for k in range(first, last + 1)]
        if crashed is not None:
            reason = crashed.get("reason") or "Error"
            chunk.append(line(last, "Traceback (most recent call last):"))
            chunk.append(line(last, f"RuntimeError: CUDA error: out of memory ({reason}, exit code "
                                    f"{crashed.get('exitCode', 1)})"))
        for i in range(0, len(chunk), 512):
            yield b"".join(chunk[i:i + 512])
        k = last + 1
        while follow and alive():
            wait = start + k / RATE - time.time()
            if wait > 0:
                time.sleep(min(wait, 1.0))
                continue
            yield line(k)
            k += 1

    return body()
