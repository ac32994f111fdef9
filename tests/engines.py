"""How tests ask for a real engine (dockerd, Prometheus, Alertmanager, kubectl).

Locally a missing engine skips the test with the reason; in CI (CI=true) it fails it, because a
green CI that skipped its integration tests proves nothing.
"""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(available: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) unless `available`."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI must run this test, but {reason}", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str, *alternatives: str) -> str:
    """Path of the first of `name`/`alternatives` found on PATH, or skip/fail."""
    for candidate in (name, *alternatives):
        path = shutil.which(candidate)
        if path:
            return path
    require(False, f"{name} is not installed (install Debian's package that provides it)")
    raise AssertionError("unreachable")
