"""`--swarm` values -> endpoint specs: URLs, TLS options, ssh, docker contexts, defaults, errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from mlops_tui.backends.swarm.client import (
    SwarmConfigError,
    TlsOptions,
    context_endpoint,
    default_endpoints,
    parse_endpoint,
    resolve_endpoints,
)


@pytest.fixture
def certs(tmp_path):
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("-----BEGIN-----\n")
    return tmp_path


def test_unix_socket_with_a_name():
    ep = parse_endpoint("unix:///var/run/docker.sock?name=edge")
    assert (ep.url, ep.name, ep.tls, ep.fallback_name) == ("unix:///var/run/docker.sock", "edge", None, "local")


def test_plain_tcp_is_http_as_the_demo_simulator_speaks_it():
    ep = parse_endpoint("tcp://127.0.0.1:23750")
    assert (ep.url, ep.tls, ep.display, ep.fallback_name) == ("tcp://127.0.0.1:23750", None, "tcp://127.0.0.1:23750",
                                                              "127.0.0.1")


def test_tcp_with_tls_files_and_with_a_cert_dir(certs):
    ep = parse_endpoint(f"tcp://m1:2376?tlsverify=1&ca={certs}/ca.pem&cert={certs}/cert.pem&key={certs}/key.pem")
    assert ep.tls == TlsOptions(f"{certs}/ca.pem", f"{certs}/cert.pem", f"{certs}/key.pem", True)
    assert parse_endpoint(f"tcp://m1:2376?certpath={certs}").tls == ep.tls
    assert parse_endpoint("tcp://m1:2376?tls=1").tls == TlsOptions(verify=False)


@pytest.mark.parametrize(("value", "message"), [
    ("ftp://x", "unsupported scheme 'ftp'"),
    ("tcp://m1:2376?colour=red", "unknown option 'colour'"),
    ("tcp://m1:2376?tlsverify=1", "tlsverify needs a CA"),
    ("tcp://m1:2376?ca=/nope/ca.pem", "TLS file not found: /nope/ca.pem"),
    ("tcp://m1:2376?cert=/a.pem", "needs both cert= and key="),
    ("tcp://m1:notaport", "the port is not a number"),
    ("unix://", "needs a socket path"),
    ("unix:///run/docker.sock?tls=1", "do not apply to a unix socket"),
    ("ssh://", "needs a host"),
    ("ssh://ops@m1?ca=/x", "TLS options do not apply to ssh://"),
    ("", "empty value"),
])
def test_bad_values_are_one_line_errors_naming_the_value(value, message):
    with pytest.raises(SwarmConfigError) as err:
        parse_endpoint(value, env={})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_ssh_uses_the_system_ssh_like_the_docker_cli_unless_paramiko_is_asked_for():
    assert parse_endpoint("ssh://ops@jump-1:2222?ssh_client=1").use_ssh_client is True
    assert parse_endpoint("ssh://ops@jump-1?ssh_client=0").use_ssh_client is False
    ep = parse_endpoint("ssh://ops@manager-1")
    assert ep.use_ssh_client is True
    assert ep.url == "ssh://ops@manager-1" and ep.display == "ssh://manager-1" and ep.fallback_name == "manager-1"


def write_context(config_dir, name, host, skip_verify=False, tls=()):
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config_dir / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({
        "Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip_verify}}}))
    if tls:
        folder = config_dir / "contexts" / "tls" / digest / "docker"
        folder.mkdir(parents=True)
        for part in tls:
            (folder / f"{part}.pem").write_text("x")
    return config_dir / "contexts" / "tls" / digest / "docker"


def test_docker_context_by_name_with_its_tls_material(tmp_path):
    folder = write_context(tmp_path, "prod-swarm", "tcp://10.0.0.5:2376", tls=("ca", "cert", "key"))
    ep = context_endpoint("prod-swarm", env={"DOCKER_CONFIG": str(tmp_path)})
    assert (ep.name, ep.url, ep.origin) == ("prod-swarm", "tcp://10.0.0.5:2376", "context")
    assert ep.tls == TlsOptions(str(folder / "ca.pem"), str(folder / "cert.pem"), str(folder / "key.pem"), True)


def test_docker_context_over_ssh_and_a_missing_one(tmp_path):
    write_context(tmp_path, "edge", "ssh://ops@edge-1")
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert resolve_endpoints(["edge"], env)[0].url == "ssh://ops@edge-1"
    with pytest.raises(SwarmConfigError, match=r"no docker context of that name \(known: edge\)"):
        resolve_endpoints(["staging"], env)


def test_default_is_docker_host_with_its_tls_variables(certs):
    env = {"DOCKER_HOST": "tcp://m1:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)}
    [ep] = resolve_endpoints([], env)
    assert (ep.origin, ep.url, ep.tls.verify, ep.tls.ca) == ("DOCKER_HOST", "tcp://m1:2376", True, f"{certs}/ca.pem")


def test_default_without_docker_host_and_no_manager_socket_is_no_swarm(tmp_path):
    assert default_endpoints({}, socket_path=str(tmp_path / "absent.sock")) == []


def test_duplicate_values_are_watched_once():
    assert len(resolve_endpoints(["unix:///var/run/docker.sock", "unix:///var/run/docker.sock"], {})) == 1


def test_resolving_endpoints_imports_no_docker_sdk():
    code = ("import sys; from backends.swarm.client import resolve_endpoints; "
            "resolve_endpoints(['tcp://127.0.0.1:1', 'unix:///x.sock'], {}); "
            "import backends.swarm.watch, backends.swarm.actions, backends.swarm.translate; "
            "print('docker' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_tls_endpoint_opens_an_https_client_verifying_with_its_ca_and_presenting_its_cert(certs):
    from mlops_tui.backends.swarm.client import open_api

    ep = parse_endpoint(f"tcp://m1:2376?certpath={certs}")
    api = open_api(ep, timeout=3, version="1.41")  # a fixed API version: nothing is sent yet
    try:
        assert api.base_url == "https://m1:2376"
        assert api.verify == f"{certs}/ca.pem" and api.cert == (f"{certs}/cert.pem", f"{certs}/key.pem")
        assert api.timeout == 3
    finally:
        api.close()
    plain = open_api(parse_endpoint("tcp://127.0.0.1:23750"), version="1.41")
    assert plain.base_url == "http://127.0.0.1:23750"
    plain.close()
