"""Docker Engine JSON (services, tasks, nodes, as `GET /services?status=true`, `/tasks`, `/nodes`
return them) -> the domain model. Pure functions: no client, no I/O, tested on recorded JSON.

Swarm facts these functions rely on (checked on dockerd 20.10, API 1.41):
- a task's assigned generic resources are serialised as `GenericResources` on the task (the Go field
  is `AssignedGenericResources`; both spellings are read);
- a service reserves GPUs as `TaskTemplate.Resources.Reservations.GenericResources[].DiscreteResourceSpec`
  (`--generic-resource NVIDIA-GPU=1`), while a node advertises them as `NamedResourceSpec` (one entry
  per GPU id) or `DiscreteResourceSpec` (a count);
- a task that cannot be placed stays `pending` with the scheduler's words in `Status.Err`, e.g.
  "no suitable node (insufficient resources on 1 node)";
- network names in a service spec are stored as network IDs (`Networks[].Target`).
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from mlops_tui.backends.gpu_fit import FitNode
from mlops_tui.backends.model import (
    SLO_ANNOTATION,
    ActionKind,
    BlueGreen,
    Canary,
    ColourState,
    Condition,
    EventInfo,
    GpuHolder,
    GpuNode,
    GpuResource,
    ModelService,
    PendingGpuWorkload,
    Platform,
    ReplicaInfo,
    Revision,
    ServiceDetail,
    ServiceKey,
    ServiceKind,
    freeze_labels,
    slo_from_annotation,
)
from mlops_tui.backends.swarm.memo import Memo

STACK_LABEL = "com.docker.stack.namespace"
CANARY_LABEL = "mlops.canary-of"
BLUEGREEN_LABEL = "mlops.bluegreen"
COLOUR_LABEL = "mlops.color"
ENVIRONMENT_LABEL = "mlops.environment"
VERSION_LABEL = "version"
PRODUCTION_VALUES = frozenset({"production", "prod"})

ALLOCATING_STATES = frozenset({"assigned", "accepted", "preparing", "ready", "starting", "running"})
"""Task states in which the scheduler has given the task its generic resources."""

UPDATE_STATES = ("updating", "paused", "completed", "rollback_started", "rollback_paused", "rollback_completed")


def is_gpu_kind(kind: str) -> bool:
    """`NVIDIA-GPU`, `GPU`, `gpu`, `AMD-GPU`...: any generic-resource kind naming a GPU."""
    return "GPU" in kind.upper()


def _d(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    """A count or index from the Engine API: an int, a numeric string, else 0 (never raises)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else 0
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return 0
    return 0


def parse_time(text: Any) -> datetime | None:
    """Docker's RFC 3339 timestamps carry nanoseconds; Python parses microseconds."""
    if not isinstance(text, str) or not text or text.startswith("0001-01-01"):
        return None
    value = text.replace("Z", "+00:00")
    if "." in value:
        head, rest = value.split(".", 1)
        digits = "".join(itertools.takewhile(str.isdigit, rest))
        zone = rest[len(digits):]
        value = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# -- generic resources ------------------------------------------------------------------------


def gpu_count(resources: Any) -> int:
    """GPUs in a GenericResources list: one per named GPU, `Value` per discrete GPU spec."""
    total = 0
    for item in _l(resources):
        named = _d(item.get("NamedResourceSpec"))
        if named and is_gpu_kind(str(named.get("Kind", ""))):
            total += 1
        discrete = _d(item.get("DiscreteResourceSpec"))
        if discrete and is_gpu_kind(str(discrete.get("Kind", ""))):
            with contextlib.suppress(TypeError, ValueError):
                total += _int(discrete.get("Value"))
    return total


def gpu_counts(resources: Any) -> dict[str, int]:
    """GPUs in a GenericResources list per kind ('NVIDIA-GPU', 'GPU', ...): kinds are never added up,
    since a service reserving `NVIDIA-GPU=1` cannot use a node's `AMD-GPU`."""
    counts: dict[str, int] = {}
    for item in _l(resources):
        named = _d(item.get("NamedResourceSpec"))
        kind = str(named.get("Kind", ""))
        if named and is_gpu_kind(kind):
            counts[kind] = counts.get(kind, 0) + 1
        discrete = _d(item.get("DiscreteResourceSpec"))
        kind = str(discrete.get("Kind", ""))
        if discrete and is_gpu_kind(kind):
            with contextlib.suppress(TypeError, ValueError):
                counts[kind] = counts.get(kind, 0) + _int(discrete.get("Value"))
    return {k: v for k, v in counts.items() if v > 0}


def gpu_kind(resources: Any) -> str:
    for item in _l(resources):
        for spec in ("NamedResourceSpec", "DiscreteResourceSpec"):
            kind = str(_d(item.get(spec)).get("Kind", ""))
            if kind and is_gpu_kind(kind):
                return kind
    return ""


def _ids_of_kind(resources: Any, kind: str) -> tuple[str, ...]:
    return tuple(
        str(_d(item.get("NamedResourceSpec")).get("Value", ""))
        for item in _l(resources)
        if str(_d(item.get("NamedResourceSpec")).get("Kind", "")) == kind
    )


def task_assigned_resources(task: Mapping[str, Any]) -> list:
    return _l(task.get("AssignedGenericResources")) or _l(task.get("GenericResources"))


# -- services ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceFacts:
    """What the other functions need from one service's JSON, read once."""

    id: str
    name: str
    stack: str
    labels: Mapping[str, str]
    replicated: bool
    replicas: int
    image: str
    version: str
    force_update: int
    gpus_per_replica: int
    gpu_kind: str
    gpu_requests: tuple[tuple[str, int], ...]
    """(generic resource kind, count) one task reserves."""
    version_index: int
    update_state: str
    update_message: str
    has_previous: bool
    previous_image: str
    previous_replicas: int | None
    constraints: tuple[str, ...]
    restart: Mapping[str, Any]
    networks: tuple[tuple[str, tuple[str, ...]], ...]
    """(network id, aliases) from TaskTemplate.Networks (or the deprecated Spec.Networks)."""
    status: Mapping[str, Any] = field(default_factory=dict)
    """ServiceStatus (API >= 1.41 with ?status=true): RunningTasks, DesiredTasks."""


def image_version(image: str, labels: Mapping[str, str] | None = None) -> str:
    """The `version` label when set, else the image tag ('' for an untagged or digest-only image)."""
    if labels and labels.get(VERSION_LABEL):
        return str(labels[VERSION_LABEL])
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ("latest" if ref else "")


def spec_networks(spec: Mapping[str, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    nets = _l(_d(spec.get("TaskTemplate")).get("Networks")) or _l(spec.get("Networks"))
    return tuple((str(_d(n).get("Target", "")), tuple(str(a) for a in _l(_d(n).get("Aliases")))) for n in nets)


def service_facts(service: Mapping[str, Any]) -> ServiceFacts:
    spec = _d(service.get("Spec"))
    template = _d(spec.get("TaskTemplate"))
    container = _d(template.get("ContainerSpec"))
    labels = {str(k): str(v) for k, v in _d(spec.get("Labels")).items()}
    mode = _d(spec.get("Mode"))
    replicated = "Global" not in mode and "GlobalJob" not in mode
    replicas = _int(_d(mode.get("Replicated")).get("Replicas")) if replicated else 0
    image = str(container.get("Image", ""))
    reservations = _d(_d(template.get("Resources")).get("Reservations")).get("GenericResources")
    update = _d(service.get("UpdateStatus"))
    previous = _d(service.get("PreviousSpec"))
    prev_mode = _d(previous.get("Mode"))
    prev_replicas = None
    if "Replicated" in prev_mode:
        prev_replicas = _int(_d(prev_mode.get("Replicated")).get("Replicas"))
    return ServiceFacts(
        id=str(service.get("ID", "")),
        name=str(spec.get("Name", "")),
        stack=labels.get(STACK_LABEL, ""),
        labels=labels,
        replicated=replicated,
        replicas=replicas,
        image=image,
        version=image_version(image, labels),
        force_update=_int(template.get("ForceUpdate")),
        gpus_per_replica=gpu_count(reservations),
        gpu_kind=gpu_kind(reservations),
        gpu_requests=tuple(sorted(gpu_counts(reservations).items())),
        version_index=_int(_d(service.get("Version")).get("Index")),
        update_state=str(update.get("State", "")),
        update_message=str(update.get("Message", "")),
        has_previous=bool(previous),
        previous_image=str(_d(_d(previous.get("TaskTemplate")).get("ContainerSpec")).get("Image", "")),
        previous_replicas=prev_replicas,
        constraints=tuple(str(c) for c in _l(_d(template.get("Placement")).get("Constraints"))),
        restart=_d(template.get("RestartPolicy")),
        networks=spec_networks(spec),
        status=_d(service.get("ServiceStatus")),
    )


def task_name(service_name: str, task: Mapping[str, Any]) -> str:
    """As `docker service ps` names tasks: `svc.<slot>`, or `svc.<node id>` for a global task."""
    slot = task.get("Slot") or 0
    return f"{service_name}.{slot}" if slot else f"{service_name}.{task.get('NodeID', '')}"


def readable_state(task: Mapping[str, Any]) -> str:
    """The task's Status.State as text ('' when missing or of another type)."""
    state = _d(task.get("Status")).get("State")
    return state if isinstance(state, str) else ""


def is_running(task: Mapping[str, Any]) -> bool:
    return task.get("DesiredState") == "running" and _d(task.get("Status")).get("State") == "running"


def is_current(facts: ServiceFacts, task: Mapping[str, Any]) -> bool:
    """The task runs the service's current spec: its image, ForceUpdate counter and network aliases
    (moving a blue-green alias replaces the tasks, as an image change does)."""
    spec = _d(task.get("Spec"))
    image = str(_d(spec.get("ContainerSpec")).get("Image", ""))
    if image != facts.image or _int(spec.get("ForceUpdate")) != facts.force_update:
        return False
    if "Networks" not in spec:
        return True
    task_nets = {(t, tuple(sorted(a))) for t, a in spec_networks({"TaskTemplate": spec})}
    return task_nets == {(t, tuple(sorted(a))) for t, a in facts.networks}


def eligible_nodes(nodes: Iterable[Mapping[str, Any]], constraints: Sequence[str]) -> int:
    """Nodes a global service runs on: ready, active, and matching the placement constraints."""
    count = 0
    for node in nodes:
        if _d(node.get("Status")).get("State") != "ready" or _d(node.get("Spec")).get("Availability") != "active":
            continue
        if all(constraint_matches(node, c) for c in constraints):
            count += 1
    return count


def constraint_matches(node: Mapping[str, Any], constraint: str) -> bool:
    """Swarm placement constraint `attr==value` / `attr!=value` on a node (unknown attributes match)."""
    op = "!=" if "!=" in constraint else "=="
    if op not in constraint:
        return True
    attr, want = (s.strip() for s in constraint.split(op, 1))
    spec = _d(node.get("Spec"))
    desc = _d(node.get("Description"))
    values: dict[str, str] = {
        "node.id": str(node.get("ID", "")),
        "node.hostname": str(desc.get("Hostname", "")),
        "node.role": str(spec.get("Role", "")),
        "node.platform.os": str(_d(desc.get("Platform")).get("OS", "")),
        "node.platform.arch": str(_d(desc.get("Platform")).get("Architecture", "")),
    }
    if attr.startswith("node.labels."):
        have = _d(spec.get("Labels")).get(attr[len("node.labels."):])
    elif attr.startswith("engine.labels."):
        have = _d(_d(desc.get("Engine")).get("Labels")).get(attr[len("engine.labels."):])
    elif attr in values:
        have = values[attr]
    else:
        return True
    equal = have is not None and str(have).lower() == want.lower()
    return equal if op == "==" else not equal


def _conditions(facts: ServiceFacts) -> tuple[Condition, ...]:
    out = []
    if facts.constraints:
        out.append(Condition("Placement", "True", "constraints", ", ".join(facts.constraints)))
    if facts.restart:
        parts = []
        if facts.restart.get("MaxAttempts"):
            parts.append(f"max {facts.restart['MaxAttempts']} attempts")
        if facts.restart.get("Delay"):
            parts.append(f"delay {_int(facts.restart['Delay']) / 1e9:g}s")
        if facts.restart.get("Window"):
            parts.append(f"window {_int(facts.restart['Window']) / 1e9:g}s")
        out.append(Condition("RestartPolicy", "True", str(facts.restart.get("Condition", "any")), ", ".join(parts)))
    out.append(Condition("PreviousSpec", "True" if facts.has_previous else "False",
                         "rollback available" if facts.has_previous else "no previous spec",
                         facts.previous_image))
    return tuple(out)


def production(facts: ServiceFacts, stack_production: frozenset[str] = frozenset()) -> bool:
    """Marked production: `mlops.environment=production` on the service, or on any service of its
    stack (a stack has no labels of its own), or a stack named production/prod."""
    if facts.labels.get(ENVIRONMENT_LABEL, "").lower() in PRODUCTION_VALUES:
        return True
    return bool(facts.stack) and (facts.stack in stack_production or facts.stack.lower() in PRODUCTION_VALUES)


def reachable_weights(total: int) -> tuple[int, ...]:
    """Canary weights a task-count split can reach with `total` replicas in all."""
    if total <= 0:
        return ()
    return tuple(sorted({round(100 * k / total) for k in range(total + 1)}))


def split_for_weight(weight: int, total: int) -> tuple[int, int, int]:
    """(stable replicas, canary replicas, weight actually reached) for `weight`% over `total`."""
    canary = max(0, min(total, round(weight * total / 100)))
    return total - canary, canary, round(100 * canary / total) if total else 0


def key_for(cluster: str, facts: ServiceFacts) -> ServiceKey:
    return ServiceKey(cluster, facts.stack, ServiceKind.SWARM_SERVICE, facts.name)


@dataclass(frozen=True, slots=True)
class _Piece:
    """One service id's share of a translation: its facts (None: no readable service of that id),
    its counts, its tasks that hold or wait for GPUs, and how many of its objects could not be read."""

    facts: ServiceFacts | None
    counts: tuple[int, int, int]
    gpu_tasks: tuple[Mapping[str, Any], ...]
    pending: tuple[Mapping[str, Any], ...]
    unreadable: int


@dataclass(slots=True)
class _Parts:
    """What a translation keeps for the next partial one: each service id's piece (with the bytes it
    came from), each service's model and the inputs it was made from, the nodes it read."""

    pieces: dict[str, tuple[tuple[bytes | None, ...], _Piece]]
    models: dict[str, tuple[tuple[Any, ...], ModelService]]
    nodes: Sequence[Mapping[str, Any]]
    readable_nodes: list[Mapping[str, Any]]
    canaries: dict[str, Canary]
    bluegreens: dict[str, BlueGreen]
    stack_production: frozenset[str]


@dataclass(frozen=True, slots=True)
class SwarmView:
    """One Swarm translated: what a full resync pushes to the Fleet."""

    services: Mapping[ServiceKey, ModelService]
    gpu_nodes: Mapping[str, GpuNode]
    pending_gpu: tuple[PendingGpuWorkload, ...]
    keys_by_id: Mapping[str, ServiceKey]
    unreadable: int = 0
    """Objects set aside because they could not be read (not an object, or a field of the wrong shape)."""
    parts: _Parts | None = field(default=None, compare=False, repr=False)
    """Kept for `translate_grouped`'s next partial translation."""
    touched: frozenset[ServiceKey] | None = field(default=None, compare=False, repr=False)
    """A partial translation: the only rows that may differ from the `previous` view's (None: any)."""


def _readable_task(task: Any) -> bool:
    """Every reading of a task below, tried once: a task that breaks one is set aside, not the Swarm."""
    facts = ServiceFacts(id="", name="", stack="", labels={}, replicated=True, replicas=0, image="", version="",
                         force_update=0, gpus_per_replica=0, gpu_kind="", gpu_requests=(), version_index=0,
                         update_state="", update_message="", has_previous=False, previous_image="",
                         previous_replicas=None, constraints=(), restart={}, networks=(), status={})
    if not isinstance(task, Mapping):
        return False
    try:
        is_running(task), is_current(facts, task), pending_tasks(facts, [task]), refused_by_scheduler([task])
        gpu_nodes("", [], [task], {}, {}), pending_gpu("", [task], {}, {})
    except Exception:
        return False
    return True


def _readable_node(node: Any) -> bool:
    if not isinstance(node, Mapping):
        return False
    try:
        gpu_nodes("", [node], [], {}, {})
        eligible_nodes([node], ())
    except Exception:
        return False
    return True


def _piece(service: Mapping[str, Any] | None, tasks: Sequence[Any], nodes: Sequence[Mapping[str, Any]]) -> _Piece:
    unreadable = 0
    facts = None
    if service is not None:
        try:
            facts = service_facts(service)
        except Exception:
            unreadable += 1
    readable = [t for t in tasks if _readable_task(t)]
    unreadable += len(tasks) - len(readable)
    return _Piece(
        facts=facts,
        counts=_counts(facts, readable, nodes) if facts is not None else (0, 0, 0),
        gpu_tasks=tuple(t for t in readable if task_assigned_resources(t)),
        pending=tuple(t for t in readable if t.get("DesiredState") == "running"
                      and _d(t.get("Status")).get("State") == "pending"),
        unreadable=unreadable,
    )


def _memo_get(memo: Memo, key: tuple[Any, ...], compute: Callable[[], Any], *raws: bytes | None) -> Any:
    """`compute()` through the memo, unless one of the objects it reads has no bytes (then each time)."""
    return compute() if None in raws else memo.get(key, compute)  # raws hold bytes or None only


def translate(
    cluster: str,
    services: Sequence[Mapping[str, Any]],
    tasks: Sequence[Mapping[str, Any]],
    nodes: Sequence[Mapping[str, Any]],
    memo: Memo | None = None,
) -> SwarmView:
    """Services, tasks and nodes of one Swarm -> services, GPU nodes and GPU-pending tasks.

    An object that cannot be read is set aside and counted (`unreadable`): one odd object never
    takes the rest of the Swarm off the screen. `memo` (kept by the caller between translations)
    reuses what unchanged objects gave last time; the result is the same without it."""
    by_id: dict[str, Mapping[str, Any]] = {}
    odd = 0
    for service in services:
        if isinstance(service, Mapping):
            by_id[str(service.get("ID", ""))] = service
        else:
            odd += 1
    grouped: dict[str, list[Any]] = {}
    for task in tasks:
        sid = str(task.get("ServiceID", "")) if isinstance(task, Mapping) else ""
        grouped.setdefault(sid, []).append(task)
    view = translate_grouped(cluster, by_id, grouped, nodes, memo)
    return SwarmView(view.services, view.gpu_nodes, view.pending_gpu, view.keys_by_id, view.unreadable + odd,
                     view.parts)


def translate_grouped(
    cluster: str,
    services: Mapping[str, Mapping[str, Any]],
    tasks_by_service: Mapping[str, Sequence[Any]],
    nodes: Sequence[Mapping[str, Any]],
    memo: Memo | None = None,
    previous: SwarmView | None = None,
    fresh: Collection[str] | None = None,
) -> SwarmView:
    """`translate`, from services by id and their tasks by service id.

    With `previous` (the last view translated from these objects) and `fresh` (the service ids read
    again since), only those services and their tasks are read anew; the others' pieces and rows are
    reused, and only the pairs (canary, blue-green) and stacks they belong to are looked at again: a
    one-service refresh of a 2,000-service Swarm costs that service, not 10,000 tasks. The nodes
    must be the very list `previous` was made from."""
    memo = memo if memo is not None else Memo()
    parts = previous.parts if previous is not None else None
    pieces: dict[str, tuple[tuple[bytes | None, ...], _Piece]]
    if parts is None or fresh is None or parts.nodes is not nodes:
        parts = None
        readable_nodes = [n for n in nodes if _readable_node(n)]
        nodes_key = memo.key(readable_nodes)
        moved = [*services, *(sid for sid in tasks_by_service if sid not in services)]
        pieces = {sid: _read_piece(memo, services.get(sid), tasks_by_service.get(sid, ()), readable_nodes, nodes_key)
                  for sid in moved}
    else:
        readable_nodes = parts.readable_nodes
        nodes_key = memo.key(readable_nodes)
        moved = list(fresh)
        pieces = dict(parts.pieces)
        for sid in moved:
            if sid in services or sid in tasks_by_service:
                pieces[sid] = _read_piece(memo, services.get(sid), tasks_by_service.get(sid, ()), readable_nodes,
                                          nodes_key)
            else:
                pieces.pop(sid, None)

    facts = [p.facts for _raws, p in pieces.values() if p.facts is not None]
    counts = {f.id: p.counts for _raws, p in pieces.values() if (f := p.facts) is not None}
    by_id = {f.id: f for f in facts}
    by_name = {f.name: f for f in facts}
    stack_production = frozenset(
        f.stack for f in facts if f.stack and f.labels.get(ENVIRONMENT_LABEL, "").lower() in PRODUCTION_VALUES
    )
    canaries = _canaries(facts, by_name)
    bluegreens = _bluegreens(facts, counts)

    old_models = parts.models if parts is not None else {}
    if parts is None or previous is None:
        affected: Iterable[str] = pieces
        models: dict[ServiceKey, ModelService] = {}
        made_by_id: dict[str, tuple[tuple[Any, ...], ModelService]] = {}
        keys_by_id: dict[str, ServiceKey] = {}
    else:
        # The rows that may differ: the services read again, the pairs whose canary or blue-green
        # moved (a partner's row shows the pair) and the stacks whose production mark moved.
        changed = {*moved}
        for now, before in ((canaries, parts.canaries), (bluegreens, parts.bluegreens)):
            changed.update(sid for sid in now.keys() | before.keys() if now.get(sid) != before.get(sid))
        if stack_production != parts.stack_production:
            stacks = stack_production ^ parts.stack_production
            changed.update(f.id for f in facts if f.stack in stacks)
        affected = changed
        models, made_by_id, keys_by_id = dict(previous.services), dict(old_models), dict(previous.keys_by_id)
        for sid in changed:
            if sid in made_by_id:
                models.pop(made_by_id.pop(sid)[1].key, None)
                keys_by_id.pop(sid, None)
    touched: set[ServiceKey] = set()
    for sid in affected:
        raws, piece = pieces.get(sid) or ((), None)
        f = piece.facts if piece is not None else None
        if f is None:
            if sid in old_models:
                touched.add(old_models[sid][1].key)
            continue
        key = key_for(cluster, f)
        made = ("model", cluster, raws[0], counts[f.id], canaries.get(f.id), bluegreens.get(f.id),
                production(f, stack_production))
        old = old_models.get(sid)
        if old is not None and old[0] == made and raws[0] is not None:
            model = old[1]  # nothing it was made from moved: the same object (the Fleet compares at once)
        else:
            # The same inputs give the same ModelService object (built only when they moved).
            model = _memo_get(memo, made, partial(_model, key, f, counts[f.id], canaries.get(f.id),
                                                  bluegreens.get(f.id), made[-1]), raws[0])
        if old is not None:
            touched.add(old[1].key)
        touched.add(key)
        models[key] = model
        made_by_id[sid] = (made, model)
        keys_by_id[f.id] = key

    if parts is None:
        memo.end()  # a partial translation used a few entries: the others stay for the next full one
    gpu_moved = pending_moved = True
    unreadable = sum(p.unreadable for _raws, p in pieces.values()) + len(nodes) - len(readable_nodes)
    if parts is not None and previous is not None:
        before_after = [piece for sid in moved for piece in ((parts.pieces.get(sid) or ((), None))[1],
                                                              (pieces.get(sid) or ((), None))[1]) if piece is not None]
        gpu_moved = any(p.gpu_tasks for p in before_after)
        pending_moved = any(p.pending for p in before_after)
    return SwarmView(
        services=models,
        # only the tasks that can hold GPUs or wait for them: the same result as from every task
        gpu_nodes=gpu_nodes(cluster, readable_nodes, [t for _r, p in pieces.values() for t in p.gpu_tasks],
                            by_id, keys_by_id) if gpu_moved or previous is None else previous.gpu_nodes,
        pending_gpu=pending_gpu(cluster, [t for _r, p in pieces.values() for t in p.pending], by_id, keys_by_id)
        if pending_moved or previous is None else previous.pending_gpu,
        keys_by_id=keys_by_id,
        unreadable=unreadable,
        parts=_Parts(pieces, made_by_id, nodes, readable_nodes, canaries, bluegreens, stack_production),
        touched=frozenset(touched) if parts is not None else None,
    )


def _read_piece(memo: Memo, service: Mapping[str, Any] | None, tasks: Sequence[Any],
                nodes: list[Mapping[str, Any]], nodes_key: bytes | None) -> tuple[tuple[bytes | None, ...], _Piece]:
    """One service id's piece, through the memo under the bytes of its service and its tasks (and of
    the nodes, for a global service whose desired count they decide)."""
    raws = (memo.key(service) if service is not None else b"", *(memo.key(t) for t in tasks))
    on_nodes = nodes_key if _counts_on_nodes(service) else b""
    return raws, _memo_get(memo, ("piece", on_nodes, *raws), partial(_piece, service, tasks, nodes),
                           on_nodes, *raws)


def _counts_on_nodes(service: Any) -> bool:
    """A global service with no ServiceStatus.DesiredTasks: its desired count is read from the nodes."""
    if not isinstance(service, Mapping):
        return False
    mode = _d(_d(service.get("Spec")).get("Mode"))
    return ("Global" in mode or "GlobalJob" in mode) and "DesiredTasks" not in _d(service.get("ServiceStatus"))


def _canaries(facts: Sequence[ServiceFacts], by_name: Mapping[str, ServiceFacts]) -> dict[str, Canary]:
    """Canary pairs: a canary is labelled mlops.canary-of=<stable name>."""
    canaries: dict[str, Canary] = {}
    for f in facts:
        stable = by_name.get(f.labels.get(CANARY_LABEL, ""))
        if stable is None or stable.id == f.id or not (stable.replicated and f.replicated):
            continue
        total = stable.replicas + f.replicas
        canary = Canary(
            source="swarm",
            stable_version=stable.version,
            canary_version=f.version,
            weight=round(100 * f.replicas / total) if total else None,
            message=f"{f.replicas} of {total} tasks on the canary {f.name}",
            reachable_weights=reachable_weights(total),
            stable_service=stable.name,
            canary_service=f.name,
        )
        canaries[stable.id] = canaries[f.id] = canary
    return canaries


def _bluegreens(facts: Sequence[ServiceFacts], counts: Mapping[str, tuple[int, int, int]]) -> dict[str, BlueGreen]:
    """Blue-green pairs: mlops.bluegreen=<alias>, mlops.color=<colour>; the alias holder is active."""
    groups: dict[str, list[ServiceFacts]] = {}
    for f in facts:
        if f.labels.get(BLUEGREEN_LABEL) and f.labels.get(COLOUR_LABEL):
            groups.setdefault(f.labels[BLUEGREEN_LABEL], []).append(f)
    bluegreens: dict[str, BlueGreen] = {}
    for alias, members in groups.items():
        active = next((m.labels[COLOUR_LABEL] for m in members if any(alias in a for _, a in m.networks)), "")
        colours = tuple(
            ColourState(m.labels[COLOUR_LABEL], counts[m.id][1], counts[m.id][0])
            for m in sorted(members, key=lambda m: m.labels[COLOUR_LABEL])
        )
        others = [c.name for c in colours if c.name != active]
        bg = BlueGreen(
            source="swarm",
            active=active,
            preview=others[0] if others else None,
            selector=((COLOUR_LABEL, active),) if active else (),
            selector_key=COLOUR_LABEL,
            colours=colours,
            router=alias,
        )
        for m in members:
            bluegreens[m.id] = bg
    return bluegreens


def _model(key: ServiceKey, f: ServiceFacts, counts: tuple[int, int, int], canary: Canary | None,
           blue_green: BlueGreen | None, is_production: bool) -> ModelService:
    desired, ready, updated = counts
    actions = {ActionKind.UPDATE_IMAGE, ActionKind.RESTART}
    if f.replicated:
        actions.add(ActionKind.SCALE)
    if f.has_previous:
        actions.add(ActionKind.ROLLBACK)
    if canary is not None:
        actions.add(ActionKind.CANARY_WEIGHT)
    if blue_green is not None and len(blue_green.colours) >= 2:
        actions.add(ActionKind.BLUE_GREEN_SWITCH)
    return ModelService(
        key=key,
        platform=Platform.SWARM,
        image=f.image,
        version=f.version,
        desired=desired,
        ready=ready,
        updated=updated,
        unavailable=max(desired - ready, 0),
        canary=canary,
        blue_green=blue_green,
        gpus_per_replica=f.gpus_per_replica,
        gpu_requests=f.gpu_requests,
        conditions=_conditions(f),
        labels=freeze_labels(f.labels),
        revision=str(f.version_index),
        rollout_state=f.update_state if f.update_state in UPDATE_STATES else "",
        rollout_message=f.update_message if f.update_state else "",
        replicated=f.replicated,
        actions=frozenset(actions),
        production=is_production,
        slo_seconds=slo_from_annotation(f.labels.get(SLO_ANNOTATION)),  # the label, as Kubernetes' annotation
    )


def _counts(
    facts: ServiceFacts, tasks: Iterable[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]]
) -> tuple[int, int, int]:
    """(desired, ready, updated) for one service."""
    running = [t for t in tasks if is_running(t)]
    if facts.replicated:
        desired = facts.replicas
    elif "DesiredTasks" in facts.status:
        desired = _int(facts.status["DesiredTasks"])
    else:
        desired = eligible_nodes(nodes, facts.constraints)
    return desired, len(running), sum(1 for t in running if is_current(facts, t))


def gpu_nodes(
    cluster: str,
    nodes: Sequence[Mapping[str, Any]],
    tasks: Iterable[Mapping[str, Any]],
    services_by_id: Mapping[str, ServiceFacts],
    keys_by_id: Mapping[str, ServiceKey],
) -> dict[str, GpuNode]:
    """One GpuNode per node that advertises GPUs, with the tasks holding them.

    A task holds its generic resources for as long as it actually runs, whatever its desired state:
    the tasks of a service being removed or scaled down keep their GPUs until they have stopped, and
    Swarm's scheduler will not give those GPUs to a new task before then.
    """
    holders: dict[str, list[GpuHolder]] = {}
    for task in tasks:
        if _d(task.get("Status")).get("State") not in ALLOCATING_STATES:
            continue
        assigned = task_assigned_resources(task)
        facts = services_by_id.get(str(task.get("ServiceID", "")))
        name = task_name(facts.name if facts else str(task.get("ServiceID", ""))[:12], task)
        for kind, count in sorted(gpu_counts(assigned).items()):
            holders.setdefault(str(task.get("NodeID", "")), []).append(GpuHolder(
                workload=name,
                gpus=count,
                service=keys_by_id.get(str(task.get("ServiceID", ""))),
                devices=_ids_of_kind(assigned, kind),
                resource=kind,
            ))
    out: dict[str, GpuNode] = {}
    for node in nodes:
        offered = gpu_counts(_d(_d(node.get("Description")).get("Resources")).get("GenericResources"))
        node_id = str(node.get("ID", ""))
        held = sorted(holders.get(node_id, ()), key=lambda h: (h.workload, h.resource))
        if not offered and not held:
            continue
        name = str(_d(node.get("Description")).get("Hostname", "")) or node_id
        spec = _d(node.get("Spec"))
        allocated: dict[str, int] = {}
        for holder in held:
            allocated[holder.resource] = allocated.get(holder.resource, 0) + holder.gpus
        out[name] = GpuNode(
            cluster=cluster,
            node=name,
            resources=tuple(
                GpuResource(kind, offered.get(kind, 0), offered.get(kind, 0), allocated.get(kind, 0))
                for kind in sorted(set(offered) | set(allocated))
            ),
            holders=tuple(held),
            ready=_d(node.get("Status")).get("State") == "ready",
            schedulable=spec.get("Availability", "active") == "active",
            labels=freeze_labels({**_d(spec.get("Labels")), "node.role": str(spec.get("Role", "")),
                                  "node.id": node_id}),
        )
    return out


PLACEMENT_LABEL = "placement"
"""The label `fit_nodes` gives each node: 'eligible' when the service's placement constraints allow it."""


def fit_nodes(cluster: str, nodes: Sequence[Mapping[str, Any]], tasks: Iterable[Mapping[str, Any]],
              constraints: Sequence[str]) -> list[FitNode]:
    """Every node for the GPU placement check: free units per generic-resource kind (what running tasks
    hold subtracted), ready (Status.State), schedulable (Availability active), and whether the service's
    placement constraints allow it."""
    gpus = gpu_nodes(cluster, nodes, list(tasks), {}, {})
    out = []
    for node in nodes:
        name = str(_d(node.get("Description")).get("Hostname", "")) or str(node.get("ID", ""))
        gpu = gpus.get(name)
        eligible = all(constraint_matches(node, c) for c in constraints)
        out.append(FitNode(
            name=name,
            free={r.name: r.free for r in gpu.resources} if gpu is not None else {},
            labels={PLACEMENT_LABEL: "eligible" if eligible else "excluded"},
            ready=_d(node.get("Status")).get("State") == "ready",
            schedulable=_d(node.get("Spec")).get("Availability", "active") == "active",
        ))
    return out


def pending_tasks(facts: ServiceFacts, tasks: Iterable[Mapping[str, Any]]) -> int:
    """Tasks of this service the scheduler has not placed yet (they wait before any new one)."""
    return sum(1 for t in tasks if t.get("ServiceID") == facts.id and t.get("DesiredState") == "running"
               and _d(t.get("Status")).get("State") == "pending")


def refused_by_scheduler(tasks: Iterable[Mapping[str, Any]]) -> list[str]:
    """Swarm's words ('no suitable node (insufficient resources on 1 node)') for each task it could not place."""
    return [str(_d(t.get("Status")).get("Err", "")) for t in tasks
            if t.get("DesiredState") == "running" and _d(t.get("Status")).get("State") == "pending"
            and "no suitable node" in str(_d(t.get("Status")).get("Err", ""))]


def pending_gpu(
    cluster: str,
    tasks: Iterable[Mapping[str, Any]],
    services_by_id: Mapping[str, ServiceFacts],
    keys_by_id: Mapping[str, ServiceKey],
) -> tuple[PendingGpuWorkload, ...]:
    """Tasks that want GPUs and are still pending, with Swarm's own reason."""
    out = []
    for task in tasks:
        status = _d(task.get("Status"))
        if task.get("DesiredState") != "running" or status.get("State") != "pending":
            continue
        facts = services_by_id.get(str(task.get("ServiceID", "")))
        wanted = gpu_counts(_d(_d(_d(task.get("Spec")).get("Resources")).get("Reservations")).get("GenericResources"))
        if not wanted and facts is not None:
            wanted = dict(facts.gpu_requests)
        if not wanted:
            continue
        out.append(PendingGpuWorkload(
            cluster=cluster,
            namespace=facts.stack if facts else "",
            name=task_name(facts.name if facts else "", task),
            requests=tuple(sorted(wanted.items())),
            message=str(status.get("Err") or status.get("Message") or "pending"),
            service=keys_by_id.get(str(task.get("ServiceID", ""))),
            since=parse_time(status.get("Timestamp")),
        ))
    return tuple(sorted(out, key=lambda p: (p.namespace, p.name)))


def detail(
    service: Mapping[str, Any], tasks: Iterable[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]]
) -> ServiceDetail:
    """The detail screen: tasks newest first with node, state and error; the two specs Swarm keeps."""
    facts = service_facts(service)
    hostnames = {str(n.get("ID", "")): str(_d(n.get("Description")).get("Hostname", "")) for n in nodes}
    ordered = sorted(tasks, key=lambda t: (str(t.get("CreatedAt", ""))), reverse=True)
    replicas = []
    events = []
    for task in ordered:
        status = _d(task.get("Status"))
        image = str(_d(_d(task.get("Spec")).get("ContainerSpec")).get("Image", ""))
        name = task_name(facts.name, task)
        replicas.append(ReplicaInfo(
            name=name,
            node=hostnames.get(str(task.get("NodeID", "")), str(task.get("NodeID", ""))),
            state=f"{status.get('State', '')} (desired {task.get('DesiredState', '')})",
            ready=is_running(task),
            gpus=gpu_count(task_assigned_resources(task)),
            message=str(status.get("Err") or status.get("Message") or ""),
            version=image_version(image),
        ))
        if status.get("Err"):
            events.append(EventInfo(reason=f"task {status.get('State', '')}", message=f"{name}: {status['Err']}",
                                    last_seen=parse_time(status.get("Timestamp"))))
    revisions = [Revision(str(facts.version_index), image=facts.image, version=image_version(facts.image),
                          current=True, held_by="Spec")]
    if facts.has_previous:
        differs = previous_difference(_d(service.get("Spec")), _d(service.get("PreviousSpec")))
        revisions.append(Revision("previous", image=facts.previous_image, version=image_version(facts.previous_image),
                                  held_by="PreviousSpec", differs=differs))
    notes = []
    if facts.update_state:
        notes.append(f"update {facts.update_state}: {facts.update_message}")
    return ServiceDetail(replicas=tuple(replicas), events=tuple(events), revisions=tuple(revisions), notes=tuple(notes))


def _env_map(spec: Mapping[str, Any]) -> dict[str, str]:
    env = _d(_d(spec.get("TaskTemplate")).get("ContainerSpec")).get("Env") or []
    return dict(str(item).partition("=")[::2] for item in env)


def previous_difference(spec: Mapping[str, Any], previous: Mapping[str, Any]) -> str:
    """What a rollback to PreviousSpec changes besides the image, for the picker: env names (never
    their values, which can be secrets), the replica count, a forced restart in between."""
    parts = []
    now_env, old_env = _env_map(spec), _env_map(previous)
    changed = sorted(k for k in now_env.keys() | old_env.keys() if now_env.get(k) != old_env.get(k))
    if changed:
        parts.append(f"env {', '.join(changed)} differs")
    now_replicas = _d(_d(spec.get("Mode")).get("Replicated")).get("Replicas")
    old_replicas = _d(_d(previous.get("Mode")).get("Replicated")).get("Replicas")
    if now_replicas != old_replicas and old_replicas is not None:
        parts.append(f"replicas {old_replicas} (now {now_replicas})")
    if _d(spec.get("TaskTemplate")).get("ForceUpdate") != _d(previous.get("TaskTemplate")).get("ForceUpdate"):
        parts.append("before the last forced restart")
    return " · ".join(parts)
