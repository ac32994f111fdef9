"""How mlops-tui reaches a Prometheus-compatible server (Prometheus, Alertmanager, Mimir, Cortex,
Thanos) behind authentication, TLS and tenants: one set of settings, shared by both engines.

`HTTP_OPTIONS` (backends/http_options.py) declares the settings (config keys under `[prometheus]` and
`[alertmanager]` alike); `HttpAccess.from_options` checks them together (one line naming what is wrong) and
`HttpAccess.configure` applies them to a `requests.Session`. The path prefix of a server mounted
under `https://host/prometheus` is simply part of the engine's `url`.

Secrets (the bearer token, the password) come only from a file or an environment variable, are read
when a request is sent (a rotated token file is picked up by the next request), and never stored in
anything printed: not in this object's repr, nor in an error message, a log line, the audit log or
`status --json`. Nothing here imports `requests` at module level; the engine specs import only the
option declarations, and this module when a source is built.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mlops_tui.backends.http_options import HTTP_OPTIONS

if TYPE_CHECKING:
    import requests

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
"""Headers that carry credentials: refused in `headers` (the config file would hold the secret)."""


class _SecretFile:
    """A secret read from its file at every request: a rotated token (a rewrite, or a Kubernetes
    projected volume swapping its symlink) is used by the next request. The file is a few bytes
    read once per poll; caching it on its modification time could miss a rewrite within the
    file system's timestamp granularity. Its repr never shows the secret."""

    def __init__(self, path: str) -> None:
        self.path = path

    def read(self) -> str:
        try:
            with open(self.path, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as exc:  # the source's one-line error: which file, why
            raise OSError(f"cannot read {self.path}: {exc.strerror or exc}") from None

    def __repr__(self) -> str:
        return f"_SecretFile({self.path!r})"


class _EnvSecret:
    """A secret read from an environment variable when a request is sent."""

    def __init__(self, name: str) -> None:
        self.name = name

    def read(self) -> str:
        return os.environ.get(self.name, "")

    def __repr__(self) -> str:
        return f"_EnvSecret({self.name!r})"


class _Authorization:
    """A requests auth hook (any callable taking the prepared request) setting `Authorization` from a
    secret read at send time."""

    def __init__(self, scheme: str, secret: _SecretFile | _EnvSecret, username: str = "") -> None:
        self.scheme = scheme
        self.secret = secret
        self.username = username

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        value = self.secret.read()
        if self.scheme == "Basic":
            value = base64.b64encode(f"{self.username}:{value}".encode()).decode("ascii")
        request.headers["Authorization"] = f"{self.scheme} {value}"
        return request

    def __repr__(self) -> str:
        return f"_Authorization({self.scheme}, {self.secret!r})"


@dataclass(frozen=True)
class HttpAccess:
    """Authentication, TLS and extra headers for one server. Holds file paths and variable names,
    never a secret."""

    bearer_token_file: str = ""
    username: str = ""
    password_file: str = ""
    password_env: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    insecure_skip_verify: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> HttpAccess:
        """The settings of `HTTP_OPTIONS` found in an engine's options, checked together;
        ValueError(one line) when they contradict each other or a password variable is unset."""
        names = {o.name for o in HTTP_OPTIONS}
        access = cls(**{k: v for k, v in options.items() if k in names and v is not None})
        access.check()
        return access

    def check(self) -> None:
        if self.bearer_token_file and self.username:
            raise ValueError("bearer_token_file and username (basic auth) exclude each other: choose one")
        if self.password_file and self.password_env:
            raise ValueError("password_file and password_env exclude each other: choose one")
        has_password = bool(self.password_file or self.password_env)
        if has_password and not self.username:
            raise ValueError("a password needs a username")
        if self.username and not has_password:
            raise ValueError(f"username {self.username!r} needs password_file or password_env")
        if self.password_env and not os.environ.get(self.password_env):
            raise ValueError(f"password_env: environment variable {self.password_env} is not set")
        if self.key_file and not self.cert_file:
            raise ValueError("key_file needs cert_file (the client certificate it belongs to)")
        if self.insecure_skip_verify and self.ca_file:
            raise ValueError("ca_file and insecure_skip_verify contradict each other: choose one")
        for name in self.headers:
            if name.lower() in SECRET_HEADERS:
                raise ValueError(f"headers: {name} carries credentials; use bearer_token_file or "
                                 "username + password_file (secrets never inline)")

    def check_url(self, url: str) -> None:
        """A URL with `user:password@` would put the secret in the config, the status and the audit."""
        if "@" in urlsplit(url).netloc:
            raise ValueError("the URL holds credentials; use username + password_file or password_env instead")

    def authorization(self) -> _Authorization | None:
        if self.bearer_token_file:
            return _Authorization("Bearer", _SecretFile(self.bearer_token_file))
        if self.username:
            secret = _SecretFile(self.password_file) if self.password_file else _EnvSecret(self.password_env)
            return _Authorization("Basic", secret, self.username)
        return None

    def configure(self, session: requests.Session) -> None:
        """Apply every setting to `session` (auth read per request, TLS, headers)."""
        session.auth = self.authorization()
        if self.insecure_skip_verify:
            session.verify = False
        elif self.ca_file:
            session.verify = self.ca_file
        if self.cert_file:
            session.cert = (self.cert_file, self.key_file) if self.key_file else self.cert_file
        session.headers.update(self.headers)
