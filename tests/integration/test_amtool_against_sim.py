"""`amtool` (Debian's, a Go client of the v2 API) against sim/alertmanager: the operator adds an
alert, lists it, silences it and lists the silence, and gets what a real Alertmanager would give.

amtool sends Go's zero time ("0001-01-01T00:00:00.000Z") for every time it leaves unset, so these
stories are also the judge of how the simulator reads zero times.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

from mlops_tui.sim.alertmanager import SimAlertmanager
from tests.engines import require_binary

pytestmark = pytest.mark.integration


@pytest.fixture
def am():
    sim = SimAlertmanager.start()
    yield sim
    sim.stop()


@pytest.fixture
def amtool(am):
    binary = require_binary("amtool")

    def run(*args: str) -> str:
        done = subprocess.run([binary, f"--alertmanager.url={am.url}", *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


def get(url: str) -> tuple[int, str, str]:
    """Status, content type and body of a GET; an HTTP error is an answer too (a dropped connection raises)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


def test_amtool_alert_add_fires_the_alert_and_alert_query_lists_it(amtool):
    amtool("alert", "add", "alertname=ModelDown", "service=fraud-scorer", "severity=critical",
           "--annotation=summary=fraud scorer is down")
    alerts = json.loads(amtool("alert", "query", "-o", "json"))
    assert [a["labels"] for a in alerts] == [
        {"alertname": "ModelDown", "service": "fraud-scorer", "severity": "critical"}]
    assert alerts[0]["status"]["state"] == "active"
    assert not alerts[0]["startsAt"].startswith(("1-", "0001-"))
    # The human table amtool prints parses the start time; it must list the alert, not fail.
    table = amtool("alert", "query")
    assert "ModelDown" in table and "fraud scorer is down" in table


def test_an_alert_posted_without_a_start_does_not_break_alert_query_for_the_others(am, amtool):
    am.receive([{"labels": {"alertname": "HighInferenceLatency", "service": "ranker"}}])
    amtool("alert", "add", "alertname=ModelDown", "service=fraud-scorer")
    table = amtool("alert", "query")
    assert "HighInferenceLatency" in table and "ModelDown" in table


def test_amtool_silence_add_silences_the_alert_and_silence_query_lists_it(amtool):
    amtool("alert", "add", "alertname=ModelDown", "service=fraud-scorer")
    sid = amtool("silence", "add", "service=fraud-scorer", "--comment=investigating", "--duration=1h").strip()
    assert [s["id"] for s in json.loads(amtool("silence", "query", "-o", "json"))] == [sid]
    assert sid in amtool("silence", "query")
    assert json.loads(amtool("alert", "query", "-o", "json")) == []
    silenced = json.loads(amtool("alert", "query", "--silenced", "-o", "json"))
    assert [a["status"]["silencedBy"] for a in silenced] == [[sid]]


def test_an_invalid_filter_regex_answers_400_instead_of_dropping_the_connection(am):
    bad = quote('service=~"fraud("')
    for path in ("/api/v2/alerts", "/api/v2/silences", "/api/v2/alerts/groups"):
        status, _, body = get(f"{am.url}{path}?filter={bad}")
        assert status == 400 and "error parsing regexp" in body


def test_health_and_readiness_probes_and_the_receivers_list(am):
    assert get(f"{am.url}/-/healthy")[::2] == (200, "OK")
    assert get(f"{am.url}/-/ready")[::2] == (200, "OK")
    status, content_type, body = get(f"{am.url}/api/v2/receivers")
    assert (status, content_type, json.loads(body)) == (200, "application/json", [{"name": "default"}])


def test_amtool_alert_query_with_an_invalid_regex_reports_the_servers_400(am, amtool):
    am.receive([{"labels": {"alertname": "ModelDown", "service": "fraud-scorer"}}])
    done = subprocess.run([require_binary("amtool"), f"--alertmanager.url={am.url}", "alert", "query",
                           "alertname=ModelDown", 'service=~"fraud("'], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "400" in done.stderr and "error parsing regexp" in done.stderr
