"""Kubeconfig contexts -> clusters, and the raw JSON HTTP layer every other module uses.

`kubeconfig.py` reads the kubeconfig as kubectl does and keeps each context's credentials fresh
(token files, exec plugins); `RawClient` sends every request over one urllib3 pool per context with
that context's TLS settings and proxy. Bodies are read raw and parsed with orjson, never through the
`kubernetes` package's generated model classes (15-20x slower: kubernetes-client/python#1921; our own
figures in bench/RESULTS.md, `bench/k8s_informer_choice.py`). urllib3 is imported inside functions
only, so importing this module costs little at start-up. This module only connects and transports: it
knows nothing of the cache, the backend or the actions built on it.
"""

from __future__ import annotations

import atexit
import os
import ssl
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from mlops_tui.backends.gcpause import gc_paused as gc_paused  # re-exported: shared with the Swarm client
from mlops_tui.backends.kubernetes import kubeconfig as kc
from mlops_tui.backends.kubernetes.kubeconfig import ContextConfig, Credential, Credentials
from mlops_tui.backends.kubernetes.kubeconfig import KubeConfigError as KubeConfigError  # re-exported

DEFAULT_TIMEOUT = (5.0, 30.0)
"""(connect, read) seconds for ordinary calls: every call has one."""


class ApiError(Exception):
    """A non-2xx answer, or a transport failure (status 0), with the server's own message."""

    def __init__(self, status: int, reason: str, message: str = "", body: Any = None) -> None:
        # Status 0 is no answer at all (refused, reset, timed out): no number to show the operator.
        head = f"{status} {reason}" if status else reason
        super().__init__(f"{head}: {message}" if message else head)
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body


def loads(data: bytes) -> Any:
    if len(data) > 1 << 20:
        with gc_paused():
            return orjson.loads(data)
    return orjson.loads(data)


@dataclass
class Response:
    status: int
    data: bytes

    def json(self) -> Any:
        return loads(self.data) if self.data else None


class Transport:
    """What the reflectors and actions need from HTTP; `RawClient` is the real one, tests fake it."""

    def request(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = "application/json",
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> Response:
        raise NotImplementedError

    def stream(
        self, path: str, query: Sequence[tuple[str, str]] = (), timeout: tuple[float, float] = DEFAULT_TIMEOUT
    ) -> StreamHandle:
        raise NotImplementedError

    def close(self) -> None:
        pass


class StreamHandle:
    """An open watch stream: iterate raw lines; `close()` from another thread ends the iteration."""

    def lines(self) -> Iterator[bytes]:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _status_error(status: int, reason: str, data: bytes) -> ApiError:
    message = ""
    body: Any = None
    try:
        body = orjson.loads(data) if data else None
        if isinstance(body, dict):
            message = str(body.get("message") or "")
            reason = str(body.get("reason") or reason)
    except orjson.JSONDecodeError:
        message = data[:200].decode("utf-8", "replace")
    return ApiError(status, reason, message, body)


def _is_read_timeout(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, TimeoutError) or type(exc).__name__ in ("ReadTimeoutError", "TimeoutError"):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class _UrllibStream(StreamHandle):
    def __init__(self, resp: Any) -> None:
        self._resp = resp
        self._closed = False

    def lines(self) -> Iterator[bytes]:
        buffer = b""
        try:
            for chunk in self._resp.stream(65536, decode_content=True):
                if self._closed:
                    return
                buffer += chunk
                if b"\n" not in chunk:
                    continue
                *complete, buffer = buffer.split(b"\n")
                for line in complete:
                    if line.strip():
                        yield line
            if buffer.strip() and not self._closed:
                yield buffer
        except Exception as exc:
            if self._closed or _is_read_timeout(exc):
                # A quiet watch that outlived the idle timeout is a normal end: the caller resumes.
                return
            raise ApiError(0, type(exc).__name__, str(exc)) from exc

    def close(self) -> None:
        self._closed = True
        with suppress(Exception):
            self._resp.shutdown()
        with suppress(Exception):
            self._resp.release_conn()


class RawClient(Transport):
    """Raw JSON over one context's urllib3 pool: its credentials, TLS settings and proxy.

    A 401 from a context whose credential can change (an exec plugin, a token file) asks for a fresh
    credential and sends the request once more, as client-go does; a second 401 is the answer."""

    def __init__(self, ctx: ContextConfig, credentials: Credentials | None = None, pool_size: int = 32) -> None:
        self.ctx = ctx
        self.server = ctx.server
        self.credentials = credentials or Credentials(ctx)
        self._pool_size = pool_size
        self._pool_lock = threading.Lock()
        self._pool: Any = None
        self._pool_cert: tuple[bytes | None, bytes | None] = (None, None)

    @classmethod
    def for_server(cls, server: str, token: str = "", ca_data: bytes | None = None, pool_size: int = 32) -> RawClient:
        """A client for one URL and bearer token, without a kubeconfig (benchmarks, tests)."""
        ctx = ContextConfig(context=server, cluster=server, user="", namespace="", server=server.rstrip("/"),
                            ca_data=ca_data, insecure=False, tls_server_name="", proxy_url="", token=token,
                            token_file="", username="", password="", cert_data=None, key_data=None, exec=None)
        return cls(ctx, pool_size=pool_size)

    def _pool_for(self, credential: Credential) -> Any:
        """The pool whose TLS context presents `credential`'s client certificate; rebuilt when a plugin
        hands out a new one (connections opened with the old certificate finish their requests)."""
        cert = (credential.cert_data, credential.key_data)
        with self._pool_lock:
            if self._pool is None or cert != self._pool_cert:
                old = self._pool
                self._pool = build_pool(self.ctx, credential, self._pool_size)
                self._pool_cert = cert
                if old is not None:
                    with suppress(Exception):
                        old.clear()
            return self._pool

    def _url(self, path: str, query: Sequence[tuple[str, str]]) -> str:
        from urllib.parse import urlencode

        return self.server + path + (f"?{urlencode(list(query))}" if query else "")

    def _send(self, method, path, query, body, content_type, timeout, stream=False):
        import urllib3  # lazy: see module docstring

        url = self._url(path, query)
        data = _encode_body(body)
        for attempt in (1, 2):
            try:
                credential = self.credentials.current()
                pool = self._pool_for(credential)
            except kc.CredentialError as exc:
                return None, ApiError(0, "CredentialError", str(exc))
            except KubeConfigError as exc:
                return None, ApiError(0, "KubeConfigError", str(exc))
            headers = {"Accept": "application/json", "User-Agent": "mlops-tui"}
            if data is not None:
                headers["Content-Type"] = content_type
            if credential.authorization:
                headers["Authorization"] = credential.authorization
            try:
                try:
                    resp = pool.request(method, url, body=data, headers=headers, preload_content=False,
                                        retries=False, redirect=False,
                                        timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]))
                except Exception as exc:
                    if method != "GET" or not _closed_before_answering(exc):
                        raise
                    # A kept-alive connection the server (or a proxy) closed while it sat in the pool:
                    # a read is sent once more on a new one, as Go's net/http does for idempotent
                    # requests (net/http transport.go, `shouldRetryRequest`). Never a write: it may
                    # have arrived.
                    resp = pool.request(method, url, body=data, headers=headers, preload_content=False,
                                        retries=False, redirect=False,
                                        timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]))
            except Exception as exc:  # urllib3 connection/read errors, TLS, refused, timeouts, proxy
                return None, _transport_error(exc, timeout)
            if resp.status == 401 and attempt == 1 and self.credentials.refreshable:
                _discard(resp)
                self.credentials.invalidate()
                continue
            if not 200 <= resp.status <= 299:
                try:
                    raw = resp.read()
                except Exception:
                    raw = b""
                _discard(resp)
                return None, _status_error(resp.status, resp.reason or "", raw or b"")
            return resp, None
        raise AssertionError("unreachable: the second attempt always returns")

    def request(self, method, path, query=(), body=None, content_type="application/json", timeout=DEFAULT_TIMEOUT):
        resp, err = self._send(method, path, query, body, content_type, timeout)
        if err is not None:
            raise err
        try:
            data = resp.read()
        except Exception as exc:
            raise _transport_error(exc, timeout) from exc
        finally:
            _discard(resp)
        return Response(resp.status, data or b"")

    def stream(self, path, query=(), timeout=DEFAULT_TIMEOUT):
        resp, err = self._send("GET", path, query, None, "", timeout)
        if err is not None:
            raise err
        return _UrllibStream(resp)

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                with suppress(Exception):
                    self._pool.clear()
            self._pool = None


def _encode_body(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return orjson.dumps(body)


def _discard(resp: Any) -> None:
    with suppress(Exception):
        resp.drain_conn()
    with suppress(Exception):
        resp.release_conn()


def tls_context(ctx: ContextConfig, credential: Credential) -> ssl.SSLContext:
    """The context's trust (its CA, or the system's, or none with insecure-skip-tls-verify) and the
    client certificate, if any.

    `ssl` loads a certificate and key only from files: on Linux they are anonymous in-memory files, never
    on disk; elsewhere a private directory (0700) removed before this returns, on every path, and at
    exit if a thread was still inside (`_KeyFolders`)."""
    if ctx.insecure:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif ctx.ca_data:
        try:
            context = ssl.create_default_context(cadata=_pem_or_der(ctx.ca_data))
        except (ssl.SSLError, ValueError) as exc:
            raise KubeConfigError(f"context {ctx.context}: certificate-authority is not a certificate: "
                                  f"{_short(exc)}") from exc
    else:
        context = ssl.create_default_context()
    if credential.cert_data and credential.key_data:
        _load_client_cert(context, ctx.context, credential.cert_data, credential.key_data)
    elif credential.cert_data or credential.key_data:
        raise KubeConfigError(f"context {ctx.context}: a client certificate needs both client-certificate and "
                              "client-key")
    return context


def _pem_or_der(data: bytes) -> str | bytes:
    return data.decode("ascii") if b"-----BEGIN" in data else data


def _load_client_cert(context: ssl.SSLContext, name: str, cert: bytes, key: bytes) -> None:
    try:
        if _MEMORY_FILES:
            _load_from_memory(context, cert, key)
        else:
            _load_from_private_folder(context, cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise KubeConfigError(f"context {name}: client certificate or key unusable: {_short(exc)}") from exc


_MEMORY_FILES = hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd")
"""Linux: the key goes to an anonymous in-memory file that `ssl` opens by its /proc path. It is never on
disk, and it is gone when its descriptor closes or the process ends, however it ends (a daemon thread
frozen at interpreter shutdown, `os._exit`, SIGKILL)."""


def _load_from_memory(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    fds: list[int] = []
    try:
        for label, content in (("cert", cert), ("key", key)):
            fds.append(os.memfd_create(f"mlops-tui-client-{label}", os.MFD_CLOEXEC))
            os.write(fds[-1], content)
        context.load_cert_chain(*(f"/proc/self/fd/{fd}" for fd in fds))
    finally:
        for fd in fds:
            os.close(fd)


class _KeyFolders:
    """Elsewhere the key is written to a private (0700) folder for the instant `ssl` reads it. A thread
    that is loading one when the interpreter shuts down may never reach its `finally` (daemon threads
    are frozen), so the folders still open are removed at exit, and none is made after that."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[str] = set()
        self._closed = False

    def make(self) -> str:
        import tempfile

        with self._lock:
            if self._closed:
                raise OSError("the app is exiting")
            folder = tempfile.mkdtemp(prefix="mlops-tui-client-cert-")
            self._open.add(folder)
            return folder

    def remove(self, folder: str) -> None:
        import shutil

        with self._lock:
            self._open.discard(folder)
            shutil.rmtree(folder, ignore_errors=True)

    def remove_all(self) -> None:
        import shutil

        with self._lock:
            self._closed = True
            for folder in self._open:
                shutil.rmtree(folder, ignore_errors=True)
            self._open.clear()


_KEY_FOLDERS = _KeyFolders()
atexit.register(_KEY_FOLDERS.remove_all)


def _load_from_private_folder(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    folder = _KEY_FOLDERS.make()
    try:
        cert_path, key_path = os.path.join(folder, "client.crt"), os.path.join(folder, "client.key")
        for path, content in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
        context.load_cert_chain(cert_path, key_path)
    finally:
        _KEY_FOLDERS.remove(folder)


def build_pool(ctx: ContextConfig, credential: Credential, pool_size: int) -> Any:
    """A urllib3 pool for the context: through `proxy-url` when set (HTTP CONNECT for https servers),
    else through the environment's HTTPS_PROXY/HTTP_PROXY unless NO_PROXY or a loopback server says
    otherwise (as Go's net/http does for kubectl)."""
    import urllib3  # lazy

    options: dict[str, Any] = {"maxsize": pool_size, "block": False}
    if ctx.server.startswith("https:"):
        options["ssl_context"] = tls_context(ctx, credential)
        if ctx.insecure:
            options.update(cert_reqs="CERT_NONE", assert_hostname=False)
            # The operator asked for it in the kubeconfig; a warning per request would land on the TUI.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        if ctx.tls_server_name:
            options["server_hostname"] = ctx.tls_server_name
    proxy = ctx.proxy_url or _environment_proxy(ctx.server)
    if not proxy:
        return urllib3.PoolManager(**options)
    if proxy.startswith("socks"):
        try:
            from urllib3.contrib.socks import SOCKSProxyManager
        except ImportError as exc:
            raise KubeConfigError(f"context {ctx.context}: proxy-url {proxy} needs the PySocks package") from exc
        return SOCKSProxyManager(proxy.replace("socks5://", "socks5h://", 1), **options)
    if not proxy.startswith(("http:", "https:")):
        raise KubeConfigError(f"context {ctx.context}: proxy-url {proxy} must be http, https or socks5")
    return urllib3.ProxyManager(proxy, **options)


def _environment_proxy(server: str) -> str:
    import ipaddress
    from urllib import request as urllib_request
    from urllib.parse import urlsplit

    parts = urlsplit(server)
    host = parts.hostname or ""
    if host == "localhost":
        return ""
    with suppress(ValueError):
        if ipaddress.ip_address(host).is_loopback:
            return ""
    proxies = urllib_request.getproxies_environment()
    proxy = proxies.get(parts.scheme, "")
    if not proxy or urllib_request.proxy_bypass_environment(host, proxies):  # type: ignore[attr-defined]
        return ""
    return proxy


def _closed_before_answering(exc: BaseException) -> bool:
    """The server closed the connection without a byte of answer (not a timeout: that one waited)."""
    import http.client

    seen: BaseException | None = exc
    while seen is not None:
        if _is_read_timeout(seen):
            return False
        if isinstance(seen, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
            return True
        nested = [a for a in getattr(seen, "args", ()) if isinstance(a, BaseException)]
        seen = nested[0] if nested else (seen.__cause__ or seen.__context__)
    return False


def _transport_error(exc: Exception, timeout: tuple[float, float] | float) -> ApiError:
    """No answer: a read timeout says what it means (a frozen or overloaded API server), not urllib3's
    repr of the pool; anything else keeps its cause's last, human part."""
    if _is_read_timeout(exc):
        read = timeout[1] if isinstance(timeout, tuple) else timeout
        return ApiError(0, "Timeout", f"API server not answering (nothing within {read:g} s)")
    return ApiError(0, type(exc).__name__, _short(exc))


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    # urllib3 wraps the root cause in long reprs; the operator needs the last, human part.
    for marker in ("Caused by ", "NewConnectionError(", "ProtocolError("):
        if marker in text:
            text = text.split(marker, 1)[1]
    return " ".join(text.strip("()'\" ").split())[:200]


def api_path(group: str, version: str, resource: str, namespace: str = "", name: str = "", sub: str = "") -> str:
    root = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    ns = f"/namespaces/{quote(namespace, safe='')}" if namespace else ""
    tail = f"/{quote(name, safe='')}" if name else ""
    return f"{root}{ns}/{resource}{tail}" + (f"/{sub}" if sub else "")


# ---------------------------------------------------------------------------------------------
# Contexts


@dataclass(frozen=True)
class ClusterTarget:
    """One cluster the operator asked for: a kubeconfig context and what to watch in it."""

    context: str
    kubeconfig: str | None
    """The --kubeconfig file; None: $KUBECONFIG's files (merged) or ~/.kube/config, as kubectl reads."""
    server: str
    user: str
    namespaces: tuple[str, ...] = ()
    """Empty means all namespaces."""
    selector: str = ""
    """Label selector for model services (Deployments, Rollouts, InferenceServices); '' means all."""
    options: Mapping[str, Any] = field(default_factory=dict)
    default_namespace: str = ""
    """The context's `namespace` (kubectl's default for commands without -n); '' when it sets none."""


def default_kubeconfig() -> str:
    """The first file kubectl would read: the first of $KUBECONFIG that exists, else ~/.kube/config.
    (The app uses it only to ask "is there a kubeconfig at all"; `kubeconfig.load` merges them all.)"""
    files = kc.kubeconfig_files()
    return next((p for p in files if os.path.exists(p)), files[0])


def resolve_targets(
    contexts: Sequence[str] = (),
    all_contexts: bool = False,
    kubeconfig: str | None = None,
    namespaces: Sequence[str] = (),
    selector: str = "",
    all_namespaces: bool = False,
) -> list[ClusterTarget]:
    """Which clusters to watch. No context named and not --all-contexts: the current context.

    Which namespaces, as kubectl decides it: those named (--namespace), else the context's own
    `namespace` when it sets one, else all; `all_namespaces` (kubectl's -A) watches all regardless."""
    config = kc.load(kubeconfig)
    known = list(config.contexts)
    if all_contexts:
        chosen = known
    elif contexts:
        unknown = [c for c in contexts if c not in config.contexts]
        if unknown:
            names = ", ".join(sorted(known)) or "none"
            raise KubeConfigError(f"unknown context {unknown[0]!r} in {config.label} (known: {names})")
        chosen = list(dict.fromkeys(contexts))
    elif config.current_context:
        if config.current_context not in config.contexts:
            raise KubeConfigError(f"current context {config.current_context!r} is not in {config.label}")
        chosen = [config.current_context]
    else:
        raise KubeConfigError(f"{config.label} has no current context: name one with --context")
    if not chosen:
        raise KubeConfigError(f"{config.label} has no contexts")
    targets = []
    for name in chosen:
        ctx = config.contexts[name]
        cluster = config.clusters.get(str(ctx.get("cluster") or ""), {})
        targets.append(
            ClusterTarget(
                context=name,
                kubeconfig=kubeconfig,
                server=str(cluster.get("server") or ""),
                user=str(ctx.get("user") or ""),
                namespaces=_watched_namespaces(namespaces, str(ctx.get("namespace") or ""), all_namespaces),
                selector=selector,
                default_namespace=str(ctx.get("namespace") or ""),
            )
        )
    return targets


def _watched_namespaces(named: Sequence[str], context_namespace: str, all_namespaces: bool) -> tuple[str, ...]:
    if all_namespaces:
        return ()
    if named:
        return tuple(named)
    return (context_namespace,) if context_namespace else ()


def connect(target: ClusterTarget, pool_size: int = 32) -> RawClient:
    """A client for the target's context, with its own pool and credentials. Touches no network and
    runs no plugin: a plugin that is not installed is reported here, one that fails on first use."""
    ctx = kc.resolve_context(kc.load(target.kubeconfig), target.context)
    kc.check_exec_runnable(ctx)
    if ctx.proxy_url and not ctx.proxy_url.startswith(("http:", "https:", "socks5:", "socks5h:")):
        raise KubeConfigError(f"context {ctx.context}: proxy-url {ctx.proxy_url} must be http, https or socks5")
    if ctx.server.startswith("https:"):
        # A CA or client certificate that `ssl` refuses is a start-up error, not a retry loop later.
        tls_context(ctx, Credential("", ctx.cert_data, ctx.key_data))
    return RawClient(ctx, pool_size=pool_size)
