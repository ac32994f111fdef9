"""Every Engine API call a Swarm backend makes: endpoints the operator names -> `EngineClient`.

Two halves:
- endpoints: `--swarm` values -> `SwarmEndpoint` specs -> `docker.APIClient` transports;
- `EngineClient`: the small typed calls the live cache and the actions make (services, tasks, nodes,
  the events stream, a service update with its version index), each with an explicit timeout, JSON
  in and out, and `EngineError` (dockerd's own message) on failure.

`--swarm` values (repeatable), each one of:
- `unix:///var/run/docker.sock`
- `tcp://host:2376` with TLS options as a query string: `?tlsverify=1&ca=ca.pem&cert=cert.pem&key=key.pem`,
  or `?certpath=DIR` (DIR/ca.pem, cert.pem, key.pem, as `DOCKER_CERT_PATH`), or `?tls=1` (TLS without
  verifying the server). `tcp://` without options is plain HTTP (the demo's simulated engine).
- `ssh://[user@]host[:port]` through the system `ssh`, as the docker CLI does (`ssh.py`: it runs
  `docker system dial-stdio` on the far side; `~/.ssh/config`, the agent and known hosts are ssh's own);
  `?ssh_client=0` uses the docker SDK's paramiko transport instead (paramiko must be installed).
- a docker context name, read from the docker CLI's context store
  (`$DOCKER_CONFIG` or `~/.docker`: `contexts/meta/<sha256(name)>/meta.json` and
  `contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem`), as the docker CLI does.
Every URL also takes `?name=NAME`: the cluster name shown and audited (default: the Swarm's own
cluster name, or the host when the Swarm is named "default" or cannot be asked).

Without any value: `$DOCKER_HOST` (with `$DOCKER_TLS_VERIFY` / `$DOCKER_CERT_PATH`), else the local
socket when that engine is a Swarm manager, else no Swarm at all.

The `docker` package is imported only inside functions that open a client, which the backends do in
their own threads: importing this module is cheap and never on the first frame's path.
Nothing here imports the cache or the actions: they import this module.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from mlops_tui.backends.gcpause import gc_paused

DEFAULT_SOCKET = "/var/run/docker.sock"
DEFAULT_TIMEOUT = 10.0
"""Seconds for ordinary Engine API calls; every call passes an explicit timeout."""
PROBE_TIMEOUT = 2.0

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_URL_OPTIONS = {"name", "tls", "tlsverify", "ca", "cacert", "cert", "key", "certpath", "ssh_client"}


class SwarmConfigError(ValueError):
    """An unusable `--swarm` value; the message is one line, shown to the operator as is."""


@dataclass(frozen=True, slots=True)
class TlsOptions:
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    verify: bool = True


@dataclass(frozen=True, slots=True)
class SwarmEndpoint:
    """One Swarm manager to watch. Holds paths to TLS files, never their content."""

    url: str
    """unix://, tcp:// or ssh:// URL, without our query options."""
    name: str = ""
    """Given name (context name or ?name=); empty: ask the Swarm for its cluster name."""
    tls: TlsOptions | None = None
    use_ssh_client: bool = False
    origin: str = "flag"
    """Where it came from: 'flag', 'context', 'DOCKER_HOST', 'local-socket'."""

    @property
    def display(self) -> str:
        """Where it is, for the status bar: the URL without user info or options."""
        parts = urlsplit(self.url)
        if parts.scheme == "unix":
            return self.url
        host = parts.hostname or ""
        return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")

    @property
    def fallback_name(self) -> str:
        """A name from the URL alone: 'local' for a unix socket, else the host."""
        parts = urlsplit(self.url)
        if parts.scheme == "unix":
            return "local" if parts.path in (DEFAULT_SOCKET, "/run/docker.sock") else Path(parts.path).stem or "local"
        return parts.hostname or self.url


def docker_config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker")


def _flag(value: str, what: str, raw: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SwarmConfigError(f"--swarm {raw!r}: {what}={value!r} is not a yes/no value (use 1 or 0)")


def _file(path: str, raw: str) -> str:
    expanded = os.path.expanduser(path)
    if not os.path.isfile(expanded):
        raise SwarmConfigError(f"--swarm {raw!r}: TLS file not found: {path}")
    return expanded


def parse_endpoint(raw: str, env: Mapping[str, str] | None = None) -> SwarmEndpoint:
    """One `--swarm` value -> an endpoint spec, or a one-line `SwarmConfigError`."""
    text = raw.strip()
    if not text:
        raise SwarmConfigError("--swarm '': empty value (use unix://, tcp://, ssh:// or a docker context name)")
    if "://" not in text:
        return context_endpoint(text, env)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("unix", "tcp", "ssh", "http", "https"):
        raise SwarmConfigError(
            f"--swarm {raw!r}: unsupported scheme {scheme!r} (use unix://, tcp://, ssh:// or a docker context name)")
    options: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in _URL_OPTIONS:
            known = ", ".join(sorted(_URL_OPTIONS))
            raise SwarmConfigError(f"--swarm {raw!r}: unknown option {key!r} (known: {known})")
        options[key] = value
    name = options.get("name", "")
    base = f"{scheme}://{parts.netloc}{parts.path}"
    if scheme == "unix":
        if not parts.path:
            raise SwarmConfigError(f"--swarm {raw!r}: a unix:// URL needs a socket path, e.g. unix://{DEFAULT_SOCKET}")
        if set(options) - {"name"}:
            raise SwarmConfigError(f"--swarm {raw!r}: TLS and ssh options do not apply to a unix socket")
        return SwarmEndpoint(url=base, name=name)
    if scheme == "ssh":
        if not parts.hostname:
            raise SwarmConfigError(f"--swarm {raw!r}: an ssh:// URL needs a host, e.g. ssh://user@manager-1")
        if set(options) - {"name", "ssh_client"}:
            raise SwarmConfigError(f"--swarm {raw!r}: TLS options do not apply to ssh:// (ssh encrypts)")
        use_client = _flag(options.get("ssh_client", "1"), "ssh_client", raw)
        return SwarmEndpoint(url=base, name=name, use_ssh_client=use_client)
    # tcp (and http/https, which the SDK treats alike)
    if not parts.hostname:
        raise SwarmConfigError(f"--swarm {raw!r}: a tcp:// URL needs host:port, e.g. tcp://manager-1:2376")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise SwarmConfigError(f"--swarm {raw!r}: the port is not a number") from None
    if "ssh_client" in options:
        raise SwarmConfigError(f"--swarm {raw!r}: ssh_client applies to ssh:// URLs only")
    tls = None
    wants_tls = scheme == "https" or any(k in options for k in ("tls", "tlsverify", "ca", "cacert", "cert", "key",
                                                                  "certpath"))
    if wants_tls:
        verify = _flag(options.get("tlsverify", "1"), "tlsverify", raw)
        if "tls" in options and not _flag(options["tls"], "tls", raw):
            raise SwarmConfigError(f"--swarm {raw!r}: tls=0 contradicts the other TLS options")
        if "tls" in options and "tlsverify" not in options and not any(
                k in options for k in ("ca", "cacert", "certpath")):
            verify = False  # --tls alone: encrypt, do not verify (docker CLI's --tls)
        certpath = options.get("certpath")
        ca = options.get("ca") or options.get("cacert") or (os.path.join(certpath, "ca.pem") if certpath else None)
        cert = options.get("cert") or (os.path.join(certpath, "cert.pem") if certpath else None)
        key_path = options.get("key") or (os.path.join(certpath, "key.pem") if certpath else None)
        if bool(cert) != bool(key_path):
            raise SwarmConfigError(f"--swarm {raw!r}: a client certificate needs both cert= and key=")
        if verify and not ca:
            raise SwarmConfigError(f"--swarm {raw!r}: tlsverify needs a CA (ca=FILE or certpath=DIR), or use tls=1")
        tls = TlsOptions(
            ca=_file(ca, raw) if ca else None,
            cert=_file(cert, raw) if cert else None,
            key=_file(key_path, raw) if key_path else None,
            verify=verify,
        )
    return SwarmEndpoint(url=f"tcp://{parts.netloc}", name=name, tls=tls)


def context_endpoint(name: str, env: Mapping[str, str] | None = None) -> SwarmEndpoint:
    """A docker CLI context by name, read from its context store like the docker CLI reads it."""
    env = os.environ if env is None else env
    if name == "default":
        endpoint = env_endpoint(env) or SwarmEndpoint(url=f"unix://{DEFAULT_SOCKET}")
        return replace(endpoint, name="default", origin="context")
    base = docker_config_dir(env) / "contexts"
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta_path = base / "meta" / digest / "meta.json"
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
    except FileNotFoundError:
        known = sorted(known_contexts(env))
        hint = f" (known: {', '.join(known)})" if known else " (no contexts in the docker CLI's store)"
        raise SwarmConfigError(
            f"--swarm {name!r}: no docker context of that name{hint}; URLs must start with unix://, tcp:// or ssh://"
        ) from None
    except (OSError, ValueError) as exc:
        raise SwarmConfigError(f"--swarm {name!r}: cannot read docker context {meta_path}: {exc}") from None
    docker_ep = ((meta.get("Endpoints") or {}).get("docker")) or {}
    host = str(docker_ep.get("Host") or "")
    if not host:
        raise SwarmConfigError(f"--swarm {name!r}: docker context has no docker endpoint Host")
    tls_dir = base / "tls" / digest / "docker"
    files = {k: tls_dir / f"{k}.pem" for k in ("ca", "cert", "key")}
    present = {k: str(p) for k, p in files.items() if p.is_file()}
    skip_verify = bool(docker_ep.get("SkipTLSVerify"))
    parts = urlsplit(host)
    if parts.scheme == "ssh":
        return SwarmEndpoint(url=host, name=name, use_ssh_client=True, origin="context")
    if parts.scheme == "unix":
        return SwarmEndpoint(url=host, name=name, origin="context")
    tls = None
    if present or skip_verify:
        tls = TlsOptions(ca=present.get("ca"), cert=present.get("cert"), key=present.get("key"),
                         verify=not skip_verify and "ca" in present)
    return SwarmEndpoint(url=host, name=name, tls=tls, origin="context")


def known_contexts(env: Mapping[str, str] | None = None) -> list[str]:
    names = []
    for meta in (docker_config_dir(env) / "contexts" / "meta").glob("*/meta.json"):
        try:
            names.append(str(json.loads(meta.read_text("utf-8")).get("Name", "")))
        except (OSError, ValueError):
            continue
    return [n for n in names if n]


def env_endpoint(env: Mapping[str, str] | None = None) -> SwarmEndpoint | None:
    """`$DOCKER_HOST` with `$DOCKER_TLS_VERIFY` and `$DOCKER_CERT_PATH`, as the docker CLI reads them."""
    env = os.environ if env is None else env
    host = (env.get("DOCKER_HOST") or "").strip()
    if not host:
        return None
    if host.startswith("tcp://") and "?" not in host:
        verify = (env.get("DOCKER_TLS_VERIFY") or "") not in ("", "0")
        cert_path = env.get("DOCKER_CERT_PATH") or ""
        if verify or cert_path:
            cert_path = cert_path or str(docker_config_dir(env))
            query = f"certpath={cert_path}" + ("" if verify else "&tlsverify=0")
            host = f"{host}?{query}"
    try:
        endpoint = parse_endpoint(host, env)
    except SwarmConfigError as exc:
        raise SwarmConfigError(f"$DOCKER_HOST: {str(exc).split(': ', 1)[-1]}") from None
    return replace(endpoint, origin="DOCKER_HOST")


def local_socket_info(path: str = DEFAULT_SOCKET, timeout: float = PROBE_TIMEOUT) -> dict[str, Any] | None:
    """`GET /info` on a unix socket with plain sockets (no SDK import); None when nothing answers."""
    if not os.path.exists(path):
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(b"GET /info HTTP/1.0\r\nHost: docker\r\n\r\n")
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except OSError:
        return None
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        return None
    try:
        info = json.loads(body)
    except ValueError:
        return None
    return info if isinstance(info, dict) else None


def is_swarm_manager(info: Mapping[str, Any] | None) -> bool:
    swarm = (info or {}).get("Swarm") or {}
    return swarm.get("LocalNodeState") == "active" and bool(swarm.get("ControlAvailable"))


def default_endpoints(env: Mapping[str, str] | None = None, socket_path: str = DEFAULT_SOCKET) -> list[SwarmEndpoint]:
    """No `--swarm`: `$DOCKER_HOST`, else the local socket if that engine is a Swarm manager, else none."""
    endpoint = env_endpoint(env)
    if endpoint is not None:
        return [endpoint]
    if is_swarm_manager(local_socket_info(socket_path)):
        return [SwarmEndpoint(url=f"unix://{socket_path}", origin="local-socket")]
    return []


def resolve_endpoints(values: Sequence[str] | None, env: Mapping[str, str] | None = None) -> list[SwarmEndpoint]:
    """What the CLI calls: `--swarm` values -> endpoint specs (the defaults when there are none).

    Raises `SwarmConfigError` with a one-line message for a bad value; duplicates are dropped."""
    if not values:
        return default_endpoints(env)
    out: list[SwarmEndpoint] = []
    for raw in values:
        endpoint = parse_endpoint(raw, env)
        if any(e.url == endpoint.url and e.name == endpoint.name for e in out):
            continue
        out.append(endpoint)
    return out


def open_api(endpoint: SwarmEndpoint, timeout: float = DEFAULT_TIMEOUT, version: str = "auto") -> Any:
    """A `docker.APIClient` for the endpoint (imports the SDK; may connect, for ssh: call it in a
    worker thread). `timeout` is the default for calls that do not pass their own."""
    import docker
    from docker.tls import TLSConfig

    if endpoint.url.startswith("ssh://") and endpoint.use_ssh_client:
        from mlops_tui.backends.swarm.ssh import SshFailure, open_ssh_api

        try:
            return open_ssh_api(endpoint.url, timeout, version)
        except SshFailure as exc:
            raise ConnectionError(f"cannot reach {endpoint.display}: {exc}") from None
        except Exception as exc:
            raise ConnectionError(f"cannot reach {endpoint.display}: {connection_reason(exc)}") from None
    tls: Any = False
    if endpoint.tls is not None:
        client_cert = (endpoint.tls.cert, endpoint.tls.key) if endpoint.tls.cert and endpoint.tls.key else None
        tls = TLSConfig(client_cert=client_cert, ca_cert=endpoint.tls.ca, verify=endpoint.tls.verify)
    url = endpoint.url
    if url.startswith("tcp://") and tls:
        url = "https://" + url[len("tcp://"):]
    try:
        # ignore[arg-type]: the docker stubs say `timeout: int`, but docker-py passes it on to requests,
        # which takes a float; sub-second probe timeouts rely on that.
        return docker.APIClient(base_url=url, version=version, timeout=timeout,  # type: ignore[arg-type]
                                tls=tls, use_ssh_client=endpoint.use_ssh_client)
    except docker.errors.DockerException as exc:
        raise ConnectionError(f"cannot reach {endpoint.display}: {connection_reason(exc)}") from None


def cluster_name(api: Any, timeout: float = PROBE_TIMEOUT) -> str:
    """The Swarm's cluster name (`GET /swarm` Spec.Name); join tokens in the answer are dropped."""
    response = api._get(api._url("/swarm"), timeout=timeout)
    if response.status_code != 200:
        return ""
    body = response.json()
    return str(((body or {}).get("Spec") or {}).get("Name") or "")


def endpoint_name(endpoint: SwarmEndpoint, timeout: float = PROBE_TIMEOUT) -> str:
    """The name a backend gets: the given name, else the Swarm's cluster name unless it is the
    generic "default", else a name from the URL ('local' for the local socket)."""
    if endpoint.name:
        return endpoint.name
    if endpoint.url.startswith("ssh://"):
        return endpoint.fallback_name  # no connection at construction time over ssh
    try:
        api = open_api(endpoint, timeout=timeout)
        try:
            name = cluster_name(api, timeout)
        finally:
            api.close()
    except Exception:
        name = ""
    return name if name and name != "default" else endpoint.fallback_name


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def connection_reason(exc: BaseException) -> str:
    """The useful end of a requests/urllib3 error chain: 'Connection refused', 'timed out', ..."""
    text = one_line(exc)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if match:
        return match.group(1).strip()
    lowered = text.lower()
    if "timed out" in lowered:
        return "timed out"
    if "certificate" in lowered or "ssl" in lowered:
        return "TLS error: " + text[-200:]
    return text[:300]


class EngineError(Exception):
    """A non-2xx answer from the Engine API (status 0: no answer at all), with dockerd's own message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message


class EventStream:
    """The decoded `GET /events` stream: iterate for events; `close()` from any thread ends it."""

    def __init__(self, events: Iterator[dict[str, Any]], close: Callable[[], None]) -> None:
        self._events = events
        self._close = close

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._events

    def close(self) -> None:
        self._close()


def _filters(filters: Mapping[str, list[str]]) -> str:
    return orjson.dumps(dict(filters)).decode()


class EngineClient:
    """One Swarm manager's Engine API (version negotiated by the SDK, `auto`).

    The transport (`docker.APIClient`) is opened on first use and dropped after a transport failure,
    so the next call reconnects (dockerd restarted, an ssh tunnel died). Thread-safe: the cache's two
    threads and an action's verify loop share one client."""

    def __init__(self, endpoint: SwarmEndpoint, timeout: float = DEFAULT_TIMEOUT,
                 api_factory: Callable[[SwarmEndpoint, float], Any] = open_api) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._api_factory = api_factory
        self._api: Any = None
        self._api_lock = threading.Lock()

    # -- transport -----------------------------------------------------------------------------

    def api(self) -> Any:
        with self._api_lock:
            if self._api is None:
                self._api = self._api_factory(self.endpoint, self.timeout)
            return self._api

    def close(self) -> None:
        """Drop the transport (the next call opens a new one)."""
        with self._api_lock:
            api, self._api = self._api, None
        if api is not None:
            with contextlib.suppress(Exception):
                api.close()

    def _transport_failure(self, exc: BaseException) -> str:
        """Why a call found no answer: over ssh what ssh said (host key, auth, no docker there), else
        the end of the HTTP client's error chain."""
        from mlops_tui.backends.swarm.ssh import ssh_adapter

        with self._api_lock:
            adapter = ssh_adapter(self._api)
        said = adapter.failure() if adapter is not None else ""
        return said or connection_reason(exc)

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> Any:
        """One Engine API call with an explicit timeout; JSON in and out; `EngineError` on failure."""
        try:
            api = self.api()
            url = api._url(path.replace("{", "{{").replace("}", "}}"))
            kwargs: dict[str, Any] = {"params": dict(params or {}), "timeout": timeout or self.timeout}
            if method == "GET":
                response = api._get(url, **kwargs)
            elif method == "POST":
                response = api._post(url, data=orjson.dumps(body) if body is not None else None,
                                     headers={"Content-Type": "application/json"}, **kwargs)
            elif method == "DELETE":
                response = api._delete(url, **kwargs)
            else:
                raise ValueError(method)
        except EngineError:
            raise
        except ConnectionError as exc:
            self.close()
            raise EngineError(0, str(exc)) from None
        except Exception as exc:
            reason = self._transport_failure(exc)
            self.close()
            raise EngineError(0, f"cannot reach {self.endpoint.display}: {reason}") from None
        if response.status_code >= 400:
            raise EngineError(response.status_code, _engine_message(response))
        content = response.content
        if len(content) > 1 << 20:  # 10,000 tasks: the collector would rescan the parse again and again
            with gc_paused():
                return orjson.loads(content)
        return orjson.loads(content) if content else None

    # -- reads ---------------------------------------------------------------------------------

    def service(self, ident: str) -> dict:
        """`GET /services/{id or name}` as stored (no defaults filled in), with its Version.Index."""
        return self.request("GET", f"/services/{ident}", {"insertDefaults": "false"})

    def inspect_service(self, ident: str) -> dict:
        """`GET /services/{id or name}?insertDefaults=true`: the service as `docker service inspect` shows it."""
        return self.request("GET", f"/services/{ident}", {"insertDefaults": "true"})

    def node(self, ident: str) -> dict:
        """`GET /nodes/{id or hostname}`: the node as `docker node inspect` shows it."""
        return self.request("GET", f"/nodes/{ident}")

    def network_name(self, ident: str) -> str:
        """`GET /networks/{id}`'s Name (the CLI names a service's networks this way)."""
        return str((self.request("GET", f"/networks/{ident}") or {}).get("Name", ""))

    def services(self, ids: Sequence[str] | None = None, *, id_prefixes: Sequence[str] | None = None) -> list[dict]:
        """`GET /services?status=true` (running/desired task counts): all, only `ids`, or those whose ID
        starts with one of `id_prefixes` (dockerd matches an `id` filter as a prefix)."""
        params: dict[str, str] = {"status": "true"}
        if ids or id_prefixes:
            params["filters"] = _filters({"id": list(ids or id_prefixes or ())})
        return self.request("GET", "/services", params) or []

    def tasks(self, service_ids: Sequence[str] | None = None, *,
              id_prefixes: Sequence[str] | None = None) -> list[dict]:
        """Tasks meant to run (desired state running or ready): history is read only on demand."""
        return self._tasks(["running", "ready"], service_ids, id_prefixes)

    def finished_tasks(self, service_ids: Sequence[str] | None = None, *,
                       id_prefixes: Sequence[str] | None = None) -> list[dict]:
        """Tasks Swarm keeps after they ended (desired state shutdown: failed, rejected, replaced), a
        few per slot (the swarm's task history limit): the timeline's record of what failed."""
        return self._tasks(["shutdown"], service_ids, id_prefixes)

    def _tasks(self, desired: list[str], service_ids: Sequence[str] | None,
               id_prefixes: Sequence[str] | None) -> list[dict]:
        filters: dict[str, list[str]] = {"desired-state": desired}
        if service_ids:
            filters["service"] = list(service_ids)
        if id_prefixes:
            filters["id"] = list(id_prefixes)
        return self.request("GET", "/tasks", {"filters": _filters(filters)}) or []

    def task_history(self, service_id: str) -> list[dict]:
        """Every task Swarm still keeps for one service, shut down ones included (the detail screen)."""
        return self.request("GET", "/tasks", {"filters": _filters({"service": [service_id]})}) or []

    def nodes(self) -> list[dict]:
        return self.request("GET", "/nodes") or []

    # -- events --------------------------------------------------------------------------------

    def open_events(self, types: Sequence[str], read_timeout: float) -> EventStream:
        """`GET /events?filters={"type": [...]}`, streamed; a quiet stream times out after `read_timeout`."""
        api = self.api()  # first: it imports the SDK under the client lock (two threads importing race)
        from docker.types.daemon import CancellableStream

        response = api._get(api._url("/events"), params={"filters": _filters({"type": list(types)})}, stream=True,
                            timeout=(self.timeout, read_timeout))
        if response.status_code >= 400:
            raise EngineError(response.status_code, response.text.strip())
        stream = CancellableStream(api._stream_helper(response, decode=True), response)
        return EventStream(iter(stream), stream.close)


class RawStream:
    """An open byte stream (`GET .../logs`): `read(n)` blocks for up to n bytes (b"" at the end);
    `close()` from any thread ends it."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def read(self, n: int) -> bytes:
        return self._response.raw.read(n) or b""

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._response.close()


def open_logs(client: EngineClient, kind: str, ident: str, params: Mapping[str, str], read_timeout: float) -> RawStream:
    """`GET /services/{id}/logs` or `GET /tasks/{id}/logs`, streamed raw (the caller decodes the
    multiplexed frames: backends/swarm/logs.py)."""
    try:
        api = client.api()
        response = api._get(api._url(f"/{kind}/{{0}}/logs", ident), params=dict(params), stream=True,
                            timeout=(client.timeout, read_timeout))
    except Exception as exc:
        reason = client._transport_failure(exc)
        client.close()
        raise EngineError(0, f"cannot reach {client.endpoint.display}: {reason}") from None
    if response.status_code >= 400:
        raise EngineError(response.status_code, _engine_message(response))
    return RawStream(response)


def _engine_message(response: Any) -> str:
    """dockerd's `{"message": ...}` on one line, else the body as text."""
    try:
        message = str((response.json() or {}).get("message", "")) or response.text
    except ValueError:
        message = response.text
    return " ".join(message.split())
