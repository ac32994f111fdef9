"""Prometheus and Alertmanager as production runs them: behind basic auth, TLS with a private CA and
a required client certificate, under a path prefix; and a Mimir-style tenant gateway that wants a
bearer token (rotated while the app runs) and an `X-Scope-OrgID` header.

The servers are the real Debian `prometheus` and `prometheus-alertmanager` binaries, started here
with `--web.config.file` and `--web.route-prefix` on 127.0.0.1. The sources are built exactly as the
app builds them: from `[prometheus]`/`[alertmanager]` settings through the engine registry.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from mlops_tui.backends.engine_spec import BuildContext
from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import HealthState
from mlops_tui.backends.registry import build_backends
from tests.engines import require_binary
from tests.integration.metrics_servers import StaticServices, model_service, wait_for
from tests.integration.secured_servers import (
    USER,
    make_pki,
    recording_server,
    secured_alertmanager,
    secured_prometheus,
)

pytestmark = pytest.mark.integration

PASSWORD = "pw-7Hq2-never-printed"
"""The basic auth password: each test checks that this string shows up in nothing it can read."""
TOKEN_1 = "tok-first-9c1d-never-printed"
TOKEN_2 = "tok-rotated-44ab-never-printed"
SECRETS = (PASSWORD, TOKEN_1, TOKEN_2)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def password_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("secrets") / "metrics-password"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def servers(pki):
    with (
        secured_prometheus(require_binary("prometheus"), pki, PASSWORD) as prom,
        secured_alertmanager(require_binary("prometheus-alertmanager", "alertmanager"), pki, PASSWORD) as am,
    ):
        yield prom, am


def prometheus_settings(prom, pki, password_file, **changes):
    """What an operator writes under [prometheus] for a server behind auth, TLS and mTLS."""
    return {"url": prom.url, "refresh_seconds": 0.5, "username": USER, "password_file": str(password_file),
            "ca_file": str(pki.ca), "cert_file": str(pki.client_cert), "key_file": str(pki.client_key)} | changes


def alertmanager_settings(am, pki, password_file, **changes):
    return {"url": am.url, "refresh_seconds": 0.5, "username": USER, "password_file": str(password_file),
            "ca_file": str(pki.ca)} | changes


def start_fleet(settings, *extra, audit=None):
    backends = [*extra, *build_backends(settings, BuildContext())]
    fleet = Fleet(backends, audit=audit, operator="alice")
    fleet.start()
    return fleet


def health(fleet, source):
    return fleet.state.health.get(source)


def connected(fleet, source):
    found = health(fleet, source)
    return found is not None and found.state is HealthState.CONNECTED


def failing(fleet, source):
    found = health(fleet, source)
    return found if found is not None and found.state is HealthState.ERROR else None


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def post_alert(am, pki, name: str) -> None:
    """An alert as Prometheus would send it (authenticated, over TLS)."""
    answer = requests.post(am.url + "/api/v2/alerts", auth=(USER, PASSWORD), verify=str(pki.ca), timeout=5,
                           json=[{"labels": {"alertname": name, "service": "fast-model", "namespace": "ml",
                                             "severity": "warning"}}])
    assert answer.status_code == 200, answer.text


def test_right_credentials_read_prometheus_and_alertmanager_behind_tls_basic_auth_and_a_prefix(
        servers, pki, password_file, monkeypatch):
    """The operator points the app at https://host/prometheus and https://host/alertmanager with a user,
    a password file, the company CA and a client certificate: both connect and their data shows. Their
    shell exports REQUESTS_CA_BUNDLE (the public CAs): ca_file still wins."""
    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    prom, am = servers
    post_alert(am, pki, "AuthTestAlert")
    fleet = start_fleet({"prometheus": prometheus_settings(prom, pki, password_file),
                         "alertmanager": alertmanager_settings(am, pki, password_file)})
    try:
        for source in ("prometheus", "prometheus-alerts", "alertmanager"):
            wait_for(lambda source=source: connected(fleet, source), 20, f"{source} connected")
        wait_for(lambda: any(a.name == "AuthTestAlert" for a in fleet.state.alerts), 20, "the alert listed")
        metrics = fleet.backends["prometheus"]
        assert metrics.client.query("vector(1)")[0]["value"][1] == "1"
    finally:
        fleet.stop()


def test_a_silence_through_basic_auth_and_tls_is_audited_without_the_password(servers, pki, password_file,
                                                                             tmp_path):
    """The operator silences an alert on the authenticated Alertmanager: Alertmanager holds the silence,
    the audit log records it, and the password is nowhere in the audit file."""
    from mlops_tui.backends.alerts import actions
    from mlops_tui.backends.plans import Outcome
    from mlops_tui.tui.audit import AuditLog

    _prom, am = servers
    post_alert(am, pki, "AuditedAlert")
    audit = AuditLog(tmp_path / "audit.jsonl")
    fleet = start_fleet({"alertmanager": alertmanager_settings(am, pki, password_file)}, audit=audit.append)
    try:
        alert = wait_for(lambda: next((a for a in fleet.state.alerts if a.name == "AuditedAlert"), None), 20,
                         "the alert listed")
        plan = fleet.plan_on("alertmanager", alert, actions.silence_intent(alert, 600, "auth test, OPS-7"))
        outcome = fleet.apply(plan, confirmed_text=plan.confirm_text, verify_timeout=15)
        assert outcome.outcome is Outcome.SUCCEEDED, outcome.detail
    finally:
        fleet.stop()
    silences = requests.get(am.url + "/api/v2/silences", auth=(USER, PASSWORD), verify=str(pki.ca), timeout=5).json()
    assert any(s["comment"] == "auth test, OPS-7" and s["status"]["state"] == "active" for s in silences)
    written = (tmp_path / "audit.jsonl").read_text()
    assert '"action":"silence"' in written and "alert AuditedAlert" in written
    assert_no_secret(written)


def test_a_wrong_password_is_one_line_naming_the_url_and_the_other_sources_go_on(servers, pki, tmp_path, caplog):
    """The operator's password file holds last quarter's password: Prometheus shows one line naming its
    URL and the refusal; Alertmanager (right password) and the cluster stay connected. The password
    read from the file is in no message and no log line."""
    prom, am = servers
    stale = tmp_path / "old-password"
    stale.write_text("last-quarter-password\n")
    good = tmp_path / "password"
    good.write_text(PASSWORD)
    caplog.set_level(logging.DEBUG)
    fleet = start_fleet({"prometheus": prometheus_settings(prom, pki, stale),
                         "alertmanager": alertmanager_settings(am, pki, good)},
                        StaticServices("prod", [model_service("fast-model")]))
    try:
        wait_for(lambda: connected(fleet, "alertmanager"), 20, "alertmanager connected")
        refused = wait_for(lambda: failing(fleet, "prometheus"), 20, "prometheus refused")
        assert refused.error == (f"metrics unavailable: {prom.url}: HTTP 401 Unauthorized: wrong or missing "
                                 "credentials (username/password_file/password_env, bearer_token_file)")
        assert "\n" not in refused.error
        assert wait_for(lambda: failing(fleet, "prometheus-alerts"), 20, "prometheus alerts refused").error.startswith(
            f"alerts unavailable: {prom.url}: HTTP 401")
        assert connected(fleet, "prod") and connected(fleet, "alertmanager")
    finally:
        fleet.stop()
    assert "last-quarter-password" not in caplog.text
    assert_no_secret(caplog.text)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("other_ca", "TLS: the server's certificate is not signed by a trusted CA (check ca_file)"),
        ("no_client_cert", "TLS: the server wants a client certificate it accepts (check cert_file and key_file)"),
    ],
)
def test_a_wrong_ca_or_a_missing_client_certificate_is_one_line_naming_the_url(servers, pki, password_file,
                                                                                change, reason):
    """The operator points ca_file at the wrong CA, or forgets the client certificate Prometheus
    requires: one line naming the URL and what to check; Alertmanager stays connected."""
    prom, am = servers
    settings = prometheus_settings(prom, pki, password_file)
    if change == "other_ca":
        settings["ca_file"] = str(pki.other_ca)
    else:
        settings.pop("cert_file")
        settings.pop("key_file")
    fleet = start_fleet({"prometheus": settings, "alertmanager": alertmanager_settings(am, pki, password_file)})
    try:
        refused = wait_for(lambda: failing(fleet, "prometheus"), 20, "prometheus failing")
        assert refused.error == f"metrics unavailable: {prom.url}: {reason}"
        wait_for(lambda: connected(fleet, "alertmanager"), 20, "alertmanager connected")
    finally:
        fleet.stop()


def test_alertmanager_with_a_wrong_password_names_its_url_and_prometheus_goes_on(servers, pki, password_file,
                                                                                 tmp_path):
    prom, am = servers
    stale = tmp_path / "old-password"
    stale.write_text("not-the-password")
    fleet = start_fleet({"prometheus": prometheus_settings(prom, pki, password_file),
                         "alertmanager": alertmanager_settings(am, pki, stale)})
    try:
        refused = wait_for(lambda: failing(fleet, "alertmanager"), 20, "alertmanager refused")
        assert refused.error.startswith(f"alerts unavailable: {am.url}: HTTP 401 Unauthorized")
        wait_for(lambda: connected(fleet, "prometheus"), 20, "prometheus connected")
    finally:
        fleet.stop()


def test_the_password_from_an_environment_variable_reads_alertmanager(servers, pki, monkeypatch):
    """password_env names the variable; the value never sits in the config."""
    _prom, am = servers
    monkeypatch.setenv("MLOPS_TEST_AM_PASSWORD", PASSWORD)
    settings = alertmanager_settings(am, pki, "")
    settings.pop("password_file")
    fleet = start_fleet({"alertmanager": settings | {"password_env": "MLOPS_TEST_AM_PASSWORD"}})
    try:
        wait_for(lambda: connected(fleet, "alertmanager"), 20, "alertmanager connected")
    finally:
        fleet.stop()


def test_a_bearer_token_file_rotated_while_running_is_picked_up(tmp_path):
    """The operator's token agent rewrites the token file when the old token expires; the gateway now
    accepts only the new one. The sources reconnect at their next poll, without a restart, and the
    tenant header goes with every request to both Prometheus and Alertmanager APIs."""
    token = tmp_path / "token"
    token.write_text(TOKEN_1 + "\n")
    common = {"refresh_seconds": 0.3, "bearer_token_file": str(token), "headers": {"X-Scope-OrgID": "team-ml"}}
    with recording_server("/prometheus") as gateway:
        gateway.accepted_token = TOKEN_1
        fleet = start_fleet({"prometheus": {"url": gateway.url} | common,
                             "alertmanager": {"url": gateway.url} | common})
        try:
            for source in ("prometheus", "prometheus-alerts", "alertmanager"):
                wait_for(lambda source=source: connected(fleet, source), 20, f"{source} connected with token 1")

            gateway.accepted_token = TOKEN_2  # the old token expired
            wait_for(lambda: failing(fleet, "alertmanager") or health(fleet, "alertmanager").state
                     is HealthState.STALE, 20, "the expired token refused")
            token.write_text(TOKEN_2 + "\n")  # the agent writes the new one
            for source in ("prometheus", "prometheus-alerts", "alertmanager"):
                wait_for(lambda source=source: connected(fleet, source), 20, f"{source} connected with token 2")
        finally:
            fleet.stop()
        assert f"Bearer {TOKEN_2}" in gateway.seen("Authorization")
        with gateway.lock:
            paths = {path for path, _headers in gateway.requests}
            tenants = {headers.get("x-scope-orgid") for _path, headers in gateway.requests}
        wanted = {"/prometheus/api/v1/label/__name__/values", "/prometheus/api/v1/alerts", "/prometheus/api/v2/alerts"}
        assert wanted <= paths
        assert tenants == {"team-ml"}


def test_status_json_shows_the_refusal_and_never_the_secret(servers, pki, tmp_path):
    """`mlops-tui status` and `status --json` with a config file naming the password file: the wrong
    password is one problem line naming the URL, the right one reads Alertmanager; neither password is in the output,
    the audit log or a crash report."""
    prom, am = servers
    good = tmp_path / "password"
    good.write_text(PASSWORD)
    stale = tmp_path / "stale"
    stale.write_text(PASSWORD + "-old")
    config = tmp_path / "config.toml"
    config.write_text("\n".join([
        "[prometheus]", f'url = "{prom.url}"', f'username = "{USER}"', f'password_file = "{stale}"',
        f'ca_file = "{pki.ca}"', f'cert_file = "{pki.client_cert}"', f'key_file = "{pki.client_key}"',
        "[alertmanager]", f'url = "{am.url}"', f'username = "{USER}"', 'password_env = "MLOPS_TEST_PW"',
        f'ca_file = "{pki.ca}"', 'headers = { "X-Scope-OrgID" = "team-ml" }',
    ]))
    env = {**os.environ, "MLOPS_TEST_PW": PASSWORD, "XDG_STATE_HOME": str(tmp_path / "state")}

    def status(*output: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "mlops_tui", "status", *output, "--config", str(config), "--timeout", "20",
             "--kubeconfig", str(tmp_path / "no-kubeconfig"), "--audit-log", str(tmp_path / "audit.jsonl")],
            capture_output=True, text=True, timeout=60, env=env)

    table = status()
    refused = [line for line in table.stderr.splitlines() if line.startswith("mlops-tui: cannot read prometheus:")]
    assert refused == [f"mlops-tui: cannot read prometheus: error: metrics unavailable: {prom.url}: HTTP 401 "
                       "Unauthorized: wrong or missing credentials (username/password_file/password_env, "
                       "bearer_token_file)"], table.stderr
    assert "cannot read alertmanager" not in table.stderr
    assert_no_secret(table.stdout + table.stderr)

    out = status("--json")
    document = json.loads(out.stdout)
    sources = {s["name"]: s for s in document["sources"]}
    assert sources["alertmanager"]["state"] == "connected", sources["alertmanager"]
    assert sources["prometheus"]["error"].startswith(f"metrics unavailable: {prom.url}: HTTP 401 Unauthorized")
    assert out.returncode == 1
    assert [p for p in document["problems"] if p.startswith("prometheus:")] == [
        f"prometheus: error: {sources['prometheus']['error']}"]
    assert_no_secret(out.stdout + out.stderr)
    assert (PASSWORD + "-old") not in out.stdout + out.stderr
    for written in [*Path(tmp_path).rglob("*.jsonl"), *Path(tmp_path / "state").rglob("*")]:
        if written.is_file():
            assert_no_secret(written.read_text(errors="replace"))


async def test_the_status_bar_names_the_url_that_refused_and_the_dashboard_goes_on(servers, pki, password_file,
                                                                                  tmp_path):
    """In the app: Prometheus refuses last quarter's password; the status bar says so in one line
    naming its URL, Alertmanager is connected, and the cluster's services are still listed."""
    from mlops_tui.tui.config import Settings
    from tests.fakes import InMemoryBackend
    from tests.tui.conftest import make_app, seed_fleet, until, visible_text

    prom, am = servers
    stale = tmp_path / "old-password"
    stale.write_text("last-quarter-password")
    cluster = InMemoryBackend()
    seed_fleet(cluster)
    sources = build_backends({"prometheus": prometheus_settings(prom, pki, stale),
                              "alertmanager": alertmanager_settings(am, pki, password_file)}, BuildContext())
    app, _backend = make_app(Settings(), backends=[cluster, *sources])
    async with app.run_test(size=(240, 50)) as pilot:
        def refused_and_connected() -> bool:
            """the refusal naming the URL on screen, and alertmanager connected"""
            shown = visible_text(app)
            # The whole refusal where the line has room; with two sources refused, each keeps its URL.
            named = (f"✖ prometheus error: metrics unavailable: {prom.url}: HTTP 401 Unauthorized" in shown
                     or f"✖ prometheus error ({prom.url})" in shown)
            return named and connected(app.fleet, "alertmanager")

        await until(pilot, refused_and_connected, timeout=20)
        text = visible_text(app)
        assert "property-valuation-model" in text
        assert_no_secret(text)


def test_a_silence_refused_for_its_credentials_names_the_url_and_alertmanager_holds_nothing(servers, pki,
                                                                                            password_file, tmp_path):
    """The password was rotated on the server after the alert list was read: the silence is refused
    in one line naming the URL and the credentials, the audit says refused, and no silence exists."""
    from mlops_tui.backends.alerts import actions
    from mlops_tui.backends.plans import Outcome

    _prom, am = servers
    post_alert(am, pki, "RefusedSilenceAlert")
    password = tmp_path / "password"
    password.write_text(PASSWORD)
    audit: list[dict] = []
    fleet = start_fleet({"alertmanager": alertmanager_settings(am, pki, password)}, audit=audit.append)
    try:
        alert = wait_for(lambda: next((a for a in fleet.state.alerts if a.name == "RefusedSilenceAlert"), None), 20,
                         "the alert listed")
        plan = fleet.plan_on("alertmanager", alert, actions.silence_intent(alert, 600, "refused, OPS-8"))
        password.write_text("rotated-away")
        outcome = fleet.apply(plan, confirmed_text=plan.confirm_text, verify_timeout=5)
    finally:
        fleet.stop()
    assert outcome.outcome is not Outcome.SUCCEEDED
    assert outcome.detail == (f"Alertmanager refused: {am.url}: HTTP 401 Unauthorized: wrong or missing credentials "
                              "(username/password_file/password_env, bearer_token_file)")
    silences = requests.get(am.url + "/api/v2/silences", auth=(USER, PASSWORD), verify=str(pki.ca), timeout=5).json()
    assert not any(s["comment"] == "refused, OPS-8" for s in silences)
    assert audit[-1]["result"] != "succeeded"
    assert_no_secret(json.dumps(audit))
