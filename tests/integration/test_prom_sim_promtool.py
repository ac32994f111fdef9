"""promtool, Prometheus's own client, reads from the simulator what a real Prometheus would give a
runbook: `up` per scraped target, ALERTS / ALERTS_FOR_STATE of the rules, a range selector as a
matrix; and the simulator's /api/v1/targets, /metadata, /status/buildinfo and those query answers
have the shape of the real Prometheus 2.42's (Debian's binary) for the same requests."""

from __future__ import annotations

import re
import subprocess
import time

import pytest
import requests

from mlops_tui.sim.prometheus import AlertRule, SimPrometheus
from mlops_tui.sim.prometheus.series import labels_of
from tests.engines import require_binary
from tests.integration.metrics_servers import SEED_RULES, SeedExporter, prometheus
from tests.waiting import eventually

GPU = {"job": "dcgm", "instance": "10.0.0.7:9400"}
API = {"job": "api", "instance": "10.0.0.8:8080"}


@pytest.fixture
def sim():
    """A simulator whose two targets were scraped every 10 s for 100 s: a GPU heating from 70 to
    115 °C (a rule pages above 80 after 30 s) and an API's request counter."""
    now = float(int(time.time()))  # whole seconds: a query can land exactly on a scrape
    prom = SimPrometheus.start(rules=[AlertRule("GpuHot", 'gpu_temp{job="dcgm"} > 80', 30.0,
                                                labels={"severity": "page"})], evaluate_rules=False)
    for k in range(0, 100, 10):
        t = now - 100 + k
        prom.store.append(t, [(labels_of("gpu_temp", **GPU), 70.0 + k / 2),
                              (labels_of("http_requests_total", **API), float(k))])
        prom.rules.evaluate(t)
    prom.first_hot = now - 70  # 70 + 30/2 = 85 > 80: pending from here, firing 30 s later
    yield prom
    prom.stop()


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("promtool")
    return subprocess.run([binary, "query", *args], capture_output=True, text=True, timeout=30)


def lines(out: str) -> list[str]:
    """promtool's answer without the `@[timestamp]` of each sample (they move with the clock)."""
    return [re.sub(r" @\[[0-9.]+\]$", "", line) for line in out.strip().splitlines()]


def test_on_call_queries_up_and_sees_every_scraped_target_up(sim):
    done = promtool("instant", sim.url, "up")
    assert done.returncode == 0, done.stderr
    assert sorted(lines(done.stdout)) == ['up{instance="10.0.0.7:9400", job="dcgm"} => 1',
                                         'up{instance="10.0.0.8:8080", job="api"} => 1']


def test_a_target_that_stops_being_scraped_drops_out_of_up(sim):
    sim.store.append(time.time() - 1, [(labels_of("gpu_temp", **GPU), 90.0)])
    done = promtool("instant", sim.url, "up")
    assert lines(done.stdout) == ['up{instance="10.0.0.7:9400", job="dcgm"} => 1']


def test_a_scenario_can_write_a_failed_scrape_and_up_then_reads_0(sim):
    """A scrape that failed writes `up` = 0 itself (with an uppercase label sorted before
    `__name__`): the simulator does not overwrite it with 1."""
    down = {**GPU, "Hostname": "gpu-node-2"}
    sim.store.append(time.time() - 1, [(labels_of("up", **down), 0.0),
                                       (labels_of("http_requests_total", **API), 100.0)])
    done = promtool("instant", sim.url, 'up{job="dcgm"}')
    assert lines(done.stdout) == ['up{Hostname="gpu-node-2", instance="10.0.0.7:9400", job="dcgm"} => 0']


def test_runbook_query_of_alerts_shows_the_firing_alert_and_when_it_became_active(sim):
    done = promtool("instant", sim.url, 'ALERTS{alertstate="firing"}')
    assert done.returncode == 0, done.stderr
    assert lines(done.stdout) == ['ALERTS{alertname="GpuHot", alertstate="firing", instance="10.0.0.7:9400", '
                                  'job="dcgm", severity="page"} => 1']
    done = promtool("instant", sim.url, "ALERTS_FOR_STATE")
    assert lines(done.stdout) == ['ALERTS_FOR_STATE{alertname="GpuHot", instance="10.0.0.7:9400", job="dcgm", '
                                  f'severity="page"}} => {int(sim.first_hot)}']


def test_alerts_is_pending_before_the_for_duration_and_gone_once_resolved(sim):
    pending_at = sim.first_hot + 10
    done = promtool("instant", "--time", f"{pending_at:.3f}", sim.url, "ALERTS")
    assert lines(done.stdout) == ['ALERTS{alertname="GpuHot", alertstate="pending", instance="10.0.0.7:9400", '
                                  'job="dcgm", severity="page"} => 1']
    t = time.time() - 0.5
    sim.store.append(t, [(labels_of("gpu_temp", **GPU), 60.0), (labels_of("http_requests_total", **API), 100.0)])
    sim.rules.evaluate(t)
    done = promtool("instant", sim.url, "ALERTS")
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout


def test_instant_query_of_a_range_selector_prints_the_raw_samples(sim):
    done = promtool("instant", sim.url, 'gpu_temp{job="dcgm"}[25s]')
    assert done.returncode == 0, done.stderr
    assert lines(done.stdout) == ['gpu_temp{instance="10.0.0.7:9400", job="dcgm"} =>', "110", "115"]


def test_a_range_selector_keeps_the_sample_exactly_its_range_old_as_prometheus_2_does(sim):
    """At a scrape's own time, `[20s]` holds that scrape and the two before it (the oldest exactly 20 s
    old): Prometheus 2.42's window is closed on the left, as promtool's rule tests show."""
    at = sim.first_hot + 50  # the scrape at 70 + 80/2 = 110 °C
    done = promtool("instant", "--time", f"{at:.0f}", sim.url, 'gpu_temp{job="dcgm"}[20s]')
    assert done.returncode == 0, done.stderr
    assert lines(done.stdout) == ['gpu_temp{instance="10.0.0.7:9400", job="dcgm"} =>', "100", "105", "110"]


def test_range_query_of_a_range_selector_is_refused_as_prometheus_refuses_it(sim):
    now = time.time()
    done = promtool("range", "--start", f"{now - 60:.0f}", "--end", f"{now:.0f}", "--step", "10s", sim.url,
                    "gpu_temp[1m]")
    assert done.returncode == 1
    assert ('bad_data: invalid parameter "query": invalid expression type "range vector" for range query, '
            'must be Scalar or instant Vector') in done.stderr


LABEL_SETS = {"metric", "labels", "discoveredLabels"}
"""Label sets differ with what is scraped: their shape is `name → string`, not their names."""


def shape(value: object, key: str = "") -> object:
    """The JSON's structure: keys and value types, not the values."""
    if isinstance(value, dict) and key in LABEL_SETS:
        return {"labels": sorted({type(v).__name__ for v in value.values()})}
    if isinstance(value, dict):
        return {k: shape(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [shape(v) for v in value]
        return items[:1] if all(i == items[0] for i in items) else items  # [ts, "value"] stays a pair
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "number"  # Prometheus writes a timestamp on a whole second as 1764630000, not 1764630000.0
    return type(value).__name__


@pytest.fixture(scope="module")
def real():
    """The real Prometheus scraping the seed exporter, with the seed's alert at a 0 s `for`."""
    binary = require_binary("prometheus")
    exporter = SeedExporter({("ml", "slow-model"): [0.8] * 10})
    with exporter.running() as address, prometheus(binary, [address],
                                                   rules=SEED_RULES.format(window="5s", for_="0s")) as server:
        eventually(lambda: requests.get(f"{server.url}/api/v1/query", params={"query": "ALERTS"}, timeout=5)
                   .json()["data"]["result"], timeout=60, what="the real Prometheus firing its alert")
        yield server.url


@pytest.mark.parametrize("path, params", [
    pytest.param("/api/v1/targets", {}, id="targets"),
    pytest.param("/api/v1/metadata", {}, id="metadata"),
    pytest.param("/api/v1/status/buildinfo", {}, id="buildinfo"),
    pytest.param("/api/v1/query", {"query": "up"}, id="up"),
    pytest.param("/api/v1/query", {"query": "ALERTS"}, id="ALERTS"),
    pytest.param("/api/v1/query", {"query": "ALERTS_FOR_STATE"}, id="ALERTS_FOR_STATE"),
    pytest.param("/api/v1/query", {"query": "up[1m]"}, id="instant-range-selector"),
    pytest.param("/api/v1/query_range", {"query": "up[5s]", "start": "1", "end": "2", "step": "1"},
                 id="range-query-of-range-selector"),
])
def test_the_simulator_answers_with_the_real_prometheus_shape(real, sim, path, params):
    theirs = requests.get(real + path, params=params, timeout=5)
    ours = requests.get(sim.url + path, params=params, timeout=5)
    assert ours.status_code == theirs.status_code
    if path == "/api/v1/metadata":  # one family each: compare the entry of a family
        pick = lambda body: {"status": body["status"], "data": next(iter(body["data"].values()))}  # noqa: E731
        assert shape(pick(ours.json())) == shape(pick(theirs.json()))
        return
    assert shape(ours.json()) == shape(theirs.json())


@pytest.mark.parametrize("state", ["active", "any", "dropped", "Active ", "bogus"])
def test_targets_filtered_by_state_list_what_the_real_prometheus_lists(real, sim, state):
    def counts(url: str) -> tuple[int, int]:
        data = requests.get(f"{url}/api/v1/targets", params={"state": state}, timeout=5).json()["data"]
        return len(data["activeTargets"]) > 0, len(data["droppedTargets"])

    assert counts(sim.url) == counts(real)


def test_metadata_types_a_histogram_family_as_the_real_prometheus_does(real):
    """The seed exporter's histogram, written into the simulator under the same names, is one
    `histogram` family there as in the real Prometheus; `_total` is a counter, the rest gauges."""
    theirs = requests.get(f"{real}/api/v1/metadata", params={"metric": "model_inference_duration_seconds"},
                          timeout=5).json()["data"]
    prom = SimPrometheus.start(evaluate_rules=False)
    try:
        key = {"namespace": "ml", "service": "slow-model", "job": "models", "instance": "127.0.0.1:1"}
        prom.store.append(time.time(), [
            (labels_of("model_inference_duration_seconds_bucket", **key, le="+Inf"), 10.0),
            (labels_of("model_inference_duration_seconds_sum", **key), 8.0),
            (labels_of("model_inference_duration_seconds_count", **key), 10.0),
            (labels_of("http_requests_total", **key), 3.0), (labels_of("DCGM_FI_DEV_GPU_UTIL", **key), 40.0)])
        ours = requests.get(f"{prom.url}/api/v1/metadata", timeout=5).json()["data"]
    finally:
        prom.stop()
    assert [m["type"] for m in ours["model_inference_duration_seconds"]] == \
        [m["type"] for m in theirs["model_inference_duration_seconds"]] == ["histogram"]
    assert ours["http_requests_total"][0]["type"] == "counter"
    assert ours["DCGM_FI_DEV_GPU_UTIL"][0]["type"] == "gauge"
    assert not {"model_inference_duration_seconds_bucket", "up", "ALERTS"} & set(ours)


@pytest.mark.parametrize("params", [{"limit": "abc"}, {"limit": "1"}, {"limit": "0"}, {"metric": "nope"}],
                         ids=["bad-limit", "limit-1", "limit-0", "unknown-metric"])
def test_metadata_limits_and_errors_as_the_real_prometheus(real, sim, params):
    theirs = requests.get(f"{real}/api/v1/metadata", params=params, timeout=5)
    ours = requests.get(f"{sim.url}/api/v1/metadata", params=params, timeout=5)
    assert ours.status_code == theirs.status_code
    if theirs.json()["status"] == "error":
        assert ours.json() == theirs.json()
    else:
        assert len(ours.json()["data"]) == len(theirs.json()["data"])


def test_an_unknown_api_path_is_answered_as_the_real_prometheus_answers_it(real, sim):
    theirs = requests.get(f"{real}/api/v1/no-such-endpoint", timeout=5)
    ours = requests.get(f"{sim.url}/api/v1/no-such-endpoint", timeout=5)
    assert (ours.status_code, ours.text) == (theirs.status_code, theirs.text)


def test_a_described_family_carries_its_help_as_an_exporter_would_send_it(sim):
    sim.describe("gpu_temp", "gauge", "GPU temperature (degrees C).", unit="celsius")
    data = requests.get(f"{sim.url}/api/v1/metadata", params={"metric": "gpu_temp"}, timeout=5).json()["data"]
    assert data == {"gpu_temp": [{"type": "gauge", "help": "GPU temperature (degrees C).", "unit": "celsius"}]}
