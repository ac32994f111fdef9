"""A self-signed certificate for 127.0.0.1, made once per process in Python (`cryptography`).

kubectl (client-go's clientcmd) sends kubeconfig credentials only over TLS, so the simulator serves
HTTPS; the kubeconfig carries the certificate as `certificate-authority-data`.

The same certificate is the client CA: `issue_client_cert` signs client certificates (CN = user,
O = groups, as kube-apiserver's x509 authenticator reads them), which the server asks for and verifies
(a client without one goes on to bearer-token authentication)."""

from __future__ import annotations

import atexit
import datetime
import ipaddress
import shutil
import ssl
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_lock = threading.Lock()
_paths: tuple[str, str] | None = None


def cert_paths() -> tuple[str, str]:
    """(certificate, key) files, created on first use and removed at exit."""
    global _paths
    with _lock:
        if _paths is None:
            tmp = Path(tempfile.mkdtemp(prefix="sim-kube-tls-"))
            atexit.register(shutil.rmtree, tmp, True)
            cert, key = tmp / "tls.crt", tmp / "tls.key"
            cert_pem, key_pem = _self_signed()
            key.touch(mode=0o600)
            key.write_bytes(key_pem)
            cert.write_bytes(cert_pem)
            _paths = (str(cert), str(key))
        return _paths


def _self_signed() -> tuple[bytes, bytes]:
    """(certificate, key) PEM: a P-256 key and a CA:TRUE certificate for IP 127.0.0.1 and localhost
    (kubectl checks the address it dials against the subjectAltName), valid for ten years."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sim-kube-apiserver")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def server_context() -> ssl.SSLContext:
    cert, key = cert_paths()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.load_verify_locations(cert)
    return ctx


def issue_client_cert(user: str, groups: tuple[str, ...] = (), days: int = 1) -> tuple[bytes, bytes]:
    """(certificate, key) PEM for `user` in `groups`, signed by the simulator's CA."""
    ca_cert_path, ca_key_path = cert_paths()
    ca_cert = x509.load_pem_x509_certificate(Path(ca_cert_path).read_bytes())
    ca_key = serialization.load_pem_private_key(Path(ca_key_path).read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
                        + [x509.NameAttribute(NameOID.COMMON_NAME, user)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def client_context() -> ssl.SSLContext:
    """An SSL context that trusts the simulator's certificate (for urllib in tests and benchmarks)."""
    return ssl.create_default_context(cafile=cert_paths()[0])


def ca_data() -> bytes:
    return Path(cert_paths()[0]).read_bytes()
