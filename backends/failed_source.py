"""A source that could not be set up, shown as such: its error in the status bar, in place of data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from mlops_tui.backends.base import Change, ChangeSink
from mlops_tui.backends.model import ClusterHealth, ClusterRef, HealthState, Platform


@dataclass
class FailedSource:
    """Stands in for a source that could not be set up, so the operator sees why (in the status bar)."""

    name: str
    error: str
    platform: Platform | None = None
    cluster: ClusterRef | None = field(default=None)

    def start(self, sink: ChangeSink) -> None:
        sink(Change(source=self.name, health=ClusterHealth(source=self.name, platform=self.platform,
                                                           state=HealthState.ERROR,
                                                           since=datetime.now(timezone.utc), error=self.error)))

    def stop(self) -> None:
        pass
