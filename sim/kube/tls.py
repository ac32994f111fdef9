"""A self-signed certificate for 127.0.0.1, made once per process with the `openssl` CLI.

kubectl (client-go's clientcmd) sends kubeconfig credentials only over TLS, so the simulator serves
HTTPS; the kubeconfig carries the certificate as `certificate-authority-data`."""

from __future__ import annotations

import atexit
import shutil
import ssl
import subprocess
import tempfile
import threading
from pathlib import Path

_lock = threading.Lock()
_paths: tuple[str, str] | None = None


def cert_paths() -> tuple[str, str]:
    """(certificate, key) files, created on first use and removed at exit."""
    global _paths
    with _lock:
        if _paths is None:
            openssl = shutil.which("openssl")
            if openssl is None:
                raise RuntimeError("the Kubernetes simulator needs the openssl command to make its TLS certificate")
            tmp = Path(tempfile.mkdtemp(prefix="sim-kube-tls-"))
            atexit.register(shutil.rmtree, tmp, True)
            cert, key = tmp / "tls.crt", tmp / "tls.key"
            subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "3650", "-subj",
                            "/CN=sim-kube-apiserver", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                            "-addext", "basicConstraints=critical,CA:TRUE"],
                           check=True, capture_output=True, timeout=30)
            _paths = (str(cert), str(key))
        return _paths


def server_context() -> ssl.SSLContext:
    cert, key = cert_paths()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def client_context() -> ssl.SSLContext:
    """An SSL context that trusts the simulator's certificate (for urllib in tests and benchmarks)."""
    return ssl.create_default_context(cafile=cert_paths()[0])


def ca_data() -> bytes:
    return Path(cert_paths()[0]).read_bytes()
