"""Fixtures shared by the integration tests."""

from __future__ import annotations

import os
import time

import pytest

from tests.engines import require_binary
from tests.integration.terminal import Terminal


@pytest.fixture
def terminal():
    """A private tmux server for one test (see tests/integration/terminal.py); killed afterwards."""
    term = Terminal(require_binary("tmux"), f"mlops-tui-test-{os.getpid()}-{time.monotonic_ns()}")
    yield term
    term.stop()
