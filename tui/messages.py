"""Messages that cross from worker threads into the app. Typed dataclasses, posted, never called."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from mlops_tui.backends.state import FleetDelta, FleetState


@dataclass
class FleetUpdated(Message):
    """The Fleet published a new state (already coalesced to at most ~10 per second)."""

    state: FleetState
    delta: FleetDelta


@dataclass
class FleetFailed(Message):
    """The Fleet could not be built (bad configuration found late, import failure)."""

    error: str


@dataclass
class NothingConfigured(Message):
    """The settings name no source at all (no kubeconfig, no Swarm, no Prometheus)."""


@dataclass
class VerificationLine(Message):
    """The Fleet reported progress on an applied action (from the verification thread)."""

    verification: object
    text: str


@dataclass
class VerificationDone(Message):
    """An applied action has its outcome (verified, not converged, failed...), already audited."""

    verification: object
    outcome: object


@dataclass
class VerificationCrashed(Message):
    """Following an applied action raised: a bug, reported to the operator and to the crash file."""

    verification: object
    error: BaseException
