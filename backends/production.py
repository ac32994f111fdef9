"""Which clusters and namespaces are production, and which actions there need the name typed.

The config's `[actions] production` lists patterns (shell globs, as `fnmatch` reads them, case
sensitive): `"prod-*"` marks every namespace (Swarm: stack) of each cluster whose name matches;
`"prod-a/ml-prod"` or `"*/ml-prod"` marks the namespaces that match in the clusters that match.
A service is production when the config or its engine says so (the `environment=production` label
on the namespace, the service or its stack): the config adds production, it never removes it.

In production, every action that reduces serving capacity or moves traffic asks for the service's
name typed (scale down, autoscaler maximum below the current replicas, canary weight, promote,
abort, retry, blue-green switch, rollback); scaling up, image updates and restarts keep a single
confirmation (their previews say what they do).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from mlops_tui.backends.vocabulary import ActionKind

if TYPE_CHECKING:
    from mlops_tui.backends.model import ModelService
    from mlops_tui.backends.plans import Intent

MOVES_TRAFFIC = frozenset({ActionKind.CANARY_WEIGHT, ActionKind.PROMOTE, ActionKind.PROMOTE_FULL,
                           ActionKind.ABORT, ActionKind.RETRY, ActionKind.BLUE_GREEN_SWITCH, ActionKind.ROLLBACK})
"""Actions that send requests to other pods than now: typed in production whatever the direction."""


def pattern_problem(pattern: object) -> str:
    """Why `pattern` cannot mark production ('' when it can)."""
    if not isinstance(pattern, str) or not pattern.strip():
        return f"{pattern!r} is not a non-empty string"
    parts = pattern.split("/")
    if len(parts) > 2 or not all(parts) or pattern != pattern.strip():
        return (f"{pattern!r} is not CLUSTER or CLUSTER/NAMESPACE (globs allowed, e.g. \"prod-*\", "
                "\"*/ml-prod\")")
    return ""


@dataclass(frozen=True, slots=True)
class ProductionScope:
    """The config's production patterns, checked (see `pattern_problem`) before they get here."""

    patterns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for pattern in self.patterns:
            if problem := pattern_problem(pattern):
                raise ValueError(problem)

    def matches(self, cluster: str, namespace: str) -> bool:
        for pattern in self.patterns:
            cluster_glob, _, namespace_glob = pattern.partition("/")
            if fnmatchcase(cluster, cluster_glob) and (not namespace_glob or fnmatchcase(namespace, namespace_glob)):
                return True
        return False

    def production(self, service: ModelService) -> bool:
        """The engine's marker or the config's: either one makes a service production."""
        return service.production or self.matches(service.key.cluster, service.key.namespace)


def needs_typed_name(service: ModelService, intent: Intent) -> bool:
    """Does this intent, on this production service, reduce serving capacity or move traffic?"""
    # Here, not at the top: the config reads this module before the first frame, which needs no plan.
    from mlops_tui.backends.plans import Scale, SetAutoscalerBounds

    if intent.kind in MOVES_TRAFFIC:
        return True
    if isinstance(intent, Scale):
        return intent.replicas < service.desired
    if isinstance(intent, SetAutoscalerBounds):
        return intent.max_replicas < service.desired  # the autoscaler would scale it down at once
    return False
