"""The help screen: every binding the app has, generated from the bindings themselves."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def binding_rows(app) -> list[tuple[str, str, str]]:
    """(key as shown, command id, description) for every app binding, after the keymap."""
    rows = []
    for bindings in app._bindings.key_to_bindings.values():
        for binding in bindings:
            if not binding.description:
                continue
            rows.append((app.get_key_display(binding), binding.id or binding.action, binding.description))
    return sorted(rows, key=lambda r: r[2].lower())


class HelpScreen(ModalScreen[None]):
    """What every key does. `esc` or `?` closes it."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=True, header_style="bold", expand=False, pad_edge=False)
        table.add_column("Key")
        table.add_column("Command")
        table.add_column("What it does")
        for key, command, description in binding_rows(self.app):
            table.add_row(Text(key), Text(command), Text(description))
        notes = Text(
            "\nEvery command is also in the command palette (ctrl+p).\n"
            "In the services table: arrows or j/k move, enter opens the service.\n"
            "Actions are previewed, confirmed, verified and written to the audit log:\n"
            "enter in a dialog shows the preview, y in the preview applies it (enter never does);\n"
            "while it is verified, esc waits in the background and q quits.\n"
            "esc closes this screen."
        )
        with VerticalScroll(id="help-body"):
            yield Static(Text("mlops-tui: keys\n", style="bold"))
            yield Static(table, id="help-table")
            yield Static(notes)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
