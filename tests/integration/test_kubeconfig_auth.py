"""The operator's own kubeconfig, read as kubectl reads it, against the simulator over HTTPS.

The operator's story: their clusters authenticate the way EKS/GKE/AKS do, through an exec credential
plugin handing out tokens that expire within seconds; their KUBECONFIG lists several files; a sidecar
rotates a token file; the API server is only reachable through an HTTP proxy. They start mlops-tui and
leave it running: it keeps watching, runs the plugin again when its token expires or is refused, and
`kubectl` with the same kubeconfig agrees on which context, which user, which cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_tui.backends.fleet import Fleet
from mlops_tui.backends.kubernetes import resolve_backends
from mlops_tui.backends.kubernetes.client import ApiError, connect, resolve_targets
from mlops_tui.backends.model import HealthState, ServiceKey, ServiceKind
from tests.engines import require_binary
from tests.waiting import eventually

pytestmark = pytest.mark.integration

PLUGIN = """#!{python}
# A credential plugin as EKS's or GKE's: mints a short-lived token, says when it expires.
import datetime, hashlib, hmac, json, os, sys, time
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
with open(os.environ["PLUGIN_LOG"], "a") as log:
    log.write(json.dumps(info) + "\\n")
now = time.time()
ttl = float(os.environ["TOKEN_TTL"])
claimed = float(os.environ.get("CLAIMED_TTL") or ttl)
body = "sim-signed.%s.%d" % (os.environ.get("SIM_USER", "sim-admin"), int((now + ttl) * 1000))
token = body + "." + hmac.new(os.environ["SIM_SIGNING_KEY"].encode(), body.encode(), hashlib.sha256).hexdigest()
expiry = datetime.datetime.fromtimestamp(now + claimed, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps({{"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                  "status": {{"token": token, "expirationTimestamp": expiry}}}}))
"""


@pytest.fixture(scope="module")
def cluster():
    from mlops_tui.sim.kube import SimKubeCluster

    sim = SimKubeCluster.start(name="eks-sim", seed=3, fleet="empty", ready_delay=0.1)
    yield sim
    sim.stop()


@pytest.fixture(autouse=True)
def static_tokens_work_again(cluster):
    yield
    cluster.auth.require_signed_tokens(False)


def base_config(cluster) -> dict[str, Any]:
    from mlops_tui.sim.kube.cluster import kubeconfig

    return kubeconfig([cluster])


def write(path: Path, doc: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
    return str(path)


def plugin_kubeconfig(tmp_path: Path, cluster, api_version: str = "client.authentication.k8s.io/v1",
                      ttl: float = 3.0, claimed_ttl: float | None = None, user: str = "sim-admin") -> tuple[str, Path]:
    """A kubeconfig whose only user runs the plugin script; returns (kubeconfig, the plugin's run log)."""
    script = tmp_path / "sim-credential-plugin"
    script.write_text(PLUGIN.format(python=sys.executable))
    script.chmod(0o755)
    log = tmp_path / "plugin-runs.jsonl"
    doc = base_config(cluster)
    env = [{"name": "PLUGIN_LOG", "value": str(log)}, {"name": "SIM_SIGNING_KEY", "value": cluster.auth.signing_key},
           {"name": "TOKEN_TTL", "value": str(ttl)}, {"name": "CLAIMED_TTL", "value": str(claimed_ttl or "")},
           {"name": "SIM_USER", "value": user}]
    exec_user: dict[str, Any] = {"apiVersion": api_version, "command": str(script), "args": ["token"], "env": env,
                                 "provideClusterInfo": True}
    if api_version.endswith("/v1"):
        exec_user["interactiveMode"] = "Never"
    doc["users"] = [{"name": "eks-user", "user": {"exec": exec_user}}]
    # The namespace the deployments are created in: the app watches the context's namespace, as kubectl.
    doc["contexts"] = [{"name": "eks", "context": {"cluster": cluster.name, "user": "eks-user",
                                                   "namespace": "default"}}]
    doc["current-context"] = "eks"
    return write(tmp_path / "config", doc), log


def plugin_runs(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def kubectl(kubeconfig: str | None, *args: str, env: dict[str, str] | None = None) -> str:
    base = [require_binary("kubectl")] + (["--kubeconfig", kubeconfig] if kubeconfig else [])
    out = subprocess.run([*base, *args], capture_output=True, text=True, timeout=60,
                         env={**os.environ, **(env or {})})
    if out.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


def create_deployment(kubeconfig: str, folder: Path, name: str, namespace: str = "default") -> None:
    """`kubectl apply` a one-replica Deployment (kubectl authenticates through the kubeconfig)."""
    labels = {"app": name}
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
                "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "model", "image": f"registry.local/{name}:1"}]}}}}
    path = folder / f"{name}.json"
    path.write_text(json.dumps(manifest))
    kubectl(kubeconfig, "apply", "-f", str(path))


def whoami(client) -> str:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    review = client.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body=body).json()
    return review["status"]["userInfo"]["username"]


def kubectl_whoami(kubeconfig: str | None, env: dict[str, str] | None = None) -> str:
    return json.loads(kubectl(kubeconfig, "auth", "whoami", "-o", "json", env=env))["status"]["userInfo"]["username"]


@pytest.fixture
def running_fleet() -> Iterator[Callable[[list], Fleet]]:
    started: list[Fleet] = []

    def start(backends: list) -> Fleet:
        for backend in backends:
            backend._backoff = (0.05, 0.5)
            backend._watch_timeout = (1, 2)  # watches end every second or two: each reconnect needs a token
        fleet = Fleet(backends, audit=lambda _: None, operator="oncall-ana", max_rate=20)
        fleet.start()
        started.append(fleet)
        return fleet

    yield start
    for fleet in started:
        fleet.stop()


# -- exec credential plugins ------------------------------------------------------------------


def test_the_app_keeps_watching_across_token_expiries_and_runs_the_plugin_again(tmp_path, cluster, running_fleet):
    """Tokens live 3 s and the server refuses every other kind: the app, left running through several
    expiries, still sees what kubectl (through the same plugin) creates, and ran the plugin once per
    token lifetime rather than once per request."""
    kubeconfig, log = plugin_kubeconfig(tmp_path, cluster, ttl=3.0)
    cluster.auth.require_signed_tokens()
    started = time.monotonic()
    fleet = running_fleet(resolve_backends(kubeconfig=kubeconfig))
    eventually(lambda: fleet.state.health["eks"].state is HealthState.CONNECTED, 20, "connected with a plugin token")
    eventually(lambda: len(plugin_runs(log)) >= 4, 30, "three token expiries")

    create_deployment(kubeconfig, tmp_path, "fraud-scorer")
    key = ServiceKey("eks", "default", ServiceKind.DEPLOYMENT, "fraud-scorer")
    eventually(lambda: key in fleet.state.services, 20, "the deployment kubectl created, seen after the expiries")
    assert fleet.state.health["eks"].state is HealthState.CONNECTED
    app_runs = plugin_runs(log)
    elapsed = time.monotonic() - started
    # Cached until expiry: one run per token lifetime (2-3 s, the plugin rounds its expiry down to the
    # second), plus kubectl's two, never one per request (the watches reconnect several times a second).
    assert len(app_runs) <= 3 + elapsed / 2, (len(app_runs), elapsed)
    # kubectl judged the same kubeconfig and the simulator let it in with the plugin's token.
    assert "fraud-scorer" in kubectl(kubeconfig, "get", "deployments", "-n", "default", "-o", "name")
    # provideClusterInfo: the plugin was told which server it is minting for, and that nobody is typing.
    first = app_runs[0]
    assert first["apiVersion"] == "client.authentication.k8s.io/v1"
    assert first["spec"]["cluster"]["server"] == cluster.url
    assert first["spec"]["interactive"] is False


def test_a_token_refused_with_401_before_its_announced_expiry_runs_the_plugin_again(tmp_path, cluster,
                                                                                     running_fleet):
    """The plugin claims an hour but the server keeps its tokens 2 s (a revoked or clock-skewed token):
    only the 401 tells the client, which runs the plugin again and carries on (v1beta1 plugin)."""
    kubeconfig, log = plugin_kubeconfig(tmp_path, cluster, api_version="client.authentication.k8s.io/v1beta1",
                                        ttl=2.0, claimed_ttl=3600)
    cluster.auth.require_signed_tokens()
    refused_before = cluster.auth.rejected
    fleet = running_fleet(resolve_backends(kubeconfig=kubeconfig))
    eventually(lambda: fleet.state.health["eks"].state is HealthState.CONNECTED, 20, "connected")
    eventually(lambda: len(plugin_runs(log)) >= 3, 30, "plugin run again after the server said 401")
    assert cluster.auth.rejected > refused_before
    create_deployment(kubeconfig, tmp_path, "churn-model")
    eventually(lambda: ServiceKey("eks", "default", ServiceKind.DEPLOYMENT, "churn-model") in fleet.state.services,
               20, "the new deployment after a refused token")
    assert fleet.state.health["eks"].state is HealthState.CONNECTED


def test_a_token_the_server_never_accepts_is_one_401_after_one_fresh_try_not_a_loop(tmp_path, cluster):
    kubeconfig, log = plugin_kubeconfig(tmp_path, cluster, ttl=600, user="someone-revoked")
    cluster.auth.require_signed_tokens()
    (target,) = resolve_targets(kubeconfig=kubeconfig)
    client = connect(target)
    try:
        with pytest.raises(ApiError) as info:
            client.request("GET", "/api/v1/namespaces")
    finally:
        client.close()
    assert (info.value.status, info.value.reason) == (401, "Unauthorized")
    assert len(plugin_runs(log)) == 2  # the cached token, refused; one fresh token, refused: the answer


def _plugin_failure_kubeconfig(tmp_path: Path, cluster, script_body: str) -> str:
    script = tmp_path / "broken-plugin"
    script.write_text(f"#!{sys.executable}\n{script_body}\n")
    script.chmod(0o755)
    doc = base_config(cluster)
    doc["users"] = [{"name": "u", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                     "command": str(script), "interactiveMode": "Never"}}}]
    doc["contexts"] = [{"name": "eks", "context": {"cluster": cluster.name, "user": "u"}}]
    doc["current-context"] = "eks"
    return write(tmp_path / "config", doc)


@pytest.mark.parametrize(("body", "said"), [
    ("import sys; print('SSO session expired, run aws sso login', file=sys.stderr); sys.exit(3)",
     "exec plugin broken-plugin failed (exit status 3): SSO session expired, run aws sso login"),
    ("print('<html>not json</html>')", "exec plugin broken-plugin printed invalid JSON"),
])
def test_a_failing_plugin_is_one_clear_line_in_the_clusters_health(tmp_path, cluster, running_fleet, body, said):
    kubeconfig = _plugin_failure_kubeconfig(tmp_path, cluster, body)
    fleet = running_fleet(resolve_backends(kubeconfig=kubeconfig))
    health = eventually(lambda: said in fleet.state.health["eks"].error and fleet.state.health["eks"], 20,
                        f"health error {said!r}")
    assert health.state is not HealthState.CONNECTED
    assert "\n" not in health.error


# -- merged KUBECONFIG, token files, proxy ----------------------------------------------------


def test_merged_kubeconfig_files_pick_the_context_and_user_kubectl_picks(tmp_path, cluster):
    """Two files in KUBECONFIG: the first file's current-context and its user entry win, even where the
    second file defines the same names differently (clientcmd's first-wins merge)."""
    first = {"apiVersion": "v1", "kind": "Config", "current-context": "ml-viewer",
             "users": [{"name": "shared", "user": {"token": cluster.readonly_token}}],
             "contexts": [{"name": "ml-viewer", "context": {"cluster": cluster.name, "user": "shared",
                                                            "namespace": "ml-prod"}}]}
    second = base_config(cluster)
    second["current-context"] = cluster.name
    second["users"].append({"name": "shared", "user": {"token": cluster.admin_token}})
    second["contexts"].append({"name": "ml-viewer", "context": {"cluster": "nowhere", "user": "nobody"}})
    paths = [write(tmp_path / "a.yaml", first), str(tmp_path / "missing.yaml"), write(tmp_path / "b.yaml", second)]
    env = {"KUBECONFIG": os.pathsep.join(paths)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KUBECONFIG", env["KUBECONFIG"])
        (target,) = resolve_targets()
        client = connect(target)
        try:
            ours = whoami(client)
        finally:
            client.close()
        all_contexts = [t.context for t in resolve_targets(all_contexts=True)]
    assert (target.context, target.user, target.default_namespace) == ("ml-viewer", "shared", "ml-prod")
    assert kubectl(None, "config", "current-context", env=env).strip() == target.context
    assert kubectl(None, "config", "view", "--minify", "-o", "jsonpath={..namespace}", env=env) == "ml-prod"
    assert ours == kubectl_whoami(None, env=env) == "sim-viewer"
    kubectl_contexts = kubectl(None, "config", "get-contexts", "-o", "name", env=env).split()
    assert sorted(all_contexts) == sorted(kubectl_contexts)


def test_a_rotated_token_file_is_picked_up_without_a_restart(tmp_path, cluster):
    token_file = tmp_path / "token"
    token_file.write_text(cluster.auth.signed_token("sim-viewer", ttl=600) + "\n")
    doc = base_config(cluster)
    doc["users"] = [{"name": "sa", "user": {"tokenFile": "token"}}]  # relative to the kubeconfig's folder
    doc["contexts"] = [{"name": "pod", "context": {"cluster": cluster.name, "user": "sa"}}]
    doc["current-context"] = "pod"
    kubeconfig = write(tmp_path / "config", doc)
    cluster.auth.require_signed_tokens()
    (target,) = resolve_targets(kubeconfig=kubeconfig)
    client = connect(target)
    try:
        assert whoami(client) == "sim-viewer" == kubectl_whoami(kubeconfig)
        token_file.write_text(cluster.auth.signed_token("sim-admin", ttl=600) + "\n")
        assert whoami(client) == "sim-admin" == kubectl_whoami(kubeconfig)
        # The sidecar rotates after the old token was already refused, and the file looks unchanged
        # (same size, same mtime): only the 401 can make the client read it again.
        token_file.write_text(cluster.auth.signed_token("sim-viewer", ttl=0.5) + "\n")
        assert whoami(client) == "sim-viewer"
        eventually(lambda: _refused(client), 5, "the short token refused")
        stamp = token_file.stat()
        token_file.write_text(cluster.auth.signed_token("sim-viewer", ttl=600) + "\n")
        os.utime(token_file, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        assert token_file.stat().st_size == stamp.st_size
        assert whoami(client) == "sim-viewer"
    finally:
        client.close()


def _refused(client) -> bool:
    try:
        client.request("GET", "/api/v1/namespaces")
    except ApiError as exc:
        return exc.status == 401
    return False


class ConnectProxy:
    """A tiny HTTP CONNECT proxy on 127.0.0.1 that records where it tunnelled to."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                conn.close()
                return
            head += chunk
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        if method != "CONNECT":
            conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            conn.close()
            return
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        self.tunnels.append(target)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        for a, b in ((conn, upstream), (upstream, conn)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self._server.close()


def test_proxy_url_sends_the_app_and_kubectl_through_the_proxy(tmp_path, cluster):
    proxy = ConnectProxy()
    try:
        doc = base_config(cluster)
        doc["clusters"][0]["cluster"]["proxy-url"] = proxy.url
        kubeconfig = write(tmp_path / "config", doc)
        (target,) = resolve_targets(kubeconfig=kubeconfig)
        client = connect(target)
        try:
            assert whoami(client) == "sim-admin"
        finally:
            client.close()
        server = cluster.url.split("://", 1)[1]
        assert proxy.tunnels == [server]
        assert kubectl_whoami(kubeconfig) == "sim-admin"
        assert proxy.tunnels[1:] and set(proxy.tunnels) == {server}
    finally:
        proxy.close()
    # The proxy is gone: one clear line naming the failure, not a hang.
    client = connect(target)
    try:
        with pytest.raises(ApiError) as info:
            client.request("GET", "/version", timeout=(3, 3))
        assert info.value.status == 0 and "\n" not in str(info.value)
    finally:
        client.close()


# -- client certificates ----------------------------------------------------------------------


def test_client_certificate_files_authenticate_as_the_certificates_user(tmp_path, cluster):
    from mlops_tui.sim.kube.tls import issue_client_cert

    cert, key = issue_client_cert("ana@ml-platform", ("system:masters",))
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ana.crt").write_bytes(cert)
    (tmp_path / "pki" / "ana.key").write_bytes(key)
    doc = base_config(cluster)
    doc["users"] = [{"name": "ana", "user": {"client-certificate": "pki/ana.crt", "client-key": "pki/ana.key"}}]
    doc["contexts"] = [{"name": "x509", "context": {"cluster": cluster.name, "user": "ana"}}]
    doc["current-context"] = "x509"
    kubeconfig = write(tmp_path / "config", doc)
    cluster.auth.require_signed_tokens()  # no static token could let it in: only the certificate
    (target,) = resolve_targets(kubeconfig=kubeconfig)
    client = connect(target)
    try:
        assert whoami(client) == "ana@ml-platform" == kubectl_whoami(kubeconfig)
    finally:
        client.close()


def test_a_plugin_handing_out_a_client_certificate_authenticates_with_it(tmp_path, cluster):
    """AKS-style: the plugin prints clientCertificateData/clientKeyData; the key only ever reaches disk
    for the instant `ssl` needs to load it."""
    from mlops_tui.sim.kube.tls import issue_client_cert

    cert, key = issue_client_cert("aks-operator", ("system:masters",))
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"clientCertificateData": cert.decode(), "clientKeyData": key.decode()}}
    script = tmp_path / "cert-plugin"
    script.write_text(f"#!{sys.executable}\nprint({json.dumps(json.dumps(credential))})\n")
    script.chmod(0o755)
    doc = base_config(cluster)
    doc["users"] = [{"name": "aks", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                       "command": str(script), "interactiveMode": "IfAvailable"}}}]
    doc["contexts"] = [{"name": "aks", "context": {"cluster": cluster.name, "user": "aks"}}]
    doc["current-context"] = "aks"
    kubeconfig = write(tmp_path / "config", doc)
    cluster.auth.require_signed_tokens()
    (target,) = resolve_targets(kubeconfig=kubeconfig)
    client = connect(target)
    try:
        assert whoami(client) == "aks-operator" == kubectl_whoami(kubeconfig)
    finally:
        client.close()
    leftovers = [n for n in os.listdir(tempfile.gettempdir()) if n.startswith("mlops-tui-client-cert-")]
    assert leftovers == []


# -- server verification ----------------------------------------------------------------------


def _cluster_entry_kubeconfig(tmp_path: Path, cluster, name: str, **entry: Any) -> str:
    doc = base_config(cluster)
    doc["clusters"][0]["cluster"].update(entry)
    doc["clusters"][0]["cluster"] = {k: v for k, v in doc["clusters"][0]["cluster"].items() if v is not None}
    return write(tmp_path / name, doc)


def _reaches(kubeconfig: str) -> tuple[bool, bool]:
    """(the app reached the server, kubectl reached it) with this kubeconfig."""
    (target,) = resolve_targets(kubeconfig=kubeconfig)
    client = connect(target)
    try:
        ours = whoami(client) == "sim-admin"
    except ApiError:
        ours = False
    finally:
        client.close()
    try:
        theirs = kubectl_whoami(kubeconfig) == "sim-admin"
    except AssertionError:
        theirs = False
    return ours, theirs


def test_the_server_is_verified_as_kubectl_verifies_it(tmp_path, cluster):
    """The CA names the server; tls-server-name checks another name in its certificate; without a CA the
    system's trust refuses the simulator unless insecure-skip-tls-verify says not to check."""
    assert _reaches(_cluster_entry_kubeconfig(tmp_path, cluster, "ca")) == (True, True)
    assert _reaches(_cluster_entry_kubeconfig(tmp_path, cluster, "sni-ok", **{"tls-server-name": "localhost"})) \
        == (True, True)
    assert _reaches(_cluster_entry_kubeconfig(tmp_path, cluster, "sni-wrong",
                                              **{"tls-server-name": "api.prod.example"})) == (False, False)
    assert _reaches(_cluster_entry_kubeconfig(tmp_path, cluster, "no-ca",
                                              **{"certificate-authority-data": None})) == (False, False)
    assert _reaches(_cluster_entry_kubeconfig(tmp_path, cluster, "insecure", **{
        "certificate-authority-data": None, "insecure-skip-tls-verify": True})) == (True, True)


def test_the_contexts_namespace_is_what_is_watched_unless_told_otherwise_as_kubectl_does(tmp_path, cluster,
                                                                                          running_fleet):
    """A context that names a namespace: kubectl shows that namespace without -n, and so does the app;
    --namespace names others, and --all-namespaces (kubectl's -A) shows every one."""
    doc = base_config(cluster)
    for context in doc["contexts"]:
        context["context"]["namespace"] = "team-ml"
    kubeconfig = write(tmp_path / "kubeconfig", doc)
    (tmp_path / "ns.json").write_text(json.dumps({"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": "team-ml"}}))
    kubectl(kubeconfig, "apply", "-f", str(tmp_path / "ns.json"))
    for namespace, name in (("team-ml", "ranker-in-team-ml"), ("default", "ranker-in-default")):
        create_deployment(kubeconfig, tmp_path, name, namespace)
    assert kubectl(kubeconfig, "get", "deployments", "-o", "name").split() == ["deployment.apps/ranker-in-team-ml"]

    def names(fleet: Fleet) -> set[str]:
        return {key.name for key in fleet.state.services if key.name.startswith("ranker-in-")}

    own = running_fleet(resolve_backends(kubeconfig=kubeconfig))
    eventually(lambda: names(own) == {"ranker-in-team-ml"}, 20, "the context's namespace only")
    everywhere = running_fleet(resolve_backends(kubeconfig=kubeconfig, all_namespaces=True))
    eventually(lambda: names(everywhere) == {"ranker-in-team-ml", "ranker-in-default"}, 20, "every namespace")
    named = running_fleet(resolve_backends(kubeconfig=kubeconfig, namespaces=["default"]))
    eventually(lambda: names(named) == {"ranker-in-default"}, 20, "the namespace named")
    assert names(own) == {"ranker-in-team-ml"}
