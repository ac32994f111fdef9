"""Secrets, counted (issue 16 §4): the operator's credentials never reach anything the app writes.

A kubeconfig with three users on the simulated cluster (a bearer token, a client certificate with its
key inline, an exec plugin printing an ExecCredential with a token); the real Prometheus and
Alertmanager behind basic auth and TLS. The operator's actions succeed and fail, a crash report is
written, `mlops-tui status --json` runs with the right password and with a wrong one, and every log
record any module emits (DEBUG and up) is kept. Then every one of those is searched for each secret,
as typed and base64-encoded (as it travels in a header or a kubeconfig): zero occurrences.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.model import ActionKind, Alert, HealthState, ServiceKind
from mlops_tui.backends.plans import Scale, SilenceAlert
from mlops_tui.tui.audit import AuditLog
from mlops_tui.tui.config import Settings
from mlops_tui.tui.crash import write_crash_report, write_report
from mlops_tui.tui.exit_guard import thread_stacks
from mlops_tui.tui.sources import build_backends
from tests.engines import require_binary
from tests.integration.secured_servers import USER, make_pki, secured_alertmanager, secured_prometheus
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PASSWORD = "pw-secrets-counted-5e1f"
NS = "ml-prod"
CONTEXTS = ("sec-token", "sec-cert", "sec-exec")

PLUGIN = """#!{python}
# An exec credential plugin (as EKS's): hands out a bearer token in an ExecCredential.
import json, os, sys
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
print(json.dumps({{"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                  "status": {{"token": os.environ["SEC_TOKEN"]}}}}))
"""


class Secrets:
    """Every secret the operator handed the app, and the forms each can take on the way."""

    def __init__(self, token: str, exec_token: str, key_pem: bytes, password: str) -> None:
        body = "".join(line for line in key_pem.decode().splitlines() if not line.startswith("-----"))
        self.named = {
            "bearer token": token,
            "exec plugin token": exec_token,
            "client key (PEM body)": body,
            "client key (kubeconfig client-key-data)": base64.b64encode(key_pem).decode(),
            "basic auth password": password,
            "basic auth header": base64.b64encode(f"{USER}:{password}".encode()).decode(),
        }
        for name, value in list(self.named.items()):
            self.named[f"{name}, base64"] = base64.b64encode(value.encode()).decode()
        # A line of the key's base64 body is a secret too (a PEM is wrapped at 64 characters).
        for n, line in enumerate(key_pem.decode().splitlines()[1:-1]):
            self.named[f"client key line {n + 1}"] = line

    def found_in(self, what: str, text: str) -> list[str]:
        return [f"{name} in {what}" for name, value in self.named.items() if value and value in text]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The simulated cluster, the secured Prometheus and Alertmanager, and the kubeconfig naming them."""
    from mlops_tui.sim.kube import SimKubeCluster
    from mlops_tui.sim.kube.cluster import kubeconfig
    from mlops_tui.sim.kube.tls import issue_client_cert

    tmp = tmp_path_factory.mktemp("secrets")
    (tmp / "pki").mkdir()
    pki = make_pki(tmp / "pki")
    password_file = tmp / "metrics-password"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    sim = SimKubeCluster.start(name="sec-sim", seed=21, fleet="demo", ready_delay=0.2)
    cert_pem, key_pem = issue_client_cert("sec-admin", ("system:masters",))
    exec_token = sim.auth.signed_token(ttl=3600)
    plugin = tmp / "credential-plugin"
    plugin.write_text(PLUGIN.format(python=sys.executable))
    plugin.chmod(0o755)
    doc = kubeconfig([sim])
    doc["users"] = [
        {"name": "token-user", "user": {"token": sim.admin_token}},
        {"name": "cert-user", "user": {"client-certificate-data": base64.b64encode(cert_pem).decode(),
                                       "client-key-data": base64.b64encode(key_pem).decode()}},
        {"name": "exec-user", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                "command": str(plugin), "interactiveMode": "Never",
                                                "env": [{"name": "SEC_TOKEN", "value": exec_token}]}}},
    ]
    doc["contexts"] = [{"name": f"sec-{kind}", "context": {"cluster": "sec-sim", "user": f"{kind}-user"}}
                       for kind in ("token", "cert", "exec")]
    doc["current-context"] = "sec-token"
    config = tmp / "kubeconfig"
    config.write_text(yaml.safe_dump(doc))
    config.chmod(0o600)
    with (
        secured_prometheus(require_binary("prometheus"), pki, PASSWORD) as prom,
        secured_alertmanager(require_binary("prometheus-alertmanager", "alertmanager"), pki, PASSWORD) as am,
    ):
        yield {"sim": sim, "kubeconfig": config, "pki": pki, "password_file": password_file, "prom": prom,
               "am": am, "tmp": tmp,
               "secrets": Secrets(sim.admin_token, exec_token, key_pem, PASSWORD)}
    sim.stop()


def post_alert(world, name: str) -> None:
    """An alert as Prometheus would send it (authenticated, over TLS)."""
    answer = requests.post(world["am"].url + "/api/v2/alerts", auth=(USER, PASSWORD), verify=str(world["pki"].ca),
                           timeout=5, json=[{"labels": {"alertname": name, "severity": "warning"}}])
    assert answer.status_code == 200, answer.text


def settings_for(world, state: Path, password_file: Path | None = None) -> Settings:
    pki = world["pki"]
    auth = {"username": USER, "password_file": str(password_file or world["password_file"]), "ca_file": str(pki.ca)}
    return (Settings(audit_log=str(state / "audit.jsonl"))
            .with_engine("kubernetes", kubeconfig=str(world["kubeconfig"]), contexts=list(CONTEXTS),
                         all_contexts=False)
            .with_engine("prometheus", url=world["prom"].url, refresh_seconds=1.0, cert_file=str(pki.client_cert),
                         key_file=str(pki.client_key), **auth)
            .with_engine("alertmanager", url=world["am"].url, refresh_seconds=1.0, **auth))


def config_file(world, path: Path, password_file: Path) -> Path:
    pki = world["pki"]
    auth = (f'username = "{USER}"\npassword_file = "{password_file}"\nca_file = "{pki.ca}"\n')
    path.write_text(
        f'[kubernetes]\nkubeconfig = "{world["kubeconfig"]}"\ncontexts = {json.dumps(list(CONTEXTS))}\n\n'
        f'[prometheus]\nurl = "{world["prom"].url}"\ncert_file = "{pki.client_cert}"\nkey_file = "{pki.client_key}"\n'
        f'{auth}\n[alertmanager]\nurl = "{world["am"].url}"\n{auth}')
    return path


def run_fleet(settings: Settings) -> Fleet:
    fleet = Fleet(readonly=False, audit=AuditLog(settings.audit_path).append, operator="oncall-sam")
    for backend in build_backends(settings, lambda: fleet.state):
        fleet.add_backend(backend)
    fleet.start()
    return fleet


def service(fleet: Fleet, source: str, name: str):
    return eventually(lambda: next((s for k, s in fleet.state.services.items()
                                    if k.cluster == source and k.name == name and k.kind is ServiceKind.DEPLOYMENT
                                    and ActionKind.SCALE in s.actions), None), 30, what=f"{name} on {source}")


def test_no_secret_in_the_audit_crash_reports_status_json_errors_or_logs(world, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # every record of every module, as a debug log file would hold them
    secrets: Secrets = world["secrets"]
    state = tmp_path / "state"
    state.mkdir()
    post_alert(world, "SecretsCountedAlert")
    fleet = run_fleet(settings_for(world, state))
    texts: dict[str, str] = {}
    try:
        for source in (*CONTEXTS, "prometheus", "alertmanager"):
            eventually(lambda s=source: fleet.state.health.get(s) is not None
                       and fleet.state.health[s].state is HealthState.CONNECTED, 60, what=f"{source} connected")
        name = next(k.name for k in fleet.state.services if k.cluster == "sec-token"
                    and k.kind is ServiceKind.DEPLOYMENT)
        # An action that succeeds through each kind of Kubernetes credential.
        outcomes = []
        for n, source in enumerate(CONTEXTS):
            target = service(fleet, source, name)
            plan = fleet.plan(target, Scale(target.desired + 1 + n))
            outcomes.append(fleet.apply(plan, verify_timeout=30))
        assert all(o.ok for o in outcomes), [o.detail for o in outcomes]
        # One that fails: the Deployment deleted between the preview and the confirmation.
        doomed = service(fleet, "sec-cert", name)
        plan = fleet.plan(doomed, Scale(1))
        world["sim"].store.delete("deployments", NS, name)
        failed = fleet.apply(plan, verify_timeout=10)
        assert not failed.ok
        texts["the failed action's detail"] = failed.detail
        # A silence through basic auth and TLS.
        alert: Alert = eventually(lambda: next((a for a in fleet.state.alerts
                                                if a.name == "SecretsCountedAlert"), None), 30, what="the alert listed")
        silence = fleet.plan_on("alertmanager", alert, SilenceAlert(matchers=(("alertname", alert.name, False),),
                                                                      duration_seconds=600, comment="checking"))
        assert fleet.apply(silence, verify_timeout=30).ok
        # Crash reports: every thread's stack while the engines are being read, and the errors the
        # engine clients raise (what the app's crash handler would write).
        for what, call in (("kubernetes", lambda: fleet.backends["sec-cert"].transport.request("GET", "/nope")),
                           ("prometheus", lambda: fleet.backends["prometheus"].client.query("sum(")),
                           ("alertmanager", lambda: fleet.backends["alertmanager"].client.call("GET", "/api/v2/nope"))):
            try:
                call()
            except Exception as exc:  # any error: what a crash report would hold
                write_crash_report(exc, state, what=f"forced: {what}")
        write_report(thread_stacks(), state, what="forced: every thread")
        texts["health"] = repr(fleet.state.health)
    finally:
        fleet.stop()

    # Wrong password: the error the operator reads names the source, never the password it tried.
    wrong = tmp_path / "wrong-password"
    wrong.write_text("pw-wrong-" + PASSWORD[::-1] + "\n")
    secrets.named["the wrong password"] = "pw-wrong-" + PASSWORD[::-1]
    refused = run_fleet(settings_for(world, state, password_file=wrong))
    try:
        for source in ("prometheus", "alertmanager"):
            health = eventually(lambda s=source: refused.state.health.get(s) if refused.state.health.get(s) is not None
                                and refused.state.health[s].state is HealthState.ERROR else None, 60,
                                what=f"{source} refused")
            texts[f"{source}'s error"] = health.error
            assert health.error
    finally:
        refused.stop()

    # The runbook's one-shot command, with the right password and with the wrong one.
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
           "HOME": str(tmp_path)}
    for label, password_file in (("right", world["password_file"]), ("wrong", wrong)):
        config = config_file(world, tmp_path / f"config-{label}.toml", password_file)
        out = subprocess.run([sys.executable, "-m", "mlops_tui", "status", "--json", "--config", str(config),
                              "--timeout", "30", "--audit-log", str(state / "audit.jsonl")],
                             capture_output=True, text=True, timeout=90, env=env)
        texts[f"status --json ({label} password), stdout"] = out.stdout
        texts[f"status --json ({label} password), stderr"] = out.stderr
        document = json.loads(out.stdout)
        states = {s["name"]: s["state"] for s in document["sources"]}
        assert states["sec-exec"] == "connected", out.stderr
        assert (states["prometheus"] == "connected") is (label == "right"), document["sources"]

    files = [p for p in state.rglob("*") if p.is_file()]
    assert any(p.name.startswith("crash-") for p in files) and (state / "audit.jsonl").exists()
    records = [json.loads(line) for line in (state / "audit.jsonl").read_text().splitlines()]
    assert any(r.get("result") == "succeeded" for r in records) and any(r.get("action") == "silence" for r in records)
    for path in files:
        texts[str(path.relative_to(tmp_path))] = path.read_text(errors="replace")
    texts["every log record"] = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert len(caplog.records) > 10
    leaks = [leak for what, text in texts.items() for leak in secrets.found_in(what, text)]
    assert leaks == []
    # And the count is not zero because nothing was searched: the same search finds them where they are.
    assert secrets.found_in("the kubeconfig", world["kubeconfig"].read_text())
