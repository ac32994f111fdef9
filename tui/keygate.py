"""One key at a time: a key is handled only after the one before it has taken effect.

Textual's driver posts every key of one terminal read to the app before the app handles any of
them (a paste, `tmux send-keys BSpace 5`, a key held down, a laggy SSH link). The app routes each
key to the widget focused *at that moment*, and a key that is not typed text (backspace, enter, a
binding) comes back to the app to find its binding only after it bubbled through the widgets'
queues. So with keys queued up, `BSpace 5` typed 5 and then deleted it, `/bert` ran `b` and `t` as
commands because the filter had not got the focus yet, and a second enter confirmed a preview that
had not been drawn.

The gate holds each key until the app has settled after the previous one: the key itself has
finished its way (a key the app sent on to a widget is on its way until it comes back up to the
app's bindings or a widget stops it), every message it caused has been handled (the queues of the
app and of the screen's widgets hold nothing but repaint bookkeeping) and no action is between two
of its screens (`waiting_for_screen`). Empty queues alone do not say it: a message being handled is
out of its queue, and under load CI saw `:` still on its way up while every queue was empty; the
next letters went to the dashboard and the prompt never got them.

A screen whose keys act at once on its own state (the log view: priority bindings, no focus moves)
sets `KEYS_WAIT_FOR_REPAINTS = False`: there, repaint bookkeeping (`Update`, `Layout`,
`UpdateScroll`, `Prompt`: a widget asking the compositor for its next frame) is not counted as a
key's unfinished work. Counted, it held every key pressed on the log view under a flood (its drains
ask for a frame ten times a second), each until a quiet moment between two drains. Elsewhere it is
still counted: a dialog's field gets the focus only once the dialog is laid out.

Held keys keep their order and their `time` (when they arrived), which the preview compares with the
moment it was shown.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from time import monotonic
from typing import TYPE_CHECKING

from textual import events, messages

if TYPE_CHECKING:
    from textual.app import App
    from textual.message_pump import MessagePump

TICK = 0.005
"""How often a held key checks whether the app has settled (seconds)."""

SETTLE_LIMIT = 1.0
"""A key is released after this long even if the app never looks idle (a busy fleet keeps posting
updates), so the keyboard can never freeze; confirmations are guarded by time, not by this gate."""

SCREEN_LIMIT = 60.0
"""How long keys wait for an action's next screen (planning talks to the engines, with timeouts)."""

UNGATED = frozenset({"ctrl+q", "ctrl+c"})
"""Quit and copy are never held back."""

REPAINT = (messages.Update, messages.Layout, messages.UpdateScroll, messages.Prompt)
"""Messages that only ask for the next frame (not counted where `KEYS_WAIT_FOR_REPAINTS` is False)."""


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
        self._on_its_way: events.Key | None = None
        self._at_the_app = False

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
        self.sent(event)

    def sent(self, event: events.Key) -> None:
        """The app's first look at `event` is over (no binding of its own took it). If it was sent on
        to a widget, later keys wait until it comes back up (`came_back`) or a widget stops it. Called
        before the widget can run: nothing is awaited between sending a key on and this call."""
        if event.is_forwarded:
            self._on_its_way, self._at_the_app = event, False

    def coming_back(self, event: events.Key) -> None:
        """`event` has bubbled up to the app, whose bindings are about to run."""
        if event is self._on_its_way:
            self._at_the_app = True

    def came_back(self, event: events.Key) -> None:
        """`event`'s bindings on the app have run: its way is over."""
        if event is self._on_its_way:
            self._on_its_way = None

    def _still_on_its_way(self, pumps: Sequence[MessagePump]) -> bool:
        """The last key sent on is queued somewhere, being handled by a widget, or at the app's
        bindings. A widget that takes a key stops it; but the screen also stops a key it passes up
        to the app (the app sent it), so a stopped key is over only once it is in no queue."""
        key = self._on_its_way
        if key is None:
            return False
        if self._at_the_app or not getattr(key, "_stop_propagation", False):
            return True
        return any(_holds(pump, key) for pump in pumps)

    def _settled(self) -> bool:
        """Nothing left to handle from earlier keys: no message waiting anywhere on the active screen
        or the app (the key being admitted is already out of the app's queue), and no callback
        waiting for the next refresh (focus moves through those). On a screen that says its keys do
        not wait for repaints, queued repaint bookkeeping does not count, but a widget still being
        composed does (its queue may be empty while the key would land on nothing)."""
        app = self._app
        screen = app.screen
        pumps = [app, screen, *screen.walk_children()]
        if self._still_on_its_way(pumps):
            return False
        if getattr(screen, "KEYS_WAIT_FOR_REPAINTS", True):
            return all(not _anything_waiting(pump) and not getattr(pump, "_next_callbacks", None) for pump in pumps)
        return all(getattr(pump, "is_mounted", True) and not _work_queued(pump)
                   and not getattr(pump, "_next_callbacks", None) for pump in pumps)


def _waiting(pump: MessagePump) -> list[object] | None:
    """The messages posted to `pump` and not yet taken up: its queue, and the one it peeked at.
    While a pump handles a message it takes the next one out of its queue (`_pending_message`) to
    see whether it supersedes the first, so `message_queue_size` does not count it: CI saw `:` sit
    there, on its way up to the app's bindings, while the gate let the next letters through.
    None when Textual's internals have changed shape."""
    queued = getattr(getattr(pump, "_message_queue", None), "values", None)
    if queued is None or not hasattr(pump, "_pending_message"):
        return None
    peeked = pump._pending_message
    return [*queued, peeked] if peeked is not None else list(queued)


def _anything_waiting(pump: MessagePump) -> bool:
    # Checked on every widget for every key: no list built.
    return bool(pump.message_queue_size) or getattr(pump, "_pending_message", None) is not None


def _holds(pump: MessagePump, message: events.Key) -> bool:
    waiting = _waiting(pump)
    return waiting is not None and any(queued is message for queued in waiting)


def _work_queued(pump: MessagePump) -> bool:
    waiting = _waiting(pump)
    if waiting is None:  # Textual's queue changed shape: count everything, as before
        return pump.message_queue_size > 0
    return any(not isinstance(message, REPAINT) for message in waiting)
