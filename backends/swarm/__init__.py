"""Docker Swarm backend: every named Swarm manager watched live and acted upon.

One package, layered so that nothing imports upwards (no import cycle):
- `client.py`: every Engine API call. Endpoints (unix://, tcp:// with TLS, ssh://, docker contexts;
  the `docker` SDK is imported lazily) and `EngineClient` (services, tasks, nodes, the events stream,
  any call with an explicit timeout, `EngineError` with dockerd's message).
- `translate.py`: pure Engine JSON -> domain model.
- `actions.py`: intent -> exact `POST /services/{id}/update?version=N` calls, applied and verified
  through an `EngineClient` (it never sees the live cache).
- `watch.py`: events + periodic resync, the live cache, and the facade `SwarmBackend` (the Fleet's
  `ActionBackend`, `DescribesServices`, `ListsRevisions`), which hands its client to the actions.
Importing this package is cheap (the engine specs are read before the first frame): the client, the
SDK and the cache load when a backend is built.

Entry points for the CLI and the TUI:
- `backends.swarm.client.resolve_endpoints(values)`: `--swarm` values -> `SwarmEndpoint`s, or a
  one-line `SwarmConfigError` (defaults: $DOCKER_HOST, else the local socket if it is a Swarm manager).
- `backends.swarm.backends_from_settings(values)`: -> `SwarmBackend`s, ready for `Fleet.add_backend`.
- `SwarmBackend.describe(service)` / `.revisions(service)`: the detail screen and the rollback picker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def backends_from_settings(values: Sequence[str] | None = None, *, resync_seconds: float = 5.0,
                           env: Mapping[str, str] | None = None) -> list[Any]:
    """What `tui.sources` calls: `--swarm` values -> one started-later `SwarmBackend` each.

    Names are made unique ('local', 'local-2') because the Fleet keys sources by name."""
    from mlops_tui.backends.swarm.client import endpoint_name, resolve_endpoints
    from mlops_tui.backends.swarm.watch import SwarmBackend  # here: the cache is not loaded on import

    backends = []
    used: set[str] = set()
    for endpoint in resolve_endpoints(values, env):
        name = base = endpoint_name(endpoint)
        n = 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        backends.append(SwarmBackend(endpoint, name=name, resync_seconds=resync_seconds))
    return backends
