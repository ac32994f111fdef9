"""A one-line prompt (used by `:` jump): returns the typed text, or None on esc."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

from mlops_tui.tui.format import literal
from mlops_tui.tui.screens.modal import OnceModalScreen


class PromptScreen(OnceModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, title: str, choices: Sequence[str] = (), placeholder: str = "",
                 shown: Sequence[str] | None = None) -> None:
        """`choices` complete what is typed; `shown` (default: all of them) are listed under the field
        (a fleet's thousand service names would not fit)."""
        super().__init__()
        self._title = title
        self._choices = list(choices)
        self._shown = self._choices if shown is None else list(shown)
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt"):
            yield Static(Text(self._title), id="prompt-title")
            yield Input(
                placeholder=self._placeholder,
                suggester=SuggestFromList(self._choices, case_sensitive=False) if self._choices else None,
                id="prompt-input",
            )
            if self._shown:
                yield Static(literal("  ".join(self._shown)), id="prompt-choices")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
