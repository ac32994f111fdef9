"""The audit log: one JSON line per action, appended and flushed to disk before the result is shown.

The Fleet builds the record (backends/fleet.py `audit_record`: no request bodies, tokens or
environment values); this module only stores and reads it.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from mlops_tui.tui.format import plain


class AuditLog:
    """Append-only JSON-lines file, safe to call from worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: Mapping[str, Any]) -> None:
        line = orjson.dumps(dict(record), option=orjson.OPT_SORT_KEYS) + b"\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def last(self, count: int) -> list[dict[str, Any]]:
        """The newest `count` records, oldest first. Unreadable lines are reported, not hidden."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            lines = deque(handle, maxlen=count)
        records = []
        for line in lines:
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                records.append({"result": "unreadable", "detail": line[:200].decode("utf-8", "replace")})
        return records


def format_record(record: Mapping[str, Any]) -> str:
    before = ", ".join(f"{k}={v}" for k, v in (record.get("before") or {}).items())
    after = ", ".join(f"{k}={v}" for k, v in (record.get("after") or record.get("planned") or {}).items())
    line = (
        f"{record.get('time', '?')}  {record.get('operator', '?')}  {record.get('cluster', '?')}  "
        f"{record.get('target', '?')}  {record.get('intent', record.get('action', '?'))}  "
        f"[{before}] -> [{after}]  {record.get('result', '?')}"
    )
    if record.get("error"):
        line += f": {record['error']}"
    return plain(line)
