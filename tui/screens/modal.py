"""The one base every decision screen shares: it can be dismissed once.

Keys that arrive together (two enters, a key held down) can ask a screen to close twice before it
is gone; the second request would pop whatever screen lies below it (Textual raises
`ScreenStackError` when that is the last one). The guard is here, not in each dialog.
"""

from __future__ import annotations

from typing import TypeVar

from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen

ResultType = TypeVar("ResultType")


class OnceModalScreen(ModalScreen[ResultType]):
    """A modal screen whose result is given once; later dismissals are ignored."""

    dismissed = False
    """True once a result was given: the screen is leaving and takes no further decision."""

    def dismiss(self, result: ResultType | None = None) -> AwaitComplete:
        if self.dismissed:
            return AwaitComplete.nothing()
        self.dismissed = True
        return super().dismiss(result)
