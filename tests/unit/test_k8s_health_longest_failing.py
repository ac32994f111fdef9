"""Two of a cluster's watches are failing: the header names the one that has been failing longest, with
the time it started failing, so the operator reads how long the cluster has really been stale."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from mlops_tui.backends.base import Change
from mlops_tui.backends.kubernetes.backend import KubernetesBackend
from mlops_tui.backends.kubernetes.client import ClusterTarget
from mlops_tui.backends.kubernetes.reflector import Reflector
from mlops_tui.backends.kubernetes.resources import CORE_RESOURCES
from mlops_tui.backends.model import HealthState
from tests.unit.test_k8s_watch import backend_api

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_the_stale_header_names_the_watch_failing_longest_and_since_when() -> None:
    backend = KubernetesBackend(ClusterTarget("prod", None, "https://p", "amy"), backend_api(),
                                check_access=False)
    changes: list[Change] = []
    backend._sink = changes.append
    backend._synced_once = True
    api = backend_api()
    recent, oldest = (Reflector(api, spec, backend) for spec in CORE_RESOURCES[1:3])
    backend.reflectors.extend([recent, oldest])
    recent.failing_since, recent.error = T0, "recent: connection reset"
    oldest.failing_since, oldest.error = T0 - timedelta(minutes=5), "oldest: connection refused"

    backend._refresh_health()

    health = changes[-1].health
    assert health is not None and health.state is HealthState.STALE
    assert health.error == f"{oldest.spec.name}: oldest: connection refused"
    assert health.since == T0 - timedelta(minutes=5)
