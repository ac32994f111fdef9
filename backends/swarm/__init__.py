"""Docker Swarm backend: every named Swarm manager watched live and acted upon.

Split as the design says: `client.py` (endpoints: unix://, tcp:// with TLS, ssh://, docker contexts;
the `docker` SDK is imported lazily), `watch.py` (events + periodic resync, the live cache, the
`SwarmBackend`), `translate.py` (pure Engine JSON -> domain model), `actions.py` (intent -> exact
`POST /services/{id}/update?version=N` calls). Importing this package is cheap.

Entry points for the CLI and the TUI:
- `backends.swarm.client.resolve_endpoints(values)`: `--swarm` values -> `SwarmEndpoint`s, or a
  one-line `SwarmConfigError` (defaults: $DOCKER_HOST, else the local socket if it is a Swarm manager).
- `backends.swarm.client.backends_from_settings(values)`: -> `SwarmBackend`s, ready for `Fleet.add_backend`.
- `SwarmBackend.describe(service)` / `.revisions(service)`: the detail screen and the rollback picker.
"""
