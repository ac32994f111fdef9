"""Real Prometheus and Alertmanager behind what production puts in front of them: basic auth (a
bcrypt hash in `--web.config.file`), TLS with a private CA and optionally a required client
certificate, and a path prefix (`--web.route-prefix`, `--web.external-url`). Plus a tiny recording
HTTP server that speaks just enough of both APIs to show which headers a client sent.

Everything binds 127.0.0.1 on a free port, lives in a temp dir and is stopped (by its PID) by the
context manager that started it. Readiness is polled with a deadline.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.integration.metrics_servers import HOST, Server, _run, free_port

USER = "ops"


@dataclass(frozen=True)
class Pki:
    """A private CA, a server certificate for 127.0.0.1 it signed, a client certificate it signed,
    and an unrelated CA (the 'wrong CA' an operator may point at)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _cert(subject: str, key, issuer: str, issuer_key, *, ca: bool, usage=None, ip: str = "") -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False), critical=True)
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                                        critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(folder: Path) -> Pki:
    def pem(cert: x509.Certificate, name: str) -> Path:
        path = folder / name
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    ca_key, other_key, server_key, client_key = _key(), _key(), _key(), _key()
    ca = pem(_cert("mlops-test-ca", ca_key, "mlops-test-ca", ca_key, ca=True), "ca.pem")
    other_ca = pem(_cert("someone-else-ca", other_key, "someone-else-ca", other_key, ca=True), "other-ca.pem")
    server = pem(_cert(HOST, server_key, "mlops-test-ca", ca_key, ca=False, usage=ExtendedKeyUsageOID.SERVER_AUTH,
                       ip=HOST), "server.pem")
    client = pem(_cert("mlops-tui", client_key, "mlops-test-ca", ca_key, ca=False,
                       usage=ExtendedKeyUsageOID.CLIENT_AUTH), "client.pem")
    _write_key(server_key, folder / "server-key.pem")
    _write_key(client_key, folder / "client-key.pem")
    return Pki(ca, server, folder / "server-key.pem", client, folder / "client-key.pem", other_ca)


def web_config(workdir: Path, pki: Pki, password: str, *, client_cert: bool) -> Path:
    """`--web.config.file`: TLS with our server certificate, basic auth for USER (bcrypt), and a
    client certificate signed by our CA required when `client_cert`."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    tls = {"cert_file": str(pki.server_cert), "key_file": str(pki.server_key)}
    if client_cert:
        tls |= {"client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": str(pki.ca)}
    path = workdir / "web.yml"
    path.write_text(json.dumps({"tls_server_config": tls, "basic_auth_users": {USER: hashed}}))  # JSON is YAML
    return path


def _secured(name: str, argv: list[str], workdir: Path, url: str, pki: Pki, password: str,
             cert: tuple[str, str] | None, timeout: float) -> contextlib.AbstractContextManager[Server]:
    """`metrics_servers._run`, ready once the server answers /-/ready through its TLS and basic auth."""
    def ready() -> bool:
        try:
            return requests.get(url + "/-/ready", auth=(USER, password), verify=str(pki.ca), cert=cert,
                                timeout=1.0).status_code == 200
        except requests.RequestException:
            return False

    return _run(name, argv, workdir, url, "/-/ready", timeout, is_ready=ready)


@contextlib.contextmanager
def secured_prometheus(binary: str, pki: Pki, password: str, *, prefix: str = "/prometheus",
                       client_cert: bool = True, timeout: float = 30.0) -> Iterator[Server]:
    """A real Prometheus at https://127.0.0.1:PORT<prefix>, basic auth, TLS, client cert required."""
    workdir = Path(tempfile.mkdtemp(prefix="prom-auth-"))
    try:
        port = free_port()
        url = f"https://{HOST}:{port}{prefix}"
        config = workdir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs: []\n")
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={HOST}:{port}",
            f"--web.config.file={web_config(workdir, pki, password, client_cert=client_cert)}",
            f"--web.external-url={url}",
            f"--web.route-prefix={prefix}",
            "--log.level=warn",
        ]
        cert = (str(pki.client_cert), str(pki.client_key)) if client_cert else None
        with _secured("prometheus", argv, workdir, url, pki, password, cert, timeout) as server:
            yield server
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def secured_alertmanager(binary: str, pki: Pki, password: str, *, prefix: str = "/alertmanager",
                         timeout: float = 20.0) -> Iterator[Server]:
    """A real Alertmanager at https://127.0.0.1:PORT<prefix>, basic auth and TLS, gossip off."""
    workdir = Path(tempfile.mkdtemp(prefix="am-auth-"))
    try:
        port = free_port()
        url = f"https://{HOST}:{port}{prefix}"
        config = workdir / "alertmanager.yml"
        config.write_text("route:\n  receiver: blackhole\nreceivers:\n- name: blackhole\n")
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address={HOST}:{port}",
            f"--web.config.file={web_config(workdir, pki, password, client_cert=False)}",
            f"--web.external-url={url}",
            f"--web.route-prefix={prefix}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        with _secured("alertmanager", argv, workdir, url, pki, password, None, timeout) as server:
            yield server
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# A recording server: which headers did the client send?

_ANSWERS = {
    "/api/v1/label/__name__/values": {"status": "success", "data": []},
    "/api/v1/query": {"status": "success", "data": {"resultType": "vector", "result": []}},
    "/api/v1/alerts": {"status": "success", "data": {"alerts": []}},
    "/api/v1/status/config": {"status": "success", "data": {"yaml": "global: {}\n"}},
    "/api/v2/alerts": [],
}


@dataclass
class Recorder:
    """What the recording server saw, and the one bearer token it accepts now (None: any)."""

    url: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    accepted_token: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self, header: str) -> list[str]:
        with self.lock:
            return [h[header.lower()] for _path, h in self.requests if header.lower() in h]


@contextlib.contextmanager
def recording_server(prefix: str = "/tenant") -> Iterator[Recorder]:
    """A Prometheus/Alertmanager look-alike at http://127.0.0.1:PORT<prefix> that records every
    request's headers and answers 401 unless the bearer token is the accepted one."""
    recorder = Recorder("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            headers = {k.lower(): v for k, v in self.headers.items()}
            with recorder.lock:
                recorder.requests.append((path, headers))
                accepted = recorder.accepted_token
            if accepted is not None and headers.get("authorization") != f"Bearer {accepted}":
                self._answer(401, b"Unauthorized\n", "text/plain")
            elif path.startswith(prefix) and path[len(prefix):] in _ANSWERS:
                self._answer(200, json.dumps(_ANSWERS[path[len(prefix):]]).encode(), "application/json")
            else:
                self._answer(404, b"404 page not found\n", "text/plain")

        def _answer(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    recorder.url = f"http://{HOST}:{server.server_address[1]}{prefix}"
    thread = threading.Thread(target=server.serve_forever, name="recording-server", daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
