"""Waiting on an outcome, never on a sleep: the one `eventually` the integration stories share."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

NOT_YET = (KeyError, AttributeError, IndexError, TypeError)
"""What a check raises while what it looks for is not there yet (a row, a key, a field)."""


def eventually(check: Callable[[], Any], timeout: float = 20.0, what: str = "", *, interval: float = 0.05) -> Any:
    """`check()`'s first truthy value within `timeout` seconds; an AssertionError naming `what` (and
    the last value or error seen) otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except NOT_YET as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what or check}: last {last!r}")
