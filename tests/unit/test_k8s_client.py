"""Kubeconfig contexts -> cluster targets: what the CLI's --context / --all-contexts / --kubeconfig mean."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlops_tui.backends.kubernetes import resolve_backends
from mlops_tui.backends.kubernetes.client import KubeConfigError, resolve_targets

KUBECONFIG = """apiVersion: v1
kind: Config
current-context: prod-eu
clusters:
- name: eu
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
- name: us
  cluster: {server: "https://127.0.0.1:7443", insecure-skip-tls-verify: true}
users:
- name: alice
  user: {token: abc}
- name: viewer
  user: {token: def}
contexts:
- name: prod-eu
  context: {cluster: eu, user: alice}
- name: prod-us
  context: {cluster: us, user: viewer, namespace: ml-prod}
"""


@pytest.fixture
def kubeconfig(tmp_path):
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    return str(path)


def test_no_context_named_means_the_current_one(kubeconfig):
    (target,) = resolve_targets(kubeconfig=kubeconfig)
    assert (target.context, target.user, target.server) == ("prod-eu", "alice", "https://127.0.0.1:6443")


def test_all_contexts_and_repeated_contexts(kubeconfig):
    assert [t.context for t in resolve_targets(all_contexts=True, kubeconfig=kubeconfig)] == ["prod-eu", "prod-us"]
    targets = resolve_targets(contexts=["prod-us", "prod-eu", "prod-us"], kubeconfig=kubeconfig,
                              namespaces=["ml-prod"], selector="team=ml")
    assert [(t.context, t.user, t.namespaces, t.selector) for t in targets] == [
        ("prod-us", "viewer", ("ml-prod",), "team=ml"), ("prod-eu", "alice", ("ml-prod",), "team=ml")]


def test_errors_are_one_line(kubeconfig, tmp_path):
    with pytest.raises(KubeConfigError) as info:
        resolve_targets(contexts=["staging"], kubeconfig=kubeconfig)
    assert str(info.value) == f"unknown context 'staging' in {kubeconfig} (known: prod-eu, prod-us)"
    with pytest.raises(KubeConfigError, match="does not exist"):
        resolve_targets(kubeconfig=str(tmp_path / "nope"))
    bad = tmp_path / "bad"
    bad.write_text("{{{ not yaml")
    with pytest.raises(KubeConfigError, match=r"^cannot read kubeconfig") as info:
        resolve_targets(kubeconfig=str(bad))
    assert "\n" not in str(info.value)


def test_backends_are_named_after_contexts_without_touching_the_network(kubeconfig):
    backends = resolve_backends(all_contexts=True, kubeconfig=kubeconfig)
    try:
        assert [(b.name, b.cluster.endpoint, b.user) for b in backends] == [
            ("prod-eu", "https://127.0.0.1:6443", "alice"), ("prod-us", "https://127.0.0.1:7443", "viewer")]
    finally:
        for backend in backends:
            backend.transport.close()


def test_importing_the_backend_does_not_import_the_kubernetes_client():
    code = ("import sys, mlops_tui.backends.kubernetes, mlops_tui.backends.kubernetes.client, "
            "mlops_tui.backends.kubernetes.backend, mlops_tui.backends.kubernetes.actions, "
            "mlops_tui.backends.kubernetes.translate; "
            "print(any(m == 'kubernetes' or m.startswith('kubernetes.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_apps_settings_without_kubernetes_options_and_without_a_kubeconfig_mean_no_clusters(tmp_path,
                                                                                                 monkeypatch):
    from mlops_tui.backends.kubernetes import backends_from_settings

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    assert backends_from_settings() == []
    with pytest.raises(KubeConfigError, match="does not exist"):
        backends_from_settings(contexts=["prod"], explicit=True)
