"""The audit log: JSON lines, appended and flushed to disk: an action's intent before its first call
(write-ahead), an 'unknown' line when a call's answer was lost, and its result before it is shown.

The Fleet builds the records (backends/fleet.py `intent_record`, `audit_record`: no request bodies,
tokens or environment values); this module stores, checks and reads them. Lines of one action share
its `id`; an intent with no later line means the app stopped between sending and recording the result.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_tui.tui.format import plain

if TYPE_CHECKING:
    from mlops_tui.backends.timeline import TimelineEntry


class AuditLog:
    """Append-only JSON-lines file, safe to call from worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: Mapping[str, Any]) -> None:
        import orjson  # not at import: the CLI checks the log (`problem`) before the first frame

        line = orjson.dumps(dict(record), option=orjson.OPT_SORT_KEYS) + b"\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def problem(self) -> str:
        """Why records cannot be appended here ('' when they can): proven by opening the file for
        appending (created if absent), as every record will be, without writing anything."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.close(fd)
        except OSError as exc:
            return f"the audit log {self.path} is not writable ({exc.strerror or exc}): actions are disabled"
        return ""

    def last(self, count: int) -> list[dict[str, Any]]:
        """The newest `count` records, oldest first. Unreadable lines are reported, not hidden."""
        import orjson

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


NOT_RECORDED = "sent, result not recorded (the app stopped before it knew)"
"""How an intent with no later line reads: its calls may have landed; look at the engine."""


def readable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per action for people: the result where there is one (noting an answer that was lost
    and resolved by re-reading); an intent alone reads 'sent, result not recorded'."""
    phases: dict[str, list[str]] = {}
    for record in records:
        if record.get("id"):
            phases.setdefault(str(record["id"]), []).append(str(record.get("phase", "")))
    shown = []
    for record in records:
        seen = phases.get(str(record.get("id", "")), [])
        phase = record.get("phase", "result")
        if phase in ("intent", "unknown") and len(seen) > seen.index(phase) + 1:
            continue  # a later line of the same action says more
        if phase == "intent":
            record = {**record, "result": NOT_RECORDED}
        elif phase == "unknown":
            record = {**record, "result": "unknown (answer lost; no resolution recorded)",
                      "error": record.get("detail")}
        elif "unknown" in seen:
            record = {**record, "result": f"{record.get('result', '?')} (answer lost, resolved by re-reading)"}
        shown.append(record)
    return shown


TIMELINE_RECORDS = 2000
"""Audit lines read into the timeline at start-up (the newest; the file itself is never trimmed)."""


def timeline_entries(records: list[dict[str, Any]]) -> list[TimelineEntry]:
    """This operator's past actions for the timeline, one entry per action, dated when it finished."""
    from mlops_tui.backends.timeline import action_entry  # the audit log is checked before the first frame

    out = []
    for record in readable(records):
        try:
            at = datetime.fromisoformat(str(record.get("time", "")).replace("Z", "+00:00"))
        except ValueError:
            continue
        if at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        entry = action_entry({**record, "result": str(record.get("result", "")).split(" (")[0]}, at)
        if entry is not None:
            out.append(entry)
    return out


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
    if record.get("landed") or record.get("not_landed"):
        line += (f"  landed: {'; '.join(record.get('landed') or []) or 'none'}"
                 f"  not landed: {'; '.join(record.get('not_landed') or []) or 'none'}")
    if record.get("result") == NOT_RECORDED and record.get("calls"):
        line += f"  calls: {'; '.join(record['calls'])}"
    return plain(line)
