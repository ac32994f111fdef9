"""The terminal driver: Textual's own (Linux), with its output passed through the style compactor.

Everything Textual writes to the terminal goes through `Driver.write` (frames, modes, the cursor), and
Textual writes whole escape sequences, never half of one, which is what `SgrCompactor` needs.
"""

from __future__ import annotations

from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver

from mlops_tui.tui.sgr import SgrCompactor


class CompactLinuxDriver(LinuxDriver):
    """LinuxDriver sending each style once, when the next character needs it (tui/sgr.py)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._compactor = SgrCompactor()

    def write(self, data: str) -> None:
        super().write(self._compactor.feed(data))


def compact(driver_class: type[Driver]) -> type[Driver]:
    """`driver_class`, or its compacting subclass where there is one: Textual's Linux driver (a driver
    named in TEXTUAL_DRIVER, or the headless one of tests, is left as it is)."""
    return CompactLinuxDriver if driver_class is LinuxDriver else driver_class
