"""The demo's incident story is a seeded, deterministic timeline: the same seed tells the same
story, and the canary regression fires HighInferenceLatency when the rule says it must, whatever
the time compression. Driven on a fake clock (no threads, no sockets)."""

from __future__ import annotations

import pytest

from mlops_tui.sim.prometheus import SimPrometheus, seed_rule
from mlops_tui.sim.scenario import RULE_FOR, Scenario, expected_fire_time, timeline

T0 = 1_800_000_000.0


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def story(seed: int, time_scale: float, story_seconds: float):
    """Run the metrics-only story (one Kubernetes cluster's demo fleet) and record, per alerting
    series, the story time it went pending and firing."""
    clock = Clock()
    prom = SimPrometheus(eval_interval=min(1.0, 15.0 / time_scale), clock=clock)
    scenario = Scenario(seed=seed, time_scale=time_scale, prometheus=prom, kube_names=["sim-prod"], clock=clock,
                        backfill=max(60.0, 600.0 / time_scale))
    prom.rules.rules.append(seed_rule(window=scenario.rule_window(), for_seconds=scenario.rule_for()))
    scenario.prefill()
    seen: dict[tuple[str, str, str], float] = {}

    def on_eval(now: float) -> None:
        for a in prom.rules.alerts():
            key = (a["labels"]["service"], a["labels"].get("track", ""), a["state"])
            seen.setdefault(key, scenario.story_time(now))

    scenario.advance(story_seconds / time_scale, on_eval)
    return scenario, prom, seen


def test_same_seed_same_timeline_different_seed_different_times():
    assert timeline(7) == timeline(7)
    assert [e.kind for e in timeline(7)] == [e.kind for e in timeline(8)]
    assert [e.at for e in timeline(7)] != [e.at for e in timeline(8)]
    kinds = [e.kind for e in timeline(0)]
    assert kinds.index("canary_start") < kinds.index("latency_regression") < kinds.index("gpu_node_lost")


def test_for_every_seed_the_incident_happens_in_the_order_the_timeline_tells_it():
    """Regression, alert firing (within a few rule evaluations of its expected time), GPU node lost,
    Swarm update failing, the HPA's surge: whatever the seed's jitter."""
    from mlops_tui.sim.scenario import expected_fire_time

    for seed in range(500):
        at = {e.kind: e.at for e in timeline(seed)}
        fires = expected_fire_time(seed)
        assert at["latency_regression"] < fires
        assert fires + 5.0 < at["gpu_node_lost"] < at["swarm_update_fails"] < at["load_surge"], (seed, fires, at)


def test_same_seed_writes_the_same_series():
    a, prom_a, _ = story(3, 60.0, 120.0)
    b, prom_b, _ = story(3, 60.0, 120.0)
    _, prom_c, _ = story(4, 60.0, 120.0)
    dump = lambda p: {labels: list(s.values) for labels, s in p.store.series.items()}  # noqa: E731
    assert dump(prom_a) == dump(prom_b)
    assert dump(prom_a) != dump(prom_c)
    assert [(round(t, 3), e) for t, e in a.done] == [(round(t, 3), e) for t, e in b.done]


@pytest.mark.parametrize("time_scale", [60.0, 20.0])
def test_canary_regression_fires_high_inference_latency_on_time(time_scale):
    seed = 11
    regression = next(e.at for e in timeline(seed) if e.kind == "latency_regression")
    scenario, prom, seen = story(seed, time_scale, expected_fire_time(seed) + 60)
    step = scenario.scrape_interval * time_scale  # story seconds between two scrapes
    for service in ("ensemble-predictor", "property-price-predictor"):
        pending = seen[(service, "canary", "pending")]
        firing = seen[(service, "canary", "firing")]
        assert regression < pending < regression + 0.2 * 300 + step
        assert firing - pending == pytest.approx(RULE_FOR, abs=step + 1)
        assert firing == pytest.approx(expected_fire_time(seed), abs=20 + step)
        # the stable track of the same service never alerts
        assert (service, "stable", "pending") not in seen
    # the already-slow Istio canary is firing from the first evaluation (history was prefilled)
    assert seen[("rent-predictor-canary", "", "firing")] <= step + 1
    firing = {a["labels"]["service"] for a in prom.rules.alerts() if a["state"] == "firing"}
    assert firing == {"ensemble-predictor", "property-price-predictor", "rent-predictor-canary"}


def test_before_the_regression_only_the_known_slow_canary_alerts():
    seed = 11
    regression = next(e.at for e in timeline(seed) if e.kind == "latency_regression")
    _, prom, seen = story(seed, 60.0, regression - 20)
    assert {k[0] for k in seen} == {"rent-predictor-canary"}
    rules = prom.rules.groups()[0]["rules"][0]
    assert rules["name"] == "HighInferenceLatency" and rules["state"] == "firing" and rules["health"] == "ok"


def test_gpu_node_lost_stops_its_dcgm_series_and_events_apply_in_order():
    seed = 2
    lost = next(e.at for e in timeline(seed) if e.kind == "gpu_node_lost")
    scenario, prom, _ = story(seed, 60.0, lost + 120)
    assert [e.kind for _, e in scenario.done][:3] == ["canary_start", "latency_regression", "gpu_node_lost"]
    from mlops_tui.sim.prometheus.server import respond
    status, body = respond(prom, "/api/v1/query", {"query": ["count by (Hostname) (DCGM_FI_DEV_GPU_UTIL)"],
                                                  "time": [str(scenario.clock())]})
    hosts = {r["metric"]["Hostname"] for r in body["data"]["result"]}
    assert status == 200 and "gpu-node-1" in hosts and "gpu-node-2" not in hosts


def test_the_demo_rule_window_is_a_promql_duration_at_any_time_scale():
    """At --time-scale 8 the window is 37.5 s: written '37500ms', which PromQL (and the simulator) parse."""
    from mlops_tui.sim.prometheus.promql import parse_duration

    for scale, written, seconds in ((8.0, "37500ms", 37.5), (5.0, "60s", 60.0), (1.0, "300s", 300.0)):
        window = Scenario(seed=0, time_scale=scale).rule_window()
        assert window == written
        assert parse_duration(window) == pytest.approx(seconds)
