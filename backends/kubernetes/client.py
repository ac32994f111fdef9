"""Kubeconfig contexts -> clusters, and the raw JSON HTTP layer every other module uses.

One `kubernetes.client.ApiClient` per context (credentials, TLS, exec plugins and token refresh stay
the official client's job), but requests go through `RawClient`: bodies are read raw and parsed with
orjson, never through the generated model classes (15-20x slower: kubernetes-client/python#1921; our
own figures in bench/RESULTS.md, `bench/k8s_informer_choice.py`). The `kubernetes` package is imported
inside functions only, so importing this module costs nothing at start-up. This module only connects
and transports: it knows nothing of the cache, the backend or the actions built on it.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from mlops_tui.backends.exit_hooks import on_exit

DEFAULT_TIMEOUT = (5.0, 30.0)
"""(connect, read) seconds for ordinary calls: every call has one."""


class KubeConfigError(Exception):
    """The operator's cluster options cannot be used; the message is one line, shown as is."""


class ApiError(Exception):
    """A non-2xx answer, or a transport failure (status 0), with the server's own message."""

    def __init__(self, status: int, reason: str, message: str = "", body: Any = None) -> None:
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body


_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = True


@contextmanager
def gc_paused() -> Iterator[None]:
    """Big parses allocate millions of containers, and CPython's cyclic GC, triggered by allocation
    counts, rescans them again and again: the parse turns super-linear (the reflector row of
    bench/RESULTS.md is measured with the GC paused).

    Counted, so overlapping parses in several reflector threads re-enable it only at the end."""
    global _gc_holders, _gc_was_enabled
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.enable()


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
    """Raw JSON over one context's `ApiClient` (its auth, TLS and pool)."""

    def __init__(self, api_client: Any) -> None:
        self.api = api_client
        self.server = str(api_client.configuration.host)

    def _send(self, method, path, query, body, content_type, timeout, stream=False):
        from kubernetes.client.exceptions import ApiException  # lazy: see module docstring

        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            req = self.api.param_serialize(
                method=method,
                resource_path=path,
                query_params=list(query),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            resp = self.api.call_api(*req, _request_timeout=timeout)
        except ApiException as exc:
            return None, _status_error(exc.status or 0, exc.reason or "", (exc.body or "").encode())
        except Exception as exc:  # urllib3 connection/read errors, TLS, refused, timeouts
            return None, ApiError(0, type(exc).__name__, _short(exc))
        if not 200 <= resp.status <= 299:
            try:
                data = resp.read()
            except Exception:
                data = b""
            return None, _status_error(resp.status, resp.reason or "", data or b"")
        return resp, None

    def request(self, method, path, query=(), body=None, content_type="application/json", timeout=DEFAULT_TIMEOUT):
        resp, err = self._send(method, path, query, body, content_type, timeout)
        if err is not None:
            raise err
        try:
            data = resp.read()
        except Exception as exc:
            raise ApiError(0, type(exc).__name__, _short(exc)) from exc
        return Response(resp.status, data or b"")

    def stream(self, path, query=(), timeout=DEFAULT_TIMEOUT):
        resp, err = self._send("GET", path, query, None, "", timeout)
        if err is not None:
            raise err
        return _UrllibStream(resp.response)

    def close(self) -> None:
        with suppress(Exception):
            self.api.close()


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
    server: str
    user: str
    namespaces: tuple[str, ...] = ()
    """Empty means all namespaces."""
    selector: str = ""
    """Label selector for model services (Deployments, Rollouts, InferenceServices); '' means all."""
    options: Mapping[str, Any] = field(default_factory=dict)


def default_kubeconfig() -> str:
    """The file kubectl reads: the first of $KUBECONFIG, else ~/.kube/config."""
    return os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or os.path.expanduser("~/.kube/config")


def _load_kubeconfig(path: str | None) -> tuple[list[dict], dict | None, str]:
    from kubernetes import config as kconfig  # lazy

    chosen = path or default_kubeconfig()
    if not os.path.exists(chosen):
        raise KubeConfigError(f"kubeconfig {chosen} does not exist")
    try:
        contexts, current = kconfig.list_kube_config_contexts(config_file=chosen)
    except Exception as exc:
        raise KubeConfigError(f"cannot read kubeconfig {chosen}: {_short(exc)}") from exc
    return contexts or [], current, chosen


def _server_of(path: str, cluster_name: str) -> str:
    import yaml  # lazy; PyYAML comes with the kubernetes client

    try:
        with open(path, encoding="utf-8") as fh:
            config = yaml.safe_load(fh) or {}
        for cluster in config.get("clusters") or ():
            if cluster.get("name") == cluster_name:
                return str((cluster.get("cluster") or {}).get("server", ""))
    except Exception:
        pass
    return ""


def resolve_targets(
    contexts: Sequence[str] = (),
    all_contexts: bool = False,
    kubeconfig: str | None = None,
    namespaces: Sequence[str] = (),
    selector: str = "",
) -> list[ClusterTarget]:
    """Which clusters to watch. No context named and not --all-contexts: the current context."""
    known, current, path = _load_kubeconfig(kubeconfig)
    by_name = {c["name"]: c for c in known if isinstance(c, dict) and "name" in c}
    if all_contexts:
        chosen = list(by_name)
    elif contexts:
        unknown = [c for c in contexts if c not in by_name]
        if unknown:
            names = ", ".join(sorted(by_name)) or "none"
            raise KubeConfigError(f"unknown context {unknown[0]!r} in {path} (known: {names})")
        chosen = list(dict.fromkeys(contexts))
    elif current:
        chosen = [current["name"]]
    else:
        raise KubeConfigError(f"{path} has no current context: name one with --context")
    if not chosen:
        raise KubeConfigError(f"{path} has no contexts")
    targets = []
    for name in chosen:
        ctx = by_name[name].get("context") or {}
        targets.append(
            ClusterTarget(
                context=name,
                kubeconfig=path,
                server=_server_of(path, str(ctx.get("cluster", ""))),
                user=str(ctx.get("user") or ""),
                namespaces=tuple(namespaces),
                selector=selector,
            )
        )
    return targets


def connect(target: ClusterTarget, pool_size: int = 32) -> RawClient:
    """An `ApiClient` for the target's context (its own, never the global default)."""
    from kubernetes import client as kclient  # lazy
    from kubernetes import config as kconfig

    configuration = kclient.Configuration()
    try:
        kconfig.load_kube_config(
            config_file=target.kubeconfig, context=target.context, client_configuration=configuration,
            persist_config=False,
        )
    except Exception as exc:
        raise KubeConfigError(f"context {target.context}: {_short(exc)}") from exc
    configuration.connection_pool_maxsize = pool_size
    configuration.retries = False
    on_exit("kubernetes-temp-credentials", remove_temp_credentials)
    return RawClient(kclient.ApiClient(configuration))


def remove_temp_credentials() -> None:
    """Delete the files the kubernetes client wrote for inline client keys, certificates and CAs
    (kubernetes/config/kube_config.py `_create_temp_file_with_content`, mkstemp in the temp dir). The
    client removes them only at a normal exit (atexit); a SIGTERM/SIGHUP would leave a private key behind."""
    import sys

    kube_config = sys.modules.get("kubernetes.config.kube_config")
    if kube_config is not None:
        kube_config._cleanup_temp_files()
