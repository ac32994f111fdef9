"""Start-up without the cyclic collector: `mlops-tui` pauses it before any of our imports (the first
frame's allocations are long-lived, bench/startup.py), and every command other than the dashboard,
or a command line that ends early, gets it back."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from mlops_tui.tui.cli import main


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    yield tmp_path
    gc.enable()


def test_importing_the_command_line_imports_nothing_else_of_ours():
    """What the command needs (config, registry, domain model) is imported inside `main`, after the
    collector is paused."""
    code = "import sys, mlops_tui.tui.cli; print(sorted(m for m in sys.modules if m.startswith('mlops_tui')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["['mlops_tui',", "'mlops_tui.tui',", "'mlops_tui.tui.cli']"]


def test_the_audit_command_runs_with_the_collector_on(state_dir, capsys):
    assert main(["audit", "--json"]) == 0
    assert gc.isenabled()


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["--theme", "no-such-theme"]])
def test_a_command_line_that_ends_early_leaves_the_collector_on(argv, state_dir, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    assert gc.isenabled()


def test_a_bad_config_file_leaves_the_collector_on(state_dir, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[kubernetes\n")
    assert main(["--config", str(bad)]) == 2
    assert "mlops-tui:" in capsys.readouterr().err
    assert gc.isenabled()
