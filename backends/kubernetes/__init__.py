"""Kubernetes backend: every named kubeconfig context watched live and acted upon.

The modules, each depending only on those above it:
- `kubeconfig.py`: kubeconfig files merged as kubectl merges them, each context's settings and its
  credentials (token files, client certificates, exec plugins), refreshed on expiry and on 401.
- `client.py`: contexts -> targets, TLS and proxy, raw JSON over HTTP (`Transport`); nothing else.
- `translate.py`: pure functions, JSON -> facts and domain models.
- `liveness.py`: when every watch has gone quiet, a GET /version decides whether the server is frozen.
- `reflector.py`: list + watch of one resource in its own thread (relist on 410, bookmarks, backoff).
- `resources.py`: which resources are watched and how each is reduced before it is kept.
- `cache.py`: `ClusterCache`, the store, its indexes and derived joins behind a small read API.
- `access.py`: SelfSubjectAccessReview / SelfSubjectReview, the permissions each action needs.
- `view.py`: `PublishedView`, the cache translated into services, GPU nodes and `Change`s.
- `actions/`: one module per mechanism (planner and verifier), and the `ActionPlanner` door.
- `backend.py`: `KubernetesBackend`, the facade the fleet and the TUI talk to.

The `kubernetes` package is imported lazily, only when a backend is built, never on the app's
first-frame path: importing this package is cheap (it imports none of the modules above).

Entry points for the CLI and the TUI:
- `resolve_backends(...)` / `backends_from_settings(...)`: options -> `KubernetesBackend`s, or a
  one-line `KubeConfigError`.
- `KubernetesBackend.revisions(key)`: the rollback picker's list of revisions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_tui.backends.kubernetes.backend import KubernetesBackend


def resolve_backends(
    contexts: Sequence[str] = (),
    all_contexts: bool = False,
    kubeconfig: str | None = None,
    namespaces: Sequence[str] = (),
    selector: str = "",
    all_namespaces: bool = False,
) -> list[KubernetesBackend]:
    """What the CLI calls: options -> one `KubernetesBackend` per context.

    Raises `KubeConfigError` with a one-line message (unknown context, unreadable kubeconfig).
    """
    # Imported here: building a backend is when the client library and the cache are needed.
    from mlops_tui.backends.kubernetes.backend import KubernetesBackend
    from mlops_tui.backends.kubernetes.client import connect, resolve_targets

    targets = resolve_targets(contexts, all_contexts, kubeconfig, namespaces, selector, all_namespaces)
    return [KubernetesBackend(target, connect(target)) for target in targets]


def backends_from_settings(
    contexts: Sequence[str] = (),
    all_contexts: bool = False,
    kubeconfig: str | None = None,
    namespaces: Sequence[str] = (),
    selector: str = "",
    explicit: bool = False,
    all_namespaces: bool = False,
) -> list[KubernetesBackend]:
    """`resolve_backends` for the app's settings: without any Kubernetes option (`explicit` False) and
    without a kubeconfig, the operator simply has no Kubernetes clusters: no backend, no error."""
    from mlops_tui.backends.kubernetes.client import default_kubeconfig

    if not explicit and not os.path.exists(default_kubeconfig()):
        return []
    return resolve_backends(contexts, all_contexts, kubeconfig, namespaces, selector, all_namespaces)
