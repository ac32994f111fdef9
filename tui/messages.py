"""Messages that cross from worker threads into the app. Typed dataclasses, posted, never called."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from backends.state import FleetDelta, FleetState


@dataclass
class FleetUpdated(Message):
    """The Fleet published a new state (already coalesced to at most ~10 per second)."""

    state: FleetState
    delta: FleetDelta


@dataclass
class FleetFailed(Message):
    """The Fleet could not be built (bad configuration found late, import failure)."""

    error: str
