"""The words of the domain model that need no dataclass: its enums, label pairs and a few helpers.

Apart from `backends/model.py` (which re-exports every name) because the first frame needs these and
none of the model's dataclasses: Python 3.11 compiles each dataclass's generated methods as the module
is imported, about a tenth of the app's instructions to its first frame (bench/startup.py).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

Labels = tuple[tuple[str, str], ...]
"""Labels as sorted (key, value) pairs: hashable and cheap to compare, unlike a dict."""


def freeze_labels(labels: Mapping[str, str] | None) -> Labels:
    """Turn an engine's label map into our sorted, hashable form; non-string values become text."""
    if not labels:
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in labels.items()))


class Platform(enum.Enum):
    K8S = "k8s"
    SWARM = "swarm"


class ServiceKind(enum.Enum):
    DEPLOYMENT = "Deployment"
    ROLLOUT = "Rollout"
    INFERENCE_SERVICE = "InferenceService"
    SWARM_SERVICE = "SwarmService"


class ActionKind(enum.Enum):
    """What an operator can ask of a service; backends say which ones each service supports."""

    SCALE = "scale"
    SET_AUTOSCALER_BOUNDS = "set-autoscaler-bounds"
    CANARY_WEIGHT = "canary-weight"
    PROMOTE = "promote"
    PROMOTE_FULL = "promote-full"
    ABORT = "abort"
    RETRY = "retry"
    BLUE_GREEN_SWITCH = "blue-green-switch"
    ROLLBACK = "rollback"
    UPDATE_IMAGE = "update-image"
    RESTART = "restart"
    SILENCE = "silence"
    EXPIRE_SILENCE = "expire-silence"


class HealthState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    STALE = "stale"
    """Connection lost after a good sync: the data shown is the last known."""
    ERROR = "error"
    """Never synced (unreachable, refused credentials, bad config)."""


class AlertState(enum.Enum):
    FIRING = "firing"
    PENDING = "pending"
    SILENCED = "silenced"
    INHIBITED = "inhibited"


class Severity(enum.IntEnum):
    """Ordered so that sorting descending puts the loudest first."""

    NONE = 0
    INFO = 1
    WARNING = 2
    CRITICAL = 3

    @classmethod
    def parse(cls, text: str | None) -> Severity:
        value = (text or "").strip().lower()
        if value in ("critical", "crit", "page", "error", "high", "p1"):
            return cls.CRITICAL
        if value in ("warning", "warn", "medium", "p2"):
            return cls.WARNING
        if value in ("info", "informational", "low", "notice", "p3"):
            return cls.INFO
        return cls.NONE


GPU_RESOURCE_PREFIX = "nvidia.com/"


def short_resource_name(name: str) -> str:
    """How a GPU resource reads in a narrow column: 'nvidia.com/mig-1g.5gb' -> 'mig-1g.5gb'."""
    return name[len(GPU_RESOURCE_PREFIX) :] if name.startswith(GPU_RESOURCE_PREFIX) else name


SLO_ANNOTATION = "mlops-tui.io/slo-p95-ms"
"""Workload annotation (Kubernetes) or service label (Swarm): the p95 latency SLO in milliseconds."""


def slo_from_annotation(value: str | None) -> float | None:
    """`SLO_ANNOTATION`'s value ('250', '250ms', '0.5s') in seconds; None when absent, not a
    positive finite number, or in a unit it does not name (an unreadable SLO paints nothing red)."""
    if not value:
        return None
    text = value.strip().lower()
    scale = 1000.0
    if text.endswith("ms"):
        text = text[:-2]
    elif text.endswith("s"):
        text, scale = text[:-1], 1.0
    try:
        number = float(text.strip())
    except ValueError:
        return None
    return number / scale if 0 < number < float("inf") else None


class SloSource(enum.Enum):
    """Where a service's SLO came from, most specific first (the order they are consulted)."""

    CONFIG = "config"
    """The operator's per-service `[prometheus.slo]` entry."""
    ANNOTATION = "annotation"
    """`SLO_ANNOTATION` on the workload."""
    ALERT_RULE = "alert rule"
    """The threshold of a Prometheus alert rule on the service's p95 latency."""
    CONFIG_DEFAULT = "config default"
    """The operator's explicit `slo_ms` for services none of the above covers."""
