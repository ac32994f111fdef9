"""A confirmed plan being applied and followed to its outcome, in a thread of its own.

A daemon thread, so that it outlives the progress screen (esc sends the wait to the background) and
never keeps the process alive after the operator quits (an executor thread would, until the
verification timed out; the Fleet audits such an action as applied and not verified).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING

from textual.message import Message

from mlops_tui.backends.plans import ActionOutcome, ActionPlan
from mlops_tui.tui.messages import VerificationCrashed, VerificationDone, VerificationLine

if TYPE_CHECKING:
    from mlops_tui.backends.fleet import Fleet


class Verification:
    """One confirmed plan being applied and followed to its outcome, off the UI thread.

    The thread only posts messages (`VerificationLine`, `VerificationDone`, `VerificationCrashed`);
    the app keeps `lines` and `outcome` up to date from them and routes them to the screen or row.
    """

    def __init__(self, post: Callable[[Message], object], fleet: Fleet, plan: ActionPlan, typed: str,
                 timeout: float) -> None:
        self.plan = plan
        self.lines: list[str] = []
        self.outcome: ActionOutcome | None = None
        self.deadline = monotonic() + timeout
        self._post_message = post
        self._fleet = fleet
        self._typed = typed
        self._timeout = timeout

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"verify-{self.plan.id}", daemon=True).start()

    def _run(self) -> None:
        try:
            outcome = self._fleet.apply(self.plan, confirmed_text=self._typed, verify_timeout=self._timeout,
                                        progress=lambda text: self._post(VerificationLine(self, text)))
        except Exception as exc:  # Fleet.apply audits and reports engine errors itself: this is a bug
            self._post(VerificationCrashed(self, exc))
            return
        self._post(VerificationDone(self, outcome))

    def _post(self, message: Message) -> None:
        with contextlib.suppress(RuntimeError):  # the app quit and its loop is closed: nobody is left to tell
            self._post_message(message)
