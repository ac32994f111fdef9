"""Will new GPU replicas find a node? A pure, engine-independent placement check for the scale preview.

Each replica is placed, one at a time, on ONE node that passes the scheduler's filters in the order
kube-scheduler runs them: the node is schedulable (not cordoned), its NoSchedule/NoExecute taints are
tolerated (a NotReady node counts as tainted `node.kubernetes.io/not-ready`), its labels meet the
replica's nodeSelector and required node affinity, and it has enough free units of EACH resource the
replica asks for (4 `nvidia.com/gpu` need 4 free `nvidia.com/gpu` there: MIG slices and shared GPUs are
other resources). Replicas already Pending for GPUs are placed first, as the scheduler's queue would.
A replica that fits nowhere gets the scheduler's own summary: `0/5 nodes are available: 1 node(s) had
untolerated taint {node.kubernetes.io/unreachable: }, 4 Insufficient nvidia.com/gpu.`

Backends translate their nodes and pod templates into `FitNode` / `ReplicaNeeds`; nothing here knows
an engine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from mlops_tui.backends.model import GpuNode, Taint

NOT_READY_TAINT = Taint("node.kubernetes.io/not-ready", "", "NoSchedule")
UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")
NODE_LOST_TAINT_KEYS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
"""PreferNoSchedule only lowers a node's score: it never keeps a pod off."""


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str = ""
    """Empty with operator Exists: tolerates every taint."""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""
    """Empty: every effect."""

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.operator == "Exists":
            return not self.key or self.key == taint.key
        return self.key == taint.key and self.value == taint.value


@dataclass(frozen=True, slots=True)
class Requirement:
    """One `matchExpressions` entry of a required node affinity term."""

    key: str
    operator: str
    """In, NotIn, Exists, DoesNotExist, Gt, Lt."""
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        if self.operator == "In":
            return value is not None and value in self.values
        if self.operator == "NotIn":
            return value is None or value not in self.values
        if self.operator == "Exists":
            return value is not None
        if self.operator == "DoesNotExist":
            return value is None
        if self.operator in ("Gt", "Lt") and value is not None and self.values:
            try:
                have, bound = int(value), int(self.values[0])
            except ValueError:
                return False
            return have > bound if self.operator == "Gt" else have < bound
        return False


@dataclass(frozen=True, slots=True)
class ReplicaNeeds:
    """What one replica of a service asks of a node (read from its pod template or task spec)."""

    requests: tuple[tuple[str, int], ...]
    """(resource, count), e.g. (('nvidia.com/gpu', 4),)."""
    tolerations: tuple[Toleration, ...] = ()
    node_selector: tuple[tuple[str, str], ...] = ()
    affinity_terms: tuple[tuple[Requirement, ...], ...] = ()
    """Required node affinity: a node must meet every requirement of at least ONE term (none: any node)."""

    def tolerates(self, taint: Taint) -> bool:
        return any(t.tolerates(taint) for t in self.tolerations)

    def selects(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.node_selector):
            return False
        return not self.affinity_terms or any(all(r.matches(labels) for r in term) for term in self.affinity_terms)


@dataclass(frozen=True, slots=True)
class FitNode:
    """A node as the placement check sees it: its state, labels, taints and free units per resource."""

    name: str
    free: Mapping[str, int] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    ready: bool = True
    schedulable: bool = True


def fit_node_of(gpu: GpuNode) -> FitNode:
    """A GPU node of the model, for the check (free units per resource, whatever its state)."""
    return FitNode(
        name=gpu.node,
        free={r.name: r.free for r in gpu.resources},
        labels=dict(gpu.labels),
        taints=gpu.taints,
        ready=gpu.ready,
        schedulable=gpu.schedulable,
    )


@dataclass(frozen=True, slots=True)
class FitResult:
    wanted: int
    """New replicas asked for."""
    placed: tuple[str, ...]
    """The node each new replica that fits would go to, in order."""
    reason: str = ""
    """The scheduler's words for the first new replica that fits nowhere ('' when all fit)."""
    pending_first: int = 0
    """Replicas already Pending that were placed (or tried) before the new ones."""
    remaining: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Free units per node and resource once the placed replicas took theirs: what the first replica that
    fits nowhere saw, for engines that word the refusal their own way (Swarm)."""

    @property
    def fit(self) -> int:
        return len(self.placed)

    @property
    def stay_pending(self) -> int:
        return self.wanted - self.fit

    def where(self) -> str:
        """'gpu-node-1, gpu-node-3×2'."""
        counts = Counter(self.placed)
        return ", ".join(f"{node}×{n}" if n > 1 else node for node, n in sorted(counts.items()))


def _blocking_taints(node: FitNode) -> list[Taint]:
    taints = [t for t in node.taints if t.effect in BLOCKING_EFFECTS]
    if not node.ready and not any(t.key in NODE_LOST_TAINT_KEYS for t in taints):
        taints.append(NOT_READY_TAINT)
    return taints


def _taint_text(taint: Taint) -> str:
    return f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"


def rejection(node: FitNode, needs: ReplicaNeeds, free: Mapping[str, int]) -> list[str]:
    """Why this node cannot take the replica, in the scheduler's words (empty: it can)."""
    if not node.schedulable and not needs.tolerates(UNSCHEDULABLE_TAINT):
        return ["node(s) were unschedulable"]
    untolerated = next((t for t in _blocking_taints(node) if not needs.tolerates(t)), None)
    if untolerated is not None:
        return [_taint_text(untolerated)]
    if not needs.selects(node.labels):
        return ["node(s) didn't match Pod's node affinity/selector"]
    return [f"Insufficient {name}" for name, count in needs.requests if free.get(name, 0) < count]


def scheduler_message(total_nodes: int, reasons: Counter) -> str:
    if not total_nodes:
        return "no nodes available to schedule pods"
    parts = sorted(f"{n} {reason}" for reason, n in reasons.items())
    return f"0/{total_nodes} nodes are available: {', '.join(parts)}."


def _place(
    needs: ReplicaNeeds, nodes: Sequence[FitNode], free: dict[str, dict[str, int]]
) -> tuple[str | None, Counter]:
    """Put one replica on the node with most room left (kube-scheduler's default spreads); take its units."""
    reasons: Counter = Counter()
    best: FitNode | None = None
    best_room = -1
    for node in nodes:
        rejected = rejection(node, needs, free[node.name])
        if rejected:
            reasons.update(rejected)
            continue
        room = sum(free[node.name].get(name, 0) - count for name, count in needs.requests)
        if room > best_room:
            best, best_room = node, room
    if best is None:
        return None, reasons
    for name, count in needs.requests:
        free[best.name][name] = free[best.name].get(name, 0) - count
    return best.name, reasons


def fit_replicas(needs: ReplicaNeeds, new: int, nodes: Iterable[FitNode], already_pending: int = 0) -> FitResult:
    """How many of `new` replicas find a node, where, and why the others will not.

    `nodes` are ALL the cluster's nodes (a CPU-only node counts in the scheduler's '0/N nodes' and
    reports 'Insufficient nvidia.com/gpu'); `already_pending` replicas of the same service are placed
    first and take their units before the new ones.
    """
    nodes = sorted(nodes, key=lambda n: n.name)
    free = {node.name: dict(node.free) for node in nodes}
    for _ in range(already_pending):
        node, _reason = _place(needs, nodes, free)
        if node is None:
            break  # nothing frees up for the queue behind it either
    placed: list[str] = []
    rejected: Counter = Counter()
    for _ in range(max(new, 0)):
        node, why = _place(needs, nodes, free)
        if node is None:
            rejected = why
            break
        placed.append(node)
    stuck = len(placed) < max(new, 0)
    return FitResult(
        wanted=max(new, 0),
        placed=tuple(placed),
        reason=scheduler_message(len(nodes), rejected) if stuck else "",
        pending_first=already_pending,
        remaining=free,
    )
