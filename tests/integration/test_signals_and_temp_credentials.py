"""An SSH drop (SIGHUP) or a kill (SIGTERM): the app exits cleanly, leaves no private key in the temp
directory, and audits what it was following. Real subprocesses, real signals."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import yaml

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.plans import Scale, VerifyResult
from mlops_tui.tui.cli import _stop_cleanly_on_signals
from tests.fakes import T0, InMemoryBackend, service


def kubeconfig_with_inline_client_key(path: Path) -> None:
    """A context whose client certificate and key are inline (base64), as cloud kubeconfigs carry them:
    the kubernetes client writes them to temporary files to hand them to the TLS layer."""
    from mlops_tui.sim.kube.tls import cert_paths

    cert, key = (Path(p).read_bytes() for p in cert_paths())
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": "remote",
        "clusters": [{"name": "remote", "cluster": {"server": "https://127.0.0.1:9",
                                                    "certificate-authority-data": base64.b64encode(cert).decode()}}],
        "users": [{"name": "admin", "user": {"client-certificate-data": base64.b64encode(cert).decode(),
                                             "client-key-data": base64.b64encode(key).decode()}}],
        "contexts": [{"name": "remote", "context": {"cluster": "remote", "user": "admin"}}],
    }
    path.write_text(yaml.safe_dump(doc))


RUN_APP = textwrap.dedent("""
    import sys
    from mlops_tui.tui.cli import parser, run_dashboard, settings_from
    args = parser().parse_args(sys.argv[1:])
    sys.exit(run_dashboard(settings_from(args), headless=True))
""")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_removes_the_kubernetes_clients_temporary_key_files_and_exits_cleanly(tmp_path, signum):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig_with_inline_client_key(kubeconfig)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock",
           "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    app = subprocess.Popen([sys.executable, "-c", RUN_APP, "--kubeconfig", str(kubeconfig), "--context", "remote",
                            "--audit-log", str(tmp_path / "audit.jsonl")],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The app has set up its sources (it proves the audit log writable just before it builds them,
        # and the Kubernetes client loads the inline key as it connects): an SSH drop now.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (tmp_path / "audit.jsonl").exists() and app.poll() is None:
            time.sleep(0.1)
        assert app.poll() is None and (tmp_path / "audit.jsonl").exists(), "the app did not start"
        app.send_signal(signum)
        _out, err = app.communicate(timeout=30)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)
    assert app.returncode == 128 + signum, err
    assert f"stopped by {signal.Signals(signum).name}" in err
    assert list(temp.iterdir()) == []  # no private key left behind


class Verifying(InMemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.verifying = threading.Event()
        self.release = threading.Event()

    def verify(self, plan, timeout, progress):
        self.verifying.set()
        self.release.wait(timeout)
        return VerifyResult(True, "done", {"replicas": "3"})


class FollowingApp:
    """What the signal handler reads of the app: its Fleet and the verifications it follows."""

    def __init__(self, fleet, plan) -> None:
        self.fleet = fleet
        self.verifications = {type("Verification", (), {"plan": plan})()}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_during_a_verification_leaves_the_intent_and_an_abandoned_record(signum):
    """The operator's SSH session drops while a scale is being verified: the audit holds the intent (written
    before the call) and a final record saying the app was stopped by the signal; nothing contradicts it."""
    audit: list[dict] = []
    backend = Verifying()
    svc = service("valuation", desired=2, ready=2)
    backend.services = {svc.key: svc}
    fleet = Fleet([backend], clock=lambda: T0, audit=audit.append)
    fleet.start()
    fleet.flush()
    plan = fleet.plan(svc, Scale(3))
    worker = threading.Thread(target=fleet.apply, args=(plan,), daemon=True)
    worker.start()
    assert backend.verifying.wait(10)
    stopped: list[int] = []
    restore = _stop_cleanly_on_signals(FollowingApp(fleet, plan), stopped)
    try:
        with pytest.raises(SystemExit) as exited:  # no event loop here: the handler ends the process
            os.kill(os.getpid(), signum)
            time.sleep(5)  # the handler runs at the next bytecode; this only bounds a broken handler
    finally:
        restore()
        backend.release.set()
        worker.join(10)
        fleet.stop()
    assert exited.value.code == 128 + signum and stopped == [signum]
    assert [r["result"] for r in audit] == ["intent", "applied-not-converged"]
    assert audit[1]["detail"] == f"applied; not verified: the app was stopped by {signal.Signals(signum).name}"
