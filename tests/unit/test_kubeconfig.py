"""Kubeconfig files and credentials, as clientcmd reads them: merging, relative paths, exec plugins
cached until expiry (an injected clock, count-based), one-line errors, and client keys never left on disk."""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_tui.backends.kubernetes import client
from mlops_tui.backends.kubernetes import kubeconfig as kc
from mlops_tui.backends.kubernetes.client import connect, resolve_targets, tls_context
from mlops_tui.backends.kubernetes.kubeconfig import CredentialError, Credentials, KubeConfigError

V1 = "client.authentication.k8s.io/v1"


def write(path: Path, doc: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def exec_context(**plugin: Any) -> kc.ContextConfig:
    raw = {"apiVersion": V1, "command": "/bin/true", "interactiveMode": "Never", **plugin}
    config = kc.KubeConfig(files=["/x/config"], clusters={"c": {"server": "https://k:6443"}},
                           users={"u": {"exec": raw}}, contexts={"ctx": {"cluster": "c", "user": "u"}})
    return kc.resolve_context(config, "ctx")


class FakePlugin:
    """Stands in for subprocess.run: hands out token-N, expiring `ttl` after the fake clock's now."""

    def __init__(self, clock: list[float], ttl: float | None = 3.0, api_version: str = V1) -> None:
        self.clock, self.ttl, self.api_version = clock, ttl, api_version
        self.calls: list[dict[str, Any]] = []

    def __call__(self, argv, env, **_: Any) -> subprocess.CompletedProcess[bytes]:
        self.calls.append({"argv": argv, "env": env})
        status: dict[str, Any] = {"token": f"token-{len(self.calls)}"}
        if self.ttl is not None:
            import datetime

            at = datetime.datetime.fromtimestamp(self.clock[0] + self.ttl, datetime.timezone.utc)
            status["expirationTimestamp"] = at.isoformat().replace("+00:00", "Z")
        out = json.dumps({"apiVersion": self.api_version, "kind": "ExecCredential", "status": status})
        return subprocess.CompletedProcess(argv, 0, out.encode(), b"")


def test_a_plugin_token_is_reused_until_it_expires_and_fetched_again_at_expiry():
    clock = [1_000_000.0]
    plugin = FakePlugin(clock, ttl=3.0)
    creds = Credentials(exec_context(), clock=lambda: clock[0], runner=plugin)
    assert creds.current().authorization == "Bearer token-1"
    clock[0] += 2.999
    assert creds.current().authorization == "Bearer token-1"
    assert len(plugin.calls) == 1
    clock[0] += 0.001  # exactly at expirationTimestamp: expired, as in client-go
    assert creds.current().authorization == "Bearer token-2"
    assert len(plugin.calls) == 2


def test_a_401_makes_the_next_request_run_the_plugin_even_before_expiry():
    clock = [1_000_000.0]
    plugin = FakePlugin(clock, ttl=3600)
    creds = Credentials(exec_context(), clock=lambda: clock[0], runner=plugin)
    assert creds.current().authorization == "Bearer token-1"
    creds.invalidate()
    assert creds.current().authorization == "Bearer token-2"
    assert creds.refreshable


def test_a_credential_without_expiry_is_kept_until_the_server_refuses_it():
    clock = [0.0]
    plugin = FakePlugin(clock, ttl=None)
    creds = Credentials(exec_context(), clock=lambda: clock[0], runner=plugin)
    creds.current()
    clock[0] += 10 ** 6
    creds.current()
    assert len(plugin.calls) == 1


def test_threads_asking_at_once_run_the_plugin_once():
    clock = [0.0]
    plugin = FakePlugin(clock)
    creds = Credentials(exec_context(), clock=lambda: clock[0], runner=plugin)
    threads = [threading.Thread(target=creds.current) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(plugin.calls) == 1


def test_the_plugin_gets_its_args_env_and_exec_info_and_no_cluster_unless_asked():
    clock = [0.0]
    plugin = FakePlugin(clock, api_version="client.authentication.k8s.io/v1beta1")
    ctx = exec_context(apiVersion="client.authentication.k8s.io/v1beta1", args=["eks", "get-token"],
                       env=[{"name": "AWS_PROFILE", "value": "prod"}], interactiveMode=None)
    assert ctx.exec is not None and ctx.exec.interactive_mode == "IfAvailable"  # v1beta1's default
    Credentials(ctx, clock=lambda: clock[0], runner=plugin).current()
    call = plugin.calls[0]
    assert call["argv"] == ["/bin/true", "eks", "get-token"]
    assert call["env"]["AWS_PROFILE"] == "prod"
    info = json.loads(call["env"]["KUBERNETES_EXEC_INFO"])
    assert info == {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                    "spec": {"interactive": False}}


@pytest.mark.parametrize(("stdout", "said"), [
    (b"{not json", "printed invalid JSON"),
    (json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                 "status": {"token": "t"}}).encode(), "answered apiVersion"),
    (json.dumps({"apiVersion": V1, "kind": "ExecCredential", "status": {}}).encode(),
     "neither a token nor a client certificate"),
    (json.dumps({"apiVersion": V1, "kind": "ExecCredential", "status": {"clientCertificateData": "x"}}).encode(),
     "without its key"),
    (json.dumps({"apiVersion": V1, "kind": "ExecCredential",
                 "status": {"token": "t", "expirationTimestamp": "tomorrow"}}).encode(), "not RFC 3339"),
])
def test_what_a_plugin_prints_wrong_is_one_line(stdout, said):
    def runner(argv, **_):
        return subprocess.CompletedProcess(argv, 0, stdout, b"")

    with pytest.raises(CredentialError, match=said) as info:
        Credentials(exec_context(), runner=runner).current()
    assert "\n" not in str(info.value)


def _write_kubeconfig_with_plugin(tmp_path: Path, command: str, **extra: Any) -> str:
    return write(tmp_path / "config", {
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"exec": {"apiVersion": V1, "command": command, "interactiveMode": "Never",
                                                  **extra}}}],
        "contexts": [{"name": "eks", "context": {"cluster": "c", "user": "u"}}], "current-context": "eks"})


def test_a_plugin_that_is_not_installed_is_reported_at_start_with_its_install_hint(tmp_path):
    path = _write_kubeconfig_with_plugin(tmp_path, "aws-iam-authenticator-absent",
                                         installHint="Install it:\n  brew install aws-iam-authenticator")
    (target,) = resolve_targets(kubeconfig=path)
    with pytest.raises(KubeConfigError) as info:
        connect(target)
    assert str(info.value) == ("context eks: exec plugin 'aws-iam-authenticator-absent' not found "
                               "(Install it: brew install aws-iam-authenticator)")


def test_a_plugin_that_must_prompt_is_refused_at_start(tmp_path):
    (target,) = resolve_targets(kubeconfig=_write_kubeconfig_with_plugin(tmp_path, "/bin/true",
                                                                          interactiveMode="Always"))
    with pytest.raises(KubeConfigError, match="needs an interactive terminal"):
        connect(target)


def test_a_relative_plugin_path_is_relative_to_its_kubeconfig(tmp_path):
    script = tmp_path / "bin" / "plugin"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\nimport json\nprint(json.dumps({{'apiVersion': '{V1}', "
                      "'kind': 'ExecCredential', 'status': {'token': 'from-relative'}}))\n")
    script.chmod(0o755)
    (target,) = resolve_targets(kubeconfig=_write_kubeconfig_with_plugin(tmp_path, "./bin/plugin"))
    client = connect(target)
    assert client.credentials.current().authorization == "Bearer from-relative"


# -- merging ------------------------------------------------------------------------------------


def test_merged_files_first_definition_wins_and_paths_stay_relative_to_their_own_file(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "token").write_text("token-from-b\n")
    a = write(tmp_path / "a" / "config", {
        "users": [{"name": "ops", "user": {"token": "token-from-a"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "eu", "user": "ops", "namespace": "ml-prod"}}]})
    b = write(tmp_path / "b" / "config", {
        "current-context": "stage",
        "clusters": [{"name": "eu", "cluster": {"server": "https://eu:6443"}}],
        "users": [{"name": "ops", "user": {"token": "ignored"}}, {"name": "ci", "user": {"tokenFile": "token"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "ignored", "user": "ignored"}},
                     {"name": "stage", "context": {"cluster": "eu", "user": "ci"}}]})
    c = write(tmp_path / "c", {"current-context": "prod"})
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([a, str(tmp_path / "absent"), b, c]))
    config = kc.load()
    assert config.files == [a, b, c]
    assert config.current_context == "stage"  # the first file that sets it is b: a sets none
    prod = kc.resolve_context(config, "prod")
    assert (prod.server, prod.token, prod.namespace) == ("https://eu:6443", "token-from-a", "ml-prod")
    stage = kc.resolve_context(config, "stage")
    assert stage.token_file == str(tmp_path / "b" / "token")
    assert Credentials(stage).current().authorization == "Bearer token-from-b"
    assert [t.context for t in resolve_targets(all_contexts=True)] == ["prod", "stage"]


def test_a_kubeconfig_list_without_any_existing_file_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "x"), str(tmp_path / "y")]))
    with pytest.raises(KubeConfigError, match="does not exist"):
        kc.load()


def test_a_dangling_user_or_cluster_and_auth_providers_are_one_line(tmp_path):
    config = kc.KubeConfig(files=["k"], clusters={"c": {"server": "https://k"}},
                           users={"gcp": {"auth-provider": {"name": "gcp"}}},
                           contexts={"a": {"cluster": "c", "user": "nobody"}, "b": {"cluster": "gone"},
                                     "g": {"cluster": "c", "user": "gcp"}})
    with pytest.raises(KubeConfigError, match="user 'nobody' is not in k"):
        kc.resolve_context(config, "a")
    with pytest.raises(KubeConfigError, match="cluster 'gone' is not in k"):
        kc.resolve_context(config, "b")
    with pytest.raises(KubeConfigError, match="auth-provider 'gcp' is not supported"):
        kc.resolve_context(config, "g")


# -- client certificates --------------------------------------------------------------------


def _self_signed() -> tuple[bytes, bytes]:
    from mlops_tui.sim.kube.tls import _self_signed as make

    return make()


def _leftovers() -> list[str]:
    return [n for n in os.listdir(tempfile.gettempdir()) if n.startswith("mlops-tui-client-cert-")]


def test_client_key_files_are_gone_once_the_tls_context_is_built_and_when_it_fails(tmp_path, monkeypatch):
    # Where there are no in-memory files (not Linux), the key goes to a private folder for an instant.
    monkeypatch.setattr(client, "_MEMORY_FILES", False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    cert, key = _self_signed()
    (tmp_path / "c.crt").write_bytes(cert)
    ctx = kc.resolve_context(kc.KubeConfig(
        files=[str(tmp_path / "config")], clusters={"c": {"server": "https://k", "insecure-skip-tls-verify": True}},
        users={"u": {"client-certificate": "c.crt", "client-key-data": base64.b64encode(key).decode()}},
        contexts={"x": {"cluster": "c", "user": "u"}}), "x")
    assert ctx.cert_data == cert and ctx.key_data == key
    tls_context(ctx, Credentials(ctx).current())
    assert _leftovers() == []
    wrong_key = kc.Credential("", cert, b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KubeConfigError, match="client certificate or key unusable") as info:
        tls_context(ctx, wrong_key)
    assert "\n" not in str(info.value)
    assert _leftovers() == []


@pytest.mark.skipif(not client._MEMORY_FILES, reason="in-memory files are Linux's (memfd_create)")
def test_on_linux_a_client_key_is_read_from_memory_and_never_written_to_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    cert, key = _self_signed()
    ctx = kc.resolve_context(kc.KubeConfig(
        files=[str(tmp_path / "config")], clusters={"c": {"server": "https://k", "insecure-skip-tls-verify": True}},
        users={"u": {"client-certificate-data": base64.b64encode(cert).decode(),
                     "client-key-data": base64.b64encode(key).decode()}},
        contexts={"x": {"cluster": "c", "user": "u"}}), "x")
    opened: list[str] = []
    real_open = os.open

    def watched_open(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", watched_open)
    monkeypatch.setattr(tempfile, "mkdtemp", lambda *a, **k: pytest.fail("a key folder was made on disk"))
    loaded: list[tuple[str, str]] = []
    real_load = ssl.SSLContext.load_cert_chain

    def watched_load(self, certfile, keyfile=None, password=None):
        loaded.append((certfile, keyfile))
        assert [Path(path).read_bytes() for path in (certfile, keyfile)] == [cert, key]
        return real_load(self, certfile, keyfile, password)

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", watched_load)
    tls_context(ctx, Credentials(ctx).current())
    (paths,) = loaded
    assert all(path.startswith("/proc/self/fd/") for path in paths), paths
    assert opened == []  # no file was created on any file system (the folder path writes with os.open)
    for path in paths:  # the in-memory files are closed, hence gone
        with pytest.raises(FileNotFoundError):
            Path(path).read_bytes()
    assert os.listdir(tmp_path) == []


def test_a_key_folder_still_open_when_the_app_exits_is_removed_and_no_new_one_is_made(tmp_path):
    # A daemon thread stopped by the interpreter's shutdown between writing the key and its `finally`
    # (the CI run where SIGTERM left one behind): a real interpreter, exiting on its own.
    script = textwrap.dedent("""
        import atexit, sys, threading, time
        from pathlib import Path

        def try_to_make_one():
            try:
                return client._KEY_FOLDERS.make()
            except OSError as exc:
                return str(exc)

        # Registered before the client's own clean-up, so it runs after it (atexit is last in, first out).
        atexit.register(lambda: print("made after exit:", try_to_make_one()))
        from mlops_tui.backends.kubernetes import client
        inside = threading.Event()

        def loading_a_key():
            folder = client._KEY_FOLDERS.make()
            Path(folder, "client.key").write_bytes(b"a private key")
            inside.set()
            time.sleep(3600)  # never reaches its finally

        threading.Thread(target=loading_a_key, daemon=True).start()
        inside.wait(30)
        sys.exit(0)
    """)
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert os.listdir(tmp_path) == []
    assert "made after exit: the app is exiting" in done.stdout


def test_a_ca_that_is_not_a_certificate_is_refused_at_start_in_one_line(tmp_path):
    path = write(tmp_path / "config", {
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1",
                                               "certificate-authority-data": base64.b64encode(b"junk").decode()}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "c", "user": "u"}}], "current-context": "prod"})
    (target,) = resolve_targets(kubeconfig=path)
    with pytest.raises(KubeConfigError, match=r"^context prod: certificate-authority is not a certificate") as info:
        connect(target)
    assert "\n" not in str(info.value)


def test_secrets_never_show_in_a_repr():
    ctx = kc.ContextConfig(context="c", cluster="c", user="u", namespace="", server="https://k", ca_data=None,
                           insecure=False, tls_server_name="", proxy_url="", token="s3cret-token", token_file="",
                           username="", password="s3cret-pass", cert_data=b"CERT", key_data=b"s3cret-key", exec=None)
    shown = repr(ctx) + repr(kc.Credential("Bearer s3cret-token", b"CERT", b"s3cret-key"))
    assert "s3cret" not in shown


def test_without_proxy_url_the_environments_proxy_applies_except_to_loopback_and_no_proxy(monkeypatch):
    from mlops_tui.backends.kubernetes.client import _environment_proxy

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", ".internal")
    assert _environment_proxy("https://api.eks.amazonaws.com:443") == "http://proxy.corp:3128"
    assert _environment_proxy("https://127.0.0.1:6443") == ""  # as Go's net/http: loopback is never proxied
    assert _environment_proxy("https://localhost:6443") == ""
    assert _environment_proxy("https://k8s.internal:6443") == ""
