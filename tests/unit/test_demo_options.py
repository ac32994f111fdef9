"""The demo as a newcomer meets it: its incident starts within seconds (--time-scale), and what they
did in it is kept apart from real actions and read back with `mlops-tui audit --demo`."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mlops_tui.tui import sources
from mlops_tui.tui.audit import AuditLog
from mlops_tui.tui.cli import main, parser, settings_from


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "state" / "mlops-tui"


def record(intent: str) -> dict:
    return {"time": "2026-12-01T03:00:00+00:00", "user": "ops", "source": "demo-prod", "target": "ml-prod/m",
            "intent": intent, "result": "succeeded"}


def test_audit_with_demo_reads_the_demo_log_and_without_it_the_real_one(state_dir, capsys):
    AuditLog(state_dir / "demo-audit.jsonl").append(record("scale to 4"))
    AuditLog(state_dir / "audit.jsonl").append(record("canary weight 30%"))
    assert main(["audit", "--demo", "--json"]) == 0
    demo_lines = capsys.readouterr().out
    assert "scale to 4" in demo_lines and "canary weight" not in demo_lines
    assert main(["audit", "--json"]) == 0
    real_lines = capsys.readouterr().out
    assert "canary weight 30%" in real_lines and "scale to 4" not in real_lines


def fake_demo(calls: list[dict]):
    def start_demo(**kwargs):
        calls.append(kwargs)
        return SimpleNamespace(kubeconfig="/k", contexts=["demo-prod"], docker_host="tcp://127.0.0.1:1",
                               prometheus_url="http://127.0.0.1:2", alertmanager_url="http://127.0.0.1:3")
    return start_demo


def test_the_demo_unfolds_five_times_faster_by_default_and_as_fast_as_asked(state_dir, monkeypatch):
    import mlops_tui.sim.demo

    calls: list[dict] = []
    monkeypatch.setattr(mlops_tui.sim.demo, "start_demo", fake_demo(calls))
    aimed, _ = sources.start_demo_for(settings_from(parser().parse_args(["--demo"])))
    sources.start_demo_for(settings_from(parser().parse_args(["--demo", "--time-scale", "1"])))
    assert [c["time_scale"] for c in calls] == [5.0, 1.0]
    assert aimed.audit_path == state_dir / "demo-audit.jsonl"
    assert aimed.engines["prometheus"]["url"] == "http://127.0.0.1:2"


@pytest.mark.parametrize("value", ["0", "-2", "fast", "inf"])
def test_a_time_scale_that_is_not_a_positive_number_is_a_usage_error(value, capsys):
    with pytest.raises(SystemExit) as stopped:
        parser().parse_args(["--demo", "--time-scale", value])
    assert stopped.value.code == 2
    assert "--time-scale: expected a positive number" in capsys.readouterr().err


def test_at_the_default_pace_the_demos_first_trouble_comes_within_twenty_seconds():
    """A newcomer watching `mlops-tui --demo` sees the canaries regress within ~20 s of wall time and
    the GPU node lost within the first minute (at --time-scale 1 the story takes ~7 minutes)."""
    from mlops_tui.sim.scenario import timeline
    from mlops_tui.tui.config import Settings

    pace = Settings().demo_time_scale
    first = {event.kind: event.at / pace for event in reversed(timeline(seed=0))}
    assert first["latency_regression"] <= 20
    assert first["gpu_node_lost"] <= 60
