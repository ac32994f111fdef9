"""Authentication, TLS and headers for Prometheus and Alertmanager (backends/http_access.py): what the
operator writes under `[prometheus]`/`[alertmanager]`, how a mistake is refused (one line, the secret
never in it), and what each request carries."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
import requests

from mlops_tui.backends.engine_spec import BuildContext
from mlops_tui.backends.failed_source import FailedSource
from mlops_tui.backends.http_access import HttpAccess
from mlops_tui.backends.poller import describe_error
from mlops_tui.backends.registry import build_backends, engine
from mlops_tui.tui.config import ConfigError, build_settings
from mlops_tui.tui.crash import write_crash_report

SECRET = "s3cr3t-never-shown"


def config(tmp_path: Path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return build_settings({}, str(path))


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        config(tmp_path, text)
    message = str(info.value)
    assert "\n" not in message
    return message


METRICS_SOURCES = {"prometheus", "prometheus-alerts", "alertmanager"}


def build_metrics(options):
    """The metrics and alert sources the app would build for these settings (not started)."""
    return [b for b in build_backends(options, BuildContext()) if b.name in METRICS_SOURCES]


def prepared(access: HttpAccess, url: str = "https://metrics.example/prometheus/api/v1/query"):
    """The request the session would send (auth applied), without sending it."""
    session = requests.Session()
    access.configure(session)
    return session, session.prepare_request(requests.Request("GET", url))


def test_both_engines_take_the_same_auth_tls_and_header_keys_from_the_config_file(tmp_path):
    token = tmp_path / "token"
    token.write_text(SECRET)
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = config(tmp_path, f"""
[prometheus]
url = "https://mimir.example/prometheus"
bearer_token_file = "{token}"
ca_file = "{ca}"
headers = {{ "X-Scope-OrgID" = "team-ml" }}

[alertmanager]
url = "https://mimir.example/alertmanager"
bearer_token_file = "{token}"
insecure_skip_verify = true
headers = {{ "X-Scope-OrgID" = "team-ml" }}
""")
    prom = settings.engines["prometheus"]
    am = settings.engines["alertmanager"]
    assert (prom["bearer_token_file"], prom["ca_file"], prom["headers"]) == (str(token), str(ca),
                                                                             {"X-Scope-OrgID": "team-ml"})
    assert am["insecure_skip_verify"] is True and am["headers"] == {"X-Scope-OrgID": "team-ml"}
    names = {o.name for o in engine("prometheus").options} & {o.name for o in engine("alertmanager").options}
    assert {"bearer_token_file", "username", "password_file", "password_env", "ca_file", "cert_file", "key_file",
            "insecure_skip_verify", "headers"} <= names


def test_a_missing_file_or_a_bad_header_is_refused_in_one_line_naming_the_key(tmp_path):
    assert refusal(tmp_path, '[prometheus]\nca_file = "/nowhere/ca.pem"\n').endswith(
        "key 'prometheus.ca_file': expected the path of an existing file, got '/nowhere/ca.pem'")
    assert "key 'alertmanager.headers': expected a table of HTTP header name = string value" in refusal(
        tmp_path, '[alertmanager]\nheaders = { "X-Scope OrgID" = "a" }\n')
    assert "key 'alertmanager.headers'" in refusal(tmp_path, '[alertmanager]\nheaders = { "X-A" = "a\\r\\nX-B: b" }\n')


@pytest.mark.parametrize(
    ("options", "line"),
    [
        ({"username": "ops"}, "username 'ops' needs password_file or password_env"),
        ({"password_env": "PW"}, "a password needs a username"),
        ({"username": "ops", "password_env": "MLOPS_UNSET_VARIABLE_X"},
         "password_env: environment variable MLOPS_UNSET_VARIABLE_X is not set"),
        ({"bearer_token_file": "/t", "username": "ops", "password_file": "/p"},
         "bearer_token_file and username (basic auth) exclude each other: choose one"),
        ({"key_file": "/k"}, "key_file needs cert_file (the client certificate it belongs to)"),
        ({"ca_file": "/ca", "insecure_skip_verify": True},
         "ca_file and insecure_skip_verify contradict each other: choose one"),
        ({"headers": {"Authorization": f"Bearer {SECRET}"}},
         "headers: Authorization carries credentials; use bearer_token_file or username + password_file "
         "(secrets never inline)"),
    ],
)
def test_contradicting_settings_show_one_line_in_place_of_the_source_and_never_the_secret(options, line):
    """The engine's sources are replaced by one FailedSource naming the mistake; other engines build."""
    built = build_metrics({"prometheus": {"url": "https://prom.example"} | options,
                           "alertmanager": {"url": "http://am.example:9093"}})
    failed = [b for b in built if isinstance(b, FailedSource)]
    assert [(f.name, f.error) for f in failed] == [("prometheus", line)]
    assert SECRET not in failed[0].error
    assert [b.name for b in built if not isinstance(b, FailedSource)] == ["alertmanager"]


def test_a_url_holding_a_password_is_refused_without_repeating_it():
    built = build_metrics({"alertmanager": {"url": f"https://ops:{SECRET}@am.example"}})
    assert [(b.name, b.error) for b in built] == [
        ("alertmanager", "the URL holds credentials; use username + password_file or password_env instead")]


def test_basic_auth_reads_the_password_file_and_sends_it_only_in_the_authorization_header(tmp_path):
    password = tmp_path / "password"
    password.write_text(SECRET + "\n")
    access = HttpAccess(username="ops", password_file=str(password), headers={"X-Scope-OrgID": "team-ml"})
    _session, request = prepared(access)
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"ops:{SECRET}".encode()).decode()
    assert request.headers["X-Scope-OrgID"] == "team-ml"
    assert request.url == "https://metrics.example/prometheus/api/v1/query"


def test_the_password_from_the_environment_is_read_when_the_request_is_sent(monkeypatch):
    monkeypatch.setenv("MLOPS_TEST_PASSWORD", "first")
    access = HttpAccess.from_options({"username": "ops", "password_env": "MLOPS_TEST_PASSWORD"})
    monkeypatch.setenv("MLOPS_TEST_PASSWORD", SECRET)
    _session, request = prepared(access)
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"ops:{SECRET}".encode()).decode()


def test_a_rewritten_token_file_is_sent_by_the_very_next_request_even_at_the_same_size(tmp_path):
    """A token agent rewrites the file within the same clock tick, same length: still picked up."""
    token = tmp_path / "token"
    token.write_text("token-AAAA")
    session, first = prepared(HttpAccess(bearer_token_file=str(token)))
    token.write_text("token-BBBB")
    second = session.prepare_request(requests.Request("GET", "https://metrics.example/api/v1/query"))
    assert (first.headers["Authorization"], second.headers["Authorization"]) == ("Bearer token-AAAA",
                                                                                 "Bearer token-BBBB")


def test_a_token_file_gone_at_poll_time_is_one_line_naming_the_file(tmp_path):
    session = requests.Session()
    HttpAccess(bearer_token_file=str(tmp_path / "token")).configure(session)
    with pytest.raises(OSError) as info:
        session.prepare_request(requests.Request("GET", "https://metrics.example/api/v1/query"))
    assert describe_error(info.value) == f"cannot read {tmp_path / 'token'}: No such file or directory"


def test_tls_settings_reach_the_session(tmp_path):
    session, _ = prepared(HttpAccess(ca_file="/etc/ca.pem", cert_file="/c.pem", key_file="/k.pem"))
    assert (session.verify, session.cert) == ("/etc/ca.pem", ("/c.pem", "/k.pem"))
    session, _ = prepared(HttpAccess(insecure_skip_verify=True))
    assert session.verify is False


def test_the_secret_is_in_no_repr_log_line_or_crash_report(tmp_path, caplog):
    """Whatever the app prints about a source (its settings, its session's auth, an error's traceback
    in a crash report) names the file, never what is in it."""
    password = tmp_path / "password"
    password.write_text(SECRET)
    access = HttpAccess.from_options({"username": "ops", "password_file": str(password)})
    session, _request = prepared(access)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("mlops_tui").debug("settings %r auth %r", access, session.auth)
    try:
        raise RuntimeError(f"poll failed with {access!r} {session.auth!r}")
    except RuntimeError as exc:
        report = write_crash_report(exc, tmp_path / "crash")
    assert report is not None
    assert SECRET not in caplog.text and str(password) in caplog.text
    assert SECRET not in report.read_text()
