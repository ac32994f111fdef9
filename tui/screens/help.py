"""The help screen: every command, with the key that runs it now (after `[keys]` in the config file),
grouped by purpose and generated from the command table (`tui/commands.py`); then the filter's
syntax, the preview's keys and the detail screen."""

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

NAMED_WIDTH = 100
"""From this many columns, the help lists each command's name beside its key."""


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

    def __init__(self, rows: list[tuple[str, str, str, str]], keys: Callable[[str], str]) -> None:
        """`keys(command id)`: the key that runs it now, as the operator types it."""
        super().__init__()
        self.rows = rows
        self.keys = keys

    def compose(self) -> ComposeResult:
        rows = self.rows
        key_width = max(len(key) for _group, key, _description, _explanation in rows)
        name_width = max(len(description) for _group, _key, description, _explanation in rows)
        # At 80 columns the command's name column would leave the explanation a third of the width; the
        # explanation starts with what the command does anyway.
        named = self.app.size.width >= NAMED_WIDTH
        tables = []
        for group in GROUPS:
            # One table per group, with the same column widths: the keys line up down the screen.
            table = Table(box=None, show_header=False, expand=False, pad_edge=False, title=group,
                          title_justify="left", title_style="bold")
            table.add_column("Key", no_wrap=True, min_width=key_width + 3)
            if named:
                table.add_column("Command", no_wrap=True, min_width=name_width + 1)
            table.add_column("What it does")
            for row_group, key, description, explanation in rows:
                if row_group == group:
                    cells = (Text(f"  {key}"), Text(description), Text(explanation))
                    table.add_row(*(cells if named else (cells[0], cells[2])))
            tables.append(table)
        with VerticalScroll(id="help-body"):
            yield Static(Text("mlops-tui: keys\n", style="bold"))
            for index, table in enumerate(tables):
                yield Static(table, classes="help-table", id=f"help-table-{index}")
            for index, (title, lines) in enumerate(self.sections()):
                yield Static(Text.assemble((title, "bold"), "\n", "\n".join(lines), "\n"),
                             classes="help-section", id=f"help-section-{index}")

    def sections(self) -> list[tuple[str, list[str]]]:
        """What the keys alone do not say: the filter's syntax, the preview's keys, the detail screen."""
        keys = self.keys
        return [
            ("Filter (" + keys("filter") + ")", [
                "  Every word must match: a name, namespace, cluster, kind, version or image (any part of it).",
                "  app=valuation   the label app is exactly valuation      app=   any service with the label app",
                "  prod-a gpu      words combine (both must match)",
                f"  enter applies and returns to the table; {keys('back')} clears the filter.",
            ]),
            ("Preview (after enter in a dialog): nothing is sent before you confirm", [
                "  y          apply (where the preview asks for the name: type it, then enter)",
                "  n or esc   cancel: nothing is sent",
                "  a          the alternative the preview offers instead (e.g. change the autoscaler's bounds)",
                "  o          override a blocking check (written to the audit log)",
                "  Enter never applies. Then the action is verified: esc waits in the background",
                "  (the row says verifying…), q quits (audited as applied, not verified).",
            ]),
            (f"Service detail ({keys('details')} on a service)", [
                "  Replicas or tasks with node, state and GPUs; revisions; canary steps; blue-green colours;",
                "  the autoscaler; warning events; the latency chart; the service's alerts.",
                f"  The action keys work there too; {keys('back')} goes back to the dashboard.",
            ]),
            ("Moving", [
                "  In a table: arrows or j/k move, pgup/pgdn and home/end jump.",
                f"  At 80×24 one pane fills the screen: {keys('next_pane')} switches, and the tabs above it",
                "  carry badges: ✖/▲ services in trouble, ✖ GPU nodes NotReady, ▲ GPUs pending, alerts firing.",
                f"  {keys('help')} or esc closes this screen. Rebind any key under [keys] in the config file.",
            ]),
        ]

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
