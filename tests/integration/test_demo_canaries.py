"""The demo tells the canary story through the real backends: the KServe canary set to 20 % receives
3 % of the requests (flagged), the Istio and Swarm `rent-predictor` canaries are slower than stable from
the start, and the Argo canary, at its set share, turns worse once its latency regresses (story ~60 s)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from mlops_tui.backends.canary_compare import regression, share_diverges
from mlops_tui.tui.config import Settings
from mlops_tui.tui.format import canary_text
from mlops_tui.tui.sources import build_fleet, start_demo_for

pytestmark = pytest.mark.integration


def test_the_demo_shows_a_starved_canary_and_canaries_worse_than_stable():
    settings, demo = start_demo_for(replace(Settings(), demo_time_scale=5.0))
    fleet = build_fleet(settings)
    fleet.start()
    try:
        def row(cluster: str, name: str):
            state = fleet.state
            key = next((k for k in state.services if (k.cluster, k.name) == (cluster, name)), None)
            if key is None or key not in state.latency or state.latency[key].canary is None:
                return None
            return state.services[key], state.latency[key]

        deadline = time.monotonic() + 120
        seen: dict[str, str] = {}
        wanted = {
            "kserve starved": lambda: (r := row("demo-prod", "property-price-predictor")) and share_diverges(
                r[0].canary.weight, r[1].canary),
            "istio worse": lambda: (r := row("demo-prod", "rent-predictor-canary")) and regression(r[1].canary),
            "swarm worse": lambda: (r := row("swarm-demo", "rent-predictor-canary")) and regression(r[1].canary),
            "argo at its share, then worse": lambda: (r := row("demo-prod", "ensemble-predictor")) and not (
                share_diverges(r[0].canary.weight, r[1].canary)) and regression(r[1].canary),
        }
        while time.monotonic() < deadline and len(seen) < len(wanted):
            for what, check in wanted.items():
                if what not in seen and check():
                    seen[what] = "yes"
            time.sleep(1)
        assert set(seen) == set(wanted), f"never seen: {set(wanted) - set(seen)}"
        starved = row("demo-prod", "property-price-predictor")
        assert starved is not None
        assert canary_text(starved[0], starved[1], time.time())[0].startswith(("20→", "▲20→"))
    finally:
        fleet.stop()
        demo.stop()
