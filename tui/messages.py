"""Messages that cross from worker threads into the app: posted, never called.

Plain classes, as Textual writes its own: a dataclass is built at import, and these six cost ~10 M
instructions of the first frame for nothing it shows (bench/first_frame_instructions.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from mlops_tui.backends.state import FleetDelta, FleetState


class FleetUpdated(Message):
    """The Fleet published a new state (already coalesced to at most ~10 per second)."""

    def __init__(self, state: FleetState, delta: FleetDelta) -> None:
        super().__init__()
        self.state = state
        self.delta = delta


class FleetFailed(Message):
    """The Fleet could not be built (bad configuration found late, import failure)."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class NothingConfigured(Message):
    """The settings name no source at all (no kubeconfig, no Swarm, no Prometheus)."""


class VerificationLine(Message):
    """The Fleet reported progress on an applied action (from the verification thread)."""

    def __init__(self, verification: object, text: str) -> None:
        super().__init__()
        self.verification = verification
        self.text = text


class VerificationDone(Message):
    """An applied action has its outcome (verified, not converged, failed...), already audited."""

    def __init__(self, verification: object, outcome: object) -> None:
        super().__init__()
        self.verification = verification
        self.outcome = outcome


class VerificationCrashed(Message):
    """Following an applied action raised: a bug, reported to the operator and to the crash file."""

    def __init__(self, verification: object, error: BaseException) -> None:
        super().__init__()
        self.verification = verification
        self.error = error
