"""What the simulated model servers print: believable access-log lines, deterministic from the replica's
name and the line's number (a resumed or repeated read sees the same lines). Shared by both simulators."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timezone

RATE = 2.0
"""Lines a second each replica prints."""
PATHS = ("/v1/models/{model}:predict", "/v2/models/{model}/infer", "/v1/models/{model}", "/healthz")


def rand(*parts: object) -> float:
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


def stamp(t: float) -> str:
    """RFC 3339 with nanoseconds, as the kubelet and dockerd write them."""
    whole = datetime.fromtimestamp(math.floor(t), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{round((t % 1) * 1e9) % 1_000_000_000:09d}Z"


def request_line(replica: str, model: str, k: int, slow: bool, sidecar: bool = False) -> str:
    """One access-log line; a slowed replica (the demo's regressed canary) answers about half its
    requests in 0.5-2 s, and says so at WARNING."""
    path = PATHS[int(rand(replica, k, "path") * len(PATHS))].format(model=model)
    method = "GET" if path.endswith(("healthz", model)) else "POST"
    r = rand(replica, k, "latency")
    latency = 500 + r * 1500 if slow and r > 0.54 else 8 + r * 60
    status = 503 if rand(replica, k, "status") < 0.004 else 200
    client = f"10.244.{int(rand(replica, k, 'a') * 250)}.{int(rand(replica, k, 'b') * 250)}"
    if sidecar:  # Envoy's default access log format, as the Istio sidecar prints it
        return (f'"{method} {path} HTTP/1.1" {status} - via_upstream - "-" 412 {int(latency) + 1} {int(latency)} '
                f'"{client}" "python-requests/2.32" "inbound|8080||"')
    level = "ERROR" if status >= 500 else ("WARNING" if latency > 500 else "INFO")
    return f'{level}:     {client}:{40000 + k % 20000} - "{method} {path} HTTP/1.1" {status} latency_ms={latency:.1f}'
