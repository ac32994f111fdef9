"""The key line at the bottom: the keys that work on this screen, greyed out where they do nothing now.

One line drawn by one widget rather than Textual's `Footer`, which mounts a widget per key and
recomposes them all whenever the bindings change (each selection that changes what the service can
do): that cost showed in the first frame (bench/startup.py) and under churn (bench/churn.py). The line
is drawn on Textual's line API, its Rich text rendered to segments once per change: a `Static` turns
it into Textual `Content` style by style, which cost 7 M of the 1,100 M instructions to the first frame
(bench/first_frame_instructions.py). Clicking a key still presses it (each key's segments carry it).
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

from mlops_tui.tui.commands import COMMANDS

ORDER = {command.action_name: index for index, command in enumerate(COMMANDS)}
"""Where each command's key stands in the line: the command table's order (other screens' keys last)."""


class KeyLine(Widget):
    """`key description` for every shown binding of the screen, in the command table's order, one per action."""

    COMPONENT_CLASSES = {"key-line--key", "key-line--description", "key-line--disabled"}

    def __init__(self) -> None:
        super().__init__(id="key-line")
        self._strip: Strip | None = None
        """The line as last drawn; None: to be made again when next drawn (the keys or the colours
        changed), so that changes between two frames cost one line."""
        self._drawn_width = 0
        """The width the line was made to fit (a resize is drawn before `Resize` reaches the widget)."""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is self.screen:
            self._strip = None
            self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()  # the theme changed, or a colour the keys are drawn in
        self._strip = None

    def render_line(self, y: int) -> Strip:
        base = self.rich_style
        width = self.size.width
        if y:
            return Strip.blank(width, base)
        if self._strip is None or self._drawn_width != width:
            # Text.render emits the spans only: the widget's colours go beneath them as the first span.
            text = self.line()
            text.stylize_before(base)
            self._strip, self._drawn_width = Strip(text.render(self.app.console)).simplify(), width
        return self._strip.crop_extend(0, width, base)

    def line(self) -> Text:
        """Every key with its description. Narrower than that (80 columns over SSH): descriptions
        cut to their first word, then the words of the least used keys dropped one by one
        (`WORDS_KEPT_LONGEST`), so that the keys an operator reaches for most keep their names."""
        items = self._items()
        width = self.size.width
        line = self._join(items, lambda action, description: description)
        if not width or line.cell_len <= width:
            return line
        dropped: set[str] = set()
        for action in [*_drop_order(item[0] for item in items), None]:
            line = self._join(items, lambda a, d: "" if a in dropped else d.split(" ")[0])
            if line.cell_len <= width or action is None:
                return line
            dropped.add(action)
        return line

    def _join(self, items: list[tuple[str, str, str, bool, str]], describe) -> Text:
        return Text(" ").join(self._key_text(key, describe(action, description), enabled, press)
                              for action, key, description, enabled, press in items)

    def _items(self) -> list[tuple[str, str, str, bool, str]]:
        """(action, key display, description, enabled, key to press), once per action, in table order."""
        items = []
        seen: set[str] = set()
        active = self.screen.active_bindings
        refusals = getattr(self.app, "refusals", None)
        refusal_for = refusals() if refusals is not None else None
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


WORDS_KEPT_LONGEST = ("help", "quit", "filter", "jump", "scale", "rollback", "canary", "restart", "silence",
                      "update_image", "bluegreen", "command_palette")
"""Actions whose word stays longest on a narrow key line, most needed first: help and quit (the way to
everything else and the way out), then the keys reached for most in an incident."""


def _drop_order(actions) -> list[str]:
    """The order in which the key line drops words: keys not listed first, then the least needed."""
    rank = {action: index for index, action in enumerate(WORDS_KEPT_LONGEST)}
    return sorted(actions, key=lambda action: -rank.get(action, len(rank)))
