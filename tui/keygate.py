"""One key at a time: a key is handled only after the one before it has taken effect.

Textual's driver posts every key of one terminal read to the app before the app handles any of
them (a paste, `tmux send-keys BSpace 5`, a key held down, a laggy SSH link). The app routes each
key to the widget focused *at that moment*, and a key that is not typed text (backspace, enter, a
binding) comes back to the app to find its binding only after it bubbled through the widgets'
queues. So with keys queued up, `BSpace 5` typed 5 and then deleted it, `/bert` ran `b` and `t` as
commands because the filter had not got the focus yet, and a second enter confirmed a preview that
had not been drawn.

The gate holds each key until the app has settled after the previous one: every message that key
caused has been handled (the queues of the app and of the screen's widgets are empty) and no action
is between two of its screens (`waiting_for_screen`). Held keys keep their order and their `time`
(when they arrived), which the preview compares with the moment it was shown.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from time import monotonic
from typing import TYPE_CHECKING

from textual import events

if TYPE_CHECKING:
    from textual.app import App

TICK = 0.005
"""How often a held key checks whether the app has settled (seconds)."""

SETTLE_LIMIT = 1.0
"""A key is released after this long even if the app never looks idle (a busy fleet keeps posting
updates), so the keyboard can never freeze; confirmations are guarded by time, not by this gate."""

SCREEN_LIMIT = 60.0
"""How long keys wait for an action's next screen (planning talks to the engines, with timeouts)."""

UNGATED = frozenset({"ctrl+q", "ctrl+c"})
"""Quit and copy are never held back."""


class KeyGate:
    """Holds raw keys while the app is still handling the previous one; hands them out in order.

    A key that finds the app settled goes through at once, with no timer and no bookkeeping (the
    common case: one key at a time, as the dashboard is used). Only a key that finds work left over
    (or keys already waiting) is held, and the gate then checks every `TICK` until it can release it.
    """

    def __init__(self, app: App, dispatch: Callable[[events.Key], Awaitable[None]],
                 waiting_for_screen: Callable[[], bool]) -> None:
        self._app = app
        self._dispatch = dispatch
        self._waiting_for_screen = waiting_for_screen
        self._held: deque[events.Key] = deque()
        self._holding_since: float | None = None

    @property
    def held(self) -> int:
        """How many keys are waiting."""
        return len(self._held)

    def admit(self, event: events.Key) -> bool:
        """True: handle `event` now. False: it was queued behind earlier work and will be dispatched."""
        if event.key in UNGATED:
            return True
        if not self._held and not self._waiting_for_screen() and self._settled():
            return True
        self._held.append(event)
        if self._holding_since is None:
            self._holding_since = monotonic()
            self._app.set_timer(TICK, self._tick)
        return False

    async def _tick(self) -> None:
        if not self._app.is_running or not self._app.screen_stack:
            return  # the app is shutting down: nothing left to hand keys to
        waited = monotonic() - (self._holding_since or monotonic())
        ready = not self._waiting_for_screen() and self._settled()
        if not ready and (waited < SETTLE_LIMIT or (self._waiting_for_screen() and waited < SCREEN_LIMIT)):
            self._app.set_timer(TICK, self._tick)
            return
        event = self._held.popleft()
        if self._held:  # the next one waits for this one to take effect
            self._holding_since = monotonic()
            self._app.set_timer(TICK, self._tick)
        else:
            self._holding_since = None
        await self._dispatch(event)

    def _settled(self) -> bool:
        """Nothing left to handle from earlier keys: no message queued anywhere on the active screen
        or the app (the key being admitted is already out of the app's queue), and no callback
        waiting for the next refresh (focus moves through those)."""
        app = self._app
        pumps = [app, app.screen, *app.screen.walk_children()]
        return all(pump.message_queue_size == 0 and not getattr(pump, "_next_callbacks", None) for pump in pumps)
