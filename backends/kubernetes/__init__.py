"""Kubernetes backend: every named kubeconfig context watched live and acted upon.

Split as the design says: `client.py` (contexts, credentials, raw HTTP), `watch.py` (list+watch
reflectors, the live cache and the `KubernetesBackend`), `translate.py` (pure JSON -> domain model),
`actions.py` (intent -> exact API calls). The `kubernetes` package is imported lazily, only when a
backend is built, never on the app's first-frame path: importing this package is cheap.

Entry points for the CLI and the TUI:
- `backends.kubernetes.client.resolve_backends(...)`: options -> `KubernetesBackend`s, or a
  one-line `KubeConfigError`.
- `KubernetesBackend.revisions(key)`: the rollback picker's list of revisions.
"""
