"""The demo's SLOs mean something (issue 15 §5): with no invented default, only the slow canaries, which
the seed's HighInferenceLatency rule fires on, are over their SLO; the rest are within the rule's 0.5 s,
and bert-mig within the 300 ms its own annotation declares."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

CANARIES = {"rent-predictor-canary", "ensemble-predictor", "property-price-predictor"}
"""Slow from the start (rent-predictor-canary), or regressing from story second ~90 (sim/scenario.py):
on a loaded machine the run may reach that far."""


def test_in_the_demo_only_the_services_the_latency_rule_fires_on_are_over_their_slo(tmp_path):
    out = subprocess.run([sys.executable, "-m", "mlops_tui", "status", "--demo", "--json", "--timeout", "60",
                          "--audit-log", str(tmp_path / "audit.jsonl")],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    services = {(s["cluster"], s["name"]): s for s in json.loads(out.stdout)["services"]}
    measured = {k: s["latency"] for k, s in services.items() if s["latency"] and s["latency"]["p95_ms"]}
    breached = {name for (_cluster, name), latency in measured.items() if latency["slo_breached"]}
    assert "rent-predictor-canary" in breached and breached <= CANARIES, breached
    for (cluster, name), latency in measured.items():
        if name == "bert-mig":
            assert (latency["slo_p95_ms"], latency["slo_source"]) == (300.0, "annotation")
        else:
            assert (latency["slo_p95_ms"], latency["slo_source"], latency["slo_origin"]) == (
                500.0, "alert rule", "HighInferenceLatency"), (cluster, name)
    assert all(services[(c, "rent-predictor-canary")]["state"] != "ok" for c in ("demo-prod", "swarm-demo"))
