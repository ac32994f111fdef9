"""The terminal driver: Textual's own (Linux), with its output passed through the compactor.

Everything Textual writes to the terminal goes through `Driver.write` (frames, modes, the cursor), and
Textual writes whole escape sequences, never half of one, which is what `OutputCompactor` needs. The
compactor remembers what each cell shows; when the terminal changes size that memory is dropped (the
terminal may have cleared or reflowed), so the repaint that follows is sent in full.
"""

from __future__ import annotations

from textual import events
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

from mlops_tui.tui.terminal_output import OutputCompactor


class CompactLinuxDriver(LinuxDriver):
    """LinuxDriver sending styles once and unchanged cells never (tui/terminal_output.py)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._compactor = OutputCompactor()
        self._resized = False

    def write(self, data: str) -> None:
        if self._resized:
            self._resized = False
            self._compactor.forget()
        super().write(self._compactor.feed(data))

    def _get_terminal_size(self) -> tuple[int, int]:
        # Asked at start and from the SIGWINCH handler, which may interrupt `write` half way through a
        # frame: only a flag is set here; the next write starts by forgetting (the repaint the resize
        # causes comes after it, so it is sent in full).
        self._resized = True
        return super()._get_terminal_size()

    def process_message(self, message: Message) -> None:
        if isinstance(message, events.Resize):  # a terminal that reports its size in band
            self._compactor.forget()
        super().process_message(message)


def compact(driver_class: type[Driver]) -> type[Driver]:
    """`driver_class`, or its compacting subclass where there is one: Textual's Linux driver (a driver
    named in TEXTUAL_DRIVER, or the headless one of tests, is left as it is)."""
    return CompactLinuxDriver if driver_class is LinuxDriver else driver_class
