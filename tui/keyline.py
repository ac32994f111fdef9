"""The key line at the bottom: the keys that work on this screen, greyed out where they do nothing now.

One Static rather than Textual's `Footer`, which mounts a widget per key and recomposes them all
whenever the bindings change (each selection that changes what the service can do): that cost
showed in the first frame (bench/startup.py) and under churn (bench/churn.py). Clicking a key
still presses it.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widgets import Static

from mlops_tui.tui.commands import BY_ACTION, COMMANDS

ORDER = {command.action_name: index for index, command in enumerate(COMMANDS)}
"""Where each command's key stands in the line: the command table's order (other screens' keys last)."""


class KeyLine(Static):
    """`key description` for every shown binding of the screen, in the command table's order, one per action."""

    COMPONENT_CLASSES = {"key-line--key", "key-line--description", "key-line--disabled"}

    def __init__(self) -> None:
        super().__init__(id="key-line", markup=False)

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is self.screen:
            self.update(self.line())

    def on_resize(self) -> None:
        self.update(self.line())

    def line(self) -> Text:
        """Every key with its description. Narrower than that (80 columns over SSH): descriptions
        cut to their first word; narrower still: bare keys, except help and quit, which the operator
        must always be able to find (`named_when_narrow` in tui/commands.py)."""
        items = self._items()
        for level in ("full", "first word", "bare keys"):
            line = Text(" ").join(self._key_text(key, _shorten(action, description, level), enabled, press)
                                  for action, key, description, enabled, press in items)
            if not self.size.width or line.cell_len <= self.size.width:
                break
        return line

    def _items(self) -> list[tuple[str, str, str, bool, str]]:
        """(action, key display, description, enabled, key to press), once per action, in table order."""
        items = []
        seen: set[str] = set()
        active = self.screen.active_bindings
        refusal_for = getattr(self.app, "refusal_for", None)
        for _node, binding, enabled, _tooltip in active.values():
            if binding.show and binding.action not in seen:
                seen.add(binding.action)
                # A key the selection cannot do is dimmed, yet still pressable: it answers why.
                refused = refusal_for is not None and refusal_for(binding.action) is not None
                items.append((binding.action, self.app.get_key_display(binding), binding.description,
                              enabled and not refused, binding.key))
        # Textual lists priority bindings (the palette's) first: keep the command table's order.
        return sorted(items, key=lambda item: ORDER.get(item[0], len(ORDER)))

    def _key_text(self, key: str, description: str, enabled: bool, press: str) -> Text:
        key_text = f" {key} " if description else f" {key}"
        if not enabled:
            # Greyed in the theme's own colour (its contrast is checked), and not clickable.
            disabled = self.get_component_rich_style("key-line--disabled", partial=True)
            return Text.assemble((key_text, disabled), (description, disabled))
        return Text.assemble((key_text, self.get_component_rich_style("key-line--key", partial=True)),
                             (description, self.get_component_rich_style("key-line--description", partial=True)),
                             style=Style.from_meta({"key": press}))

    def on_click(self, event: events.Click) -> None:
        key = event.style.meta.get("key")
        if key:
            self.app.simulate_key(key)


def _shorten(action: str, description: str, level: str) -> str:
    if level == "full":
        return description
    command = BY_ACTION.get(action)
    if level == "first word" or (command is not None and command.named_when_narrow):
        return description.split(" ")[0]
    return ""
