"""Swarm service logs with `docker service logs` semantics (cli/command/service/logs.go): every task,
each line prefixed `service.slot.taskid@node` (the task id cut to 12 characters), from
`GET /services/{id}/logs?details=true` whose attributes name the task, or one task's
`GET /tasks/{id}/logs`.

The engine sends the multiplexed stream format (pkg/stdcopy): frames of an 8-byte header (stream
type 0 stdin / 1 stdout / 2 stderr, three zero bytes, a big-endian uint32 length) and the payload. A
service with a TTY sends raw bytes instead (no header), recognised by a header that is not one.
"""

from __future__ import annotations

import contextlib
import struct
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from mlops_tui.backends.backoff import Backoff
from mlops_tui.backends.model import LogLine, LogOptions
from mlops_tui.backends.swarm.client import EngineClient, EngineError, RawStream, open_logs
from mlops_tui.backends.swarm.translate import task_name

HEADER = struct.Struct(">BxxxL")
READ_TIMEOUT = 300.0


def frames(read: Callable[[int], bytes]) -> Iterator[tuple[int, bytes]]:
    """(stream, payload) of each frame until the end; a stream that is not multiplexed (a TTY
    service) comes out as stream 1 chunks."""
    header = _read_exactly(read, HEADER.size)
    if not header:
        return
    if header[0] > 2 or header[1:4] != b"\0\0\0":
        yield 1, header
        while chunk := read(65536):
            yield 1, chunk
        return
    while header:
        if len(header) < HEADER.size:
            return  # cut mid-header: the engine went away
        stream, size = HEADER.unpack(header)
        payload = _read_exactly(read, size)
        yield stream, payload
        if len(payload) < size:
            return
        header = _read_exactly(read, HEADER.size)


def _read_exactly(read: Callable[[int], bytes], n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = read(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def lines(read: Callable[[int], bytes]) -> Iterator[str]:
    """Whole lines of every frame, a line split over frames joined (each stream kept apart)."""
    pending: dict[int, bytes] = {}
    for stream, payload in frames(read):
        data = pending.pop(stream, b"") + payload
        *complete, rest = data.split(b"\n")
        if rest:
            pending[stream] = rest
        for line in complete:
            yield line.decode("utf-8", "replace")
    for rest in pending.values():
        yield rest.decode("utf-8", "replace")


def parse_line(raw: str, timestamps: bool, details: bool) -> tuple[datetime | None, dict[str, str], str]:
    """`[time ]`[k=v,k=v ]`text` as write_log_stream.go builds a line (time first, then details)."""
    moment = None
    if timestamps:
        stamp, _, raw = raw.partition(" ")
        base, _, frac = stamp.rstrip("Z").partition(".")
        try:
            moment = datetime.fromisoformat(f"{base}.{(frac + '000000')[:6]}").replace(tzinfo=timezone.utc)
        except ValueError:
            moment = None
    attrs: dict[str, str] = {}
    if details:
        head, _, text = raw.partition(" ")
        pairs = [pair.partition("=") for pair in head.split(",")]
        if all(sep for _, sep, _ in pairs):
            from urllib.parse import unquote

            attrs, raw = {k: unquote(v) for k, _, v in pairs}, text
    return moment, attrs, raw


class TaskNames:
    """Task id → `service.slot.taskid@node`, read from the engine when a task is new to it."""

    def __init__(self, client: EngineClient, service: Mapping[str, Any]) -> None:
        self.client, self.service = client, service
        self.names: dict[str, str] = {}

    def refresh(self) -> None:
        spec = service_spec(self.service)
        hostnames = {str(n.get("ID", "")): str((n.get("Description") or {}).get("Hostname", ""))
                     for n in self.client.nodes()}
        for task in self.client.task_history(str(self.service.get("ID", ""))):
            tid = str(task.get("ID", ""))
            node = hostnames.get(str(task.get("NodeID", "")), str(task.get("NodeID", "")))
            self.names[tid] = f"{task_name(str(spec.get('Name', '')), task)}.{tid[:12]}@{node}"

    def name(self, task_id: str) -> str:
        if task_id not in self.names:
            with contextlib.suppress(EngineError):
                self.refresh()
            self.names.setdefault(task_id, task_id[:12])
        return self.names[task_id]

    def replicas(self) -> tuple[str, ...]:
        return tuple(sorted(self.names.values()))


def service_spec(service: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = service.get("Spec")
    return spec if isinstance(spec, Mapping) else {}


def query(options: LogOptions, since: float | None) -> dict[str, str]:
    params = {"stdout": "true", "stderr": "true", "timestamps": "true", "details": "true",
              "follow": "true" if options.follow else "false"}
    if since is not None:
        params["since"] = f"{since:.9f}"
    elif options.since_seconds is not None:
        params["since"] = str(int(datetime.now(timezone.utc).timestamp()) - options.since_seconds)
    if since is None and options.tail_lines is not None:
        params["tail"] = str(options.tail_lines)
    return params


def stream_service(client: EngineClient, ref: str, options: LogOptions, on_line: Callable[[LogLine], None],
                   on_status: Callable[[str], None], stop: threading.Event, task_ids: Sequence[str] = ()) -> None:
    """Follow the service's (or one task's) logs until stopped; the engine gone mid-stream is said and
    the stream reopened with backoff from the last line's time (lines already shown are skipped)."""
    backoff = Backoff(base=1.0, cap=30.0)
    last: datetime | None = None
    current: list[RawStream] = []

    def closer() -> None:
        stop.wait()
        for raw in list(current):
            raw.close()

    threading.Thread(target=closer, name="swarm logs closer", daemon=True).start()
    while not stop.is_set():
        try:
            service = client.service(ref)
            names = TaskNames(client, service)
            names.refresh()
            kind, ident = ("tasks", task_ids[0]) if task_ids else ("services", str(service.get("ID", "")))
            raw = open_logs(client, kind, ident, query(options, last.timestamp() if last else None), READ_TIMEOUT)
            current[:] = [raw]
            if stop.is_set():
                raw.close()
                return
            on_status("")
            backoff.reset()
            for text in lines(raw.read):
                moment, attrs, body = parse_line(text, timestamps=True, details=True)
                if last is not None and moment is not None and moment <= last:
                    continue
                last = moment or last
                on_line(LogLine(names.name(attrs.get("com.docker.swarm.task.id", "")), body, moment))
            if not options.follow:
                return
            if not stop.is_set():
                on_status("the engine ended the log stream; reconnecting")
        except EngineError as exc:
            if stop.is_set():
                return
            on_status(f"{exc.message or 'engine error'} ({exc.status}); reconnecting" if exc.status
                      else f"{exc.message}; reconnecting")
        except Exception as exc:  # the connection dropped mid-read (requests/urllib3 errors)
            if stop.is_set():
                return
            on_status(f"the engine went away mid-stream ({type(exc).__name__}); reconnecting")
        if stop.wait(backoff.next()):
            return
