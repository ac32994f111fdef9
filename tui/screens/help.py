"""The help screen: every command, with the key that runs it now (after `[keys]` in the config file),
generated from the command table (`tui/commands.py`)."""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from mlops_tui.tui.commands import COMMANDS, GROUPS


def help_rows(key_display: Callable[[str], str]) -> list[tuple[str, str, str, str]]:
    """(group, key as it is bound now (`key_display(command id)`), description, explanation) for every
    command, by group; the explanation ends with the command's name under `[keys]`, for rebinding it."""
    return [(group, key_display(c.id), c.description,
             c.explanation.replace("`", "") + (f"  [keys] {c.id}" if c.rebindable else ""))
            for group in GROUPS for c in COMMANDS if c.group == group]


class HelpScreen(ModalScreen[None]):
    """What every key does. `esc`, or the help or quit key, closes it."""

    # The ids make the keymap move these with the app's help and quit keys: rebound, they still close it.
    BINDINGS = [
        Binding("escape", "dismiss", "Close", show=False),
        Binding("?", "dismiss", "Close", show=False, id="help"),
        Binding("q", "dismiss", "Close", show=False, id="quit"),
    ]

    def __init__(self, rows: list[tuple[str, str, str, str]], *, details_key: str) -> None:
        super().__init__()
        self.rows = rows
        self.details_key = details_key

    def compose(self) -> ComposeResult:
        rows = self.rows
        key_width = max(len(key) for _group, key, _description, _explanation in rows)
        name_width = max(len(description) for _group, _key, description, _explanation in rows)
        tables = []
        for group in GROUPS:
            # One table per group, with the same column widths: the keys line up down the screen.
            table = Table(box=None, show_header=False, expand=False, pad_edge=False, title=group,
                          title_justify="left", title_style="bold")
            table.add_column("Key", no_wrap=True, min_width=key_width + 3)
            table.add_column("Command", no_wrap=True, min_width=name_width + 1)
            table.add_column("What it does")
            for row_group, key, description, explanation in rows:
                if row_group == group:
                    table.add_row(Text(f"  {key}"), Text(description), Text(explanation))
            tables.append(table)
        notes = Text(
            f"\nIn the services table: arrows or j/k move, {self.details_key} opens the service.\n"
            "Actions are previewed, confirmed, verified and written to the audit log:\n"
            "enter in a dialog shows the preview, y in the preview applies it (enter never does);\n"
            "while it is verified, esc waits in the background and q quits.\n"
            "esc closes this screen. Rebind any key under [keys] in the config file."
        )
        with VerticalScroll(id="help-body"):
            yield Static(Text("mlops-tui: keys\n", style="bold"))
            for index, table in enumerate(tables):
                yield Static(table, classes="help-table", id=f"help-table-{index}")
            yield Static(notes)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
