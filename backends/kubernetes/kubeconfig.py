"""Kubeconfig read the way kubectl (client-go's clientcmd) reads it, and the credentials it names.

- `load(path)`: `--kubeconfig` alone, else every file of `$KUBECONFIG` (`:`-separated; missing files
  skipped), else `~/.kube/config`, merged with clientcmd's rules: the first file to define a cluster,
  user or context by name wins, and `current-context` comes from the first file that sets it. Relative
  file paths inside a file are relative to that file's directory.
- `Credentials`: what a request carries. A static token; a `tokenFile` re-read when it changes (and on
  a 401); basic auth; client certificates from files or `-data`; an exec credential plugin (apiVersion
  `client.authentication.k8s.io/v1` or `v1beta1`) run on demand, its `ExecCredential` cached until its
  `expirationTimestamp` and run again when it has expired or the server answers 401.

Nothing here imports the `kubernetes` package; YAML is read with PyYAML, imported lazily.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
PLUGIN_TIMEOUT = 60.0
"""Seconds a credential plugin may take (an SSO prompt would take longer; we never prompt)."""


class KubeConfigError(Exception):
    """The operator's cluster options cannot be used; the message is one line, shown as is."""


class CredentialError(Exception):
    """A credential could not be obtained right now (plugin failed, token file unreadable); one line."""


def one_line(text: object, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


# ---------------------------------------------------------------------------------------------
# Files and merging


def kubeconfig_files(explicit: str | None = None) -> list[str]:
    """The files kubectl reads, in precedence order: --kubeconfig, else $KUBECONFIG's list, else the
    home file."""
    if explicit:
        return [explicit]
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        return list(dict.fromkeys(listed))
    return [os.path.expanduser("~/.kube/config")]


@dataclass
class KubeConfig:
    """The merged view of one or more kubeconfig files."""

    files: list[str]
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)
    current_context: str = ""
    origin: dict[tuple[str, str], str] = field(default_factory=dict)
    """(kind, name) -> the file that defined it: relative paths are resolved against its directory."""

    @property
    def label(self) -> str:
        return ":".join(self.files)

    def base_dir(self, kind: str, name: str) -> str:
        return os.path.dirname(os.path.abspath(self.origin.get((kind, name), self.files[0])))


def load(explicit: str | None = None) -> KubeConfig:
    """Read and merge the kubeconfig files; `KubeConfigError` when none can be used."""
    files = kubeconfig_files(explicit)
    present = [p for p in files if os.path.exists(p)]
    if explicit and not present:
        raise KubeConfigError(f"kubeconfig {explicit} does not exist")
    if not present:
        raise KubeConfigError(f"kubeconfig {':'.join(files)} does not exist")
    merged = KubeConfig(files=present)
    for path in present:
        _merge_file(merged, path, _read_yaml(path))
    return merged


def _read_yaml(path: str) -> dict[str, Any]:
    import yaml  # lazy; PyYAML comes with the kubernetes client

    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except Exception as exc:
        raise KubeConfigError(f"cannot read kubeconfig {path}: {one_line(exc, 200)}") from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise KubeConfigError(f"cannot read kubeconfig {path}: not a mapping")
    return doc


def _merge_file(merged: KubeConfig, path: str, doc: Mapping[str, Any]) -> None:
    """clientcmd's rule: the first file to set a name keeps it; later files only add new names."""
    for kind, key, target in (("clusters", "cluster", merged.clusters), ("users", "user", merged.users),
                              ("contexts", "context", merged.contexts)):
        for entry in doc.get(kind) or ():
            if not isinstance(entry, dict) or not entry.get("name"):
                continue
            name = str(entry["name"])
            if name not in target:
                target[name] = dict(entry.get(key) or {})
                merged.origin[(kind, name)] = path
    if not merged.current_context and doc.get("current-context"):
        merged.current_context = str(doc["current-context"])


# ---------------------------------------------------------------------------------------------
# One context, resolved


@dataclass(frozen=True)
class ExecConfig:
    api_version: str
    command: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    interactive_mode: str
    provide_cluster_info: bool
    install_hint: str
    user: str


@dataclass(frozen=True)
class ContextConfig:
    """Everything one context says about reaching its cluster."""

    context: str
    cluster: str
    user: str
    namespace: str
    server: str
    ca_data: bytes | None
    insecure: bool
    tls_server_name: str
    proxy_url: str
    token: str = field(repr=False)
    token_file: str
    username: str
    password: str = field(repr=False)
    cert_data: bytes | None = field(repr=False)
    key_data: bytes | None = field(repr=False)
    exec: ExecConfig | None
    cluster_extension: Any = None


def resolve_context(config: KubeConfig, name: str) -> ContextConfig:
    ctx = config.contexts.get(name)
    if ctx is None:
        raise KubeConfigError(f"unknown context {name!r} in {config.label}")
    cluster_name, user_name = str(ctx.get("cluster") or ""), str(ctx.get("user") or "")
    cluster = config.clusters.get(cluster_name)
    if cluster is None:
        raise KubeConfigError(f"context {name}: cluster {cluster_name!r} is not in {config.label}")
    user = config.users.get(user_name, {}) if user_name else {}
    if user_name and user_name not in config.users:
        raise KubeConfigError(f"context {name}: user {user_name!r} is not in {config.label}")
    cluster_dir, user_dir = config.base_dir("clusters", cluster_name), config.base_dir("users", user_name)
    if user.get("auth-provider"):
        provider = (user["auth-provider"] or {}).get("name", "?")
        raise KubeConfigError(f"context {name}: auth-provider {provider!r} is not supported (kubectl dropped it "
                              "too); use an exec credential plugin")
    server = str(cluster.get("server") or "")
    if not server:
        raise KubeConfigError(f"context {name}: cluster {cluster_name!r} has no server")
    return ContextConfig(
        context=name, cluster=cluster_name, user=user_name, namespace=str(ctx.get("namespace") or ""),
        server=server.rstrip("/"),
        ca_data=_bytes_of(cluster, "certificate-authority", cluster_dir, name),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=str(cluster.get("tls-server-name") or ""),
        proxy_url=str(cluster.get("proxy-url") or ""),
        token=str(user.get("token") or ""),
        token_file=_path(user.get("tokenFile"), user_dir),
        username=str(user.get("username") or ""), password=str(user.get("password") or ""),
        cert_data=_bytes_of(user, "client-certificate", user_dir, name),
        key_data=_bytes_of(user, "client-key", user_dir, name),
        exec=_exec_config(user.get("exec"), user_dir, name, user_name),
        cluster_extension=_exec_extension(cluster),
    )


def _path(value: Any, base: str) -> str:
    if not value:
        return ""
    path = os.path.expanduser(str(value))
    return path if os.path.isabs(path) else os.path.join(base, path)


def _bytes_of(entry: Mapping[str, Any], key: str, base: str, context: str) -> bytes | None:
    """`<key>-data` (base64) wins over the `<key>` file, as in clientcmd."""
    data = entry.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=False)
        except ValueError as exc:
            raise KubeConfigError(f"context {context}: {key}-data is not base64") from exc
    path = _path(entry.get(key), base)
    if not path:
        return None
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise KubeConfigError(f"context {context}: cannot read {key} {path}: {exc.strerror}") from exc


def _exec_extension(cluster: Mapping[str, Any]) -> Any:
    for ext in cluster.get("extensions") or ():
        if isinstance(ext, dict) and ext.get("name") == "client.authentication.k8s.io/exec":
            return ext.get("extension")
    return None


def _exec_config(raw: Any, base: str, context: str, user: str) -> ExecConfig | None:
    if not raw:
        return None
    api_version = str(raw.get("apiVersion") or "")
    if api_version not in EXEC_API_VERSIONS:
        raise KubeConfigError(f"context {context}: exec plugin apiVersion {api_version!r} is not supported "
                              f"(use {' or '.join(EXEC_API_VERSIONS)})")
    command = str(raw.get("command") or "")
    if not command:
        raise KubeConfigError(f"context {context}: exec plugin of user {user!r} has no command")
    if os.sep in command and not os.path.isabs(command):
        command = os.path.join(base, command)  # clientcmd: a relative path is relative to the file
    mode = str(raw.get("interactiveMode") or ("" if api_version.endswith("/v1") else "IfAvailable"))
    if mode not in ("Never", "IfAvailable", "Always"):
        raise KubeConfigError(f"context {context}: exec plugin interactiveMode must be Never, IfAvailable or "
                              f"Always (got {mode or 'nothing'})")
    env = tuple((str(e.get("name")), str(e.get("value", ""))) for e in raw.get("env") or () if isinstance(e, dict))
    return ExecConfig(api_version=api_version, command=command, args=tuple(str(a) for a in raw.get("args") or ()),
                      env=env, interactive_mode=mode, provide_cluster_info=bool(raw.get("provideClusterInfo")),
                      install_hint=one_line(raw.get("installHint") or "", 200), user=user)


def check_exec_runnable(ctx: ContextConfig) -> None:
    """Fail at start-up, in one line, when the plugin cannot run at all (not installed, needs a prompt)."""
    plugin = ctx.exec
    if plugin is None:
        return
    if plugin.interactive_mode == "Always":
        raise KubeConfigError(f"context {ctx.context}: exec plugin {plugin.command} needs an interactive "
                              "terminal (interactiveMode Always); run it once with kubectl, then use a "
                              "cached credential")
    if shutil.which(plugin.command) is None:
        hint = f" ({plugin.install_hint})" if plugin.install_hint else ""
        raise KubeConfigError(f"context {ctx.context}: exec plugin {plugin.command!r} not found{hint}")


# ---------------------------------------------------------------------------------------------
# Credentials


@dataclass(frozen=True)
class Credential:
    """What one request carries: a header, and the client certificate its TLS connection presents."""

    authorization: str = field(default="", repr=False)
    cert_data: bytes | None = field(default=None, repr=False)
    key_data: bytes | None = field(default=None, repr=False)


class Credentials:
    """The credential of one context, refreshed when it expires, its file changes, or on a 401.

    Thread-safe: several reflector threads ask at once and a plugin runs once for all of them."""

    def __init__(self, ctx: ContextConfig, clock: Callable[[], float] = time.time,
                 runner: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run) -> None:
        self.ctx = ctx
        self._clock = clock
        self._run = runner
        self._lock = threading.Lock()
        self._cached: Credential | None = None
        self._expires_at: float | None = None
        self._token_file_stamp: tuple[float, int] | None = None
        self.plugin_runs = 0

    @property
    def refreshable(self) -> bool:
        """Whether asking again after a 401 can give a different answer."""
        return self.ctx.exec is not None or bool(self.ctx.token_file)

    def current(self) -> Credential:
        with self._lock:
            if self._cached is None or self._stale():
                self._cached = self._obtain()
            return self._cached

    def invalidate(self) -> None:
        """The server said 401: the next request asks the plugin (or the file) again."""
        with self._lock:
            self._cached = None

    def _stale(self) -> bool:
        if self._expires_at is not None and self._clock() >= self._expires_at:
            return True
        return bool(self.ctx.token_file) and self.ctx.exec is None and self._file_stamp() != self._token_file_stamp

    def _file_stamp(self) -> tuple[float, int] | None:
        try:
            st = os.stat(self.ctx.token_file)
        except OSError:
            return None
        return (st.st_mtime, st.st_size)

    def _obtain(self) -> Credential:
        ctx = self.ctx
        self._expires_at = None
        if ctx.exec is not None:
            return self._from_plugin(ctx.exec)
        if ctx.token_file:
            # clientcmd: tokenFile wins over token when both are set.
            self._token_file_stamp = self._file_stamp()
            try:
                with open(ctx.token_file, encoding="utf-8") as fh:
                    token = fh.read().strip()
            except OSError as exc:
                raise CredentialError(f"token file {ctx.token_file}: {exc.strerror}") from exc
            return Credential(f"Bearer {token}", ctx.cert_data, ctx.key_data)
        if ctx.token:
            return Credential(f"Bearer {ctx.token}", ctx.cert_data, ctx.key_data)
        if ctx.username:
            basic = base64.b64encode(f"{ctx.username}:{ctx.password}".encode()).decode()
            return Credential(f"Basic {basic}", ctx.cert_data, ctx.key_data)
        return Credential("", ctx.cert_data, ctx.key_data)

    def _from_plugin(self, plugin: ExecConfig) -> Credential:
        self.plugin_runs += 1
        name = os.path.basename(plugin.command)
        env = dict(os.environ)
        env.update(plugin.env)
        env["KUBERNETES_EXEC_INFO"] = json.dumps(self._exec_info(plugin))
        try:
            done = self._run([plugin.command, *plugin.args], env=env, stdin=subprocess.DEVNULL,
                             capture_output=True, timeout=PLUGIN_TIMEOUT, check=False)
        except FileNotFoundError as exc:
            hint = f" ({plugin.install_hint})" if plugin.install_hint else ""
            raise CredentialError(f"exec plugin {name} not found{hint}") from exc
        except subprocess.TimeoutExpired as exc:
            raise CredentialError(f"exec plugin {name} gave no credential within {PLUGIN_TIMEOUT:.0f} s") from exc
        except OSError as exc:
            raise CredentialError(f"exec plugin {name} cannot run: {exc.strerror}") from exc
        if done.returncode != 0:
            said = _last_line(done.stderr) or _last_line(done.stdout)
            raise CredentialError(f"exec plugin {name} failed (exit status {done.returncode})"
                                  + (f": {said}" if said else ""))
        credential, expires_at = parse_exec_credential(done.stdout, plugin, name)
        if credential.cert_data is None and self.ctx.cert_data is not None:
            # A plugin that returns only a token keeps the kubeconfig's own client certificate.
            credential = Credential(credential.authorization, self.ctx.cert_data, self.ctx.key_data)
        self._expires_at = expires_at
        return credential

    def _exec_info(self, plugin: ExecConfig) -> dict[str, Any]:
        spec: dict[str, Any] = {"interactive": False}
        if plugin.provide_cluster_info:
            ctx = self.ctx
            cluster: dict[str, Any] = {"server": ctx.server}
            if ctx.tls_server_name:
                cluster["tls-server-name"] = ctx.tls_server_name
            if ctx.insecure:
                cluster["insecure-skip-tls-verify"] = True
            if ctx.ca_data:
                cluster["certificate-authority-data"] = base64.b64encode(ctx.ca_data).decode()
            if ctx.proxy_url:
                cluster["proxy-url"] = ctx.proxy_url
            if ctx.cluster_extension is not None:
                cluster["config"] = ctx.cluster_extension
            spec["cluster"] = cluster
        return {"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": spec}


def _last_line(data: bytes | None) -> str:
    lines = [line for line in (data or b"").decode("utf-8", "replace").splitlines() if line.strip()]
    return one_line(lines[-1], 200) if lines else ""


def parse_exec_credential(stdout: bytes, plugin: ExecConfig, name: str) -> tuple[Credential, float | None]:
    """The plugin's `ExecCredential` -> (credential, expiry as unix seconds or None)."""
    try:
        doc = json.loads(stdout)
    except ValueError as exc:
        raise CredentialError(f"exec plugin {name} printed invalid JSON: {one_line(exc, 120)}") from exc
    if not isinstance(doc, dict) or doc.get("kind") != "ExecCredential":
        raise CredentialError(f"exec plugin {name} printed no ExecCredential")
    if doc.get("apiVersion") != plugin.api_version:
        raise CredentialError(f"exec plugin {name} answered apiVersion {doc.get('apiVersion')!r}, "
                              f"the kubeconfig asks for {plugin.api_version}")
    status = doc.get("status")
    if not isinstance(status, dict):
        raise CredentialError(f"exec plugin {name} printed an ExecCredential without status")
    token = status.get("token") or ""
    cert, key = status.get("clientCertificateData") or "", status.get("clientKeyData") or ""
    if bool(cert) != bool(key):
        raise CredentialError(f"exec plugin {name} gave a client certificate without its key, or a key "
                              "without its certificate")
    if not token and not cert:
        raise CredentialError(f"exec plugin {name} gave neither a token nor a client certificate")
    expires_at = _timestamp(status.get("expirationTimestamp"), name)
    credential = Credential(f"Bearer {token}" if token else "", cert.encode() if cert else None,
                            key.encode() if key else None)
    return credential, expires_at


def _timestamp(value: Any, name: str) -> float | None:
    if not value:
        return None
    try:
        stamp = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise CredentialError(f"exec plugin {name} gave an expirationTimestamp that is not RFC 3339: "
                              f"{one_line(value, 60)}") from exc
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    return stamp.timestamp()
