"""Fixtures shared by the integration tests."""

from __future__ import annotations

import os
import sys
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


def pytest_terminal_summary(terminalreporter) -> None:
    """The fault suite's figures (tests/integration/test_fault_suite.py), when it ran: one table."""
    suite = sys.modules.get("tests.integration.test_fault_suite")
    if suite is not None and suite.FIGURES:
        terminalreporter.section("fault suite figures")
        for line in suite.figures_table(suite.FIGURES):
            terminalreporter.write_line(line)
