"""`mlops-tui timeline --since 1h [--service NAME] [--json | --markdown]`: the incident timeline for
a postmortem, read as `status` reads the fleet (the same sources, within the same hard `--timeout`).

What it can show is what the engines keep (Kubernetes Events for about an hour, alert starts, Swarm's
task history and UpdateStatus) and this operator's audit log: changes no engine dates (a canary
weight, a revision) are seen only by a running app.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from mlops_tui.backends.timeline import TimelineEntry, TimelineFilter
from mlops_tui.tui.config import Settings
from mlops_tui.tui.empty import NOTHING_CONFIGURED, how_to_start
from mlops_tui.tui.format import plain

SCHEMA_VERSION = 1
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> timedelta:
    """'90s', '15m', '1h', '2d' -> the span back from now. Raises ValueError on anything else."""
    match = _SPAN.match(text or "")
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"not a span of time: {text!r} (try 30m, 1h, 2d)")
    return timedelta(seconds=float(match.group(1)) * _UNIT[match.group(2)])


def entry_document(entry: TimelineEntry) -> dict[str, Any]:
    key = entry.service
    return {
        "time": entry.at.astimezone(timezone.utc).isoformat(),
        "cluster": entry.cluster,
        "object": {"kind": entry.kind, "namespace": entry.namespace, "name": entry.name},
        "service": None if key is None else {"cluster": key.cluster, "namespace": key.namespace,
                                             "kind": key.kind.value, "name": key.name},
        "what": entry.what,
        "source": entry.source.value,
        "severity": entry.severity.name.lower(),
    }


def timeline_document(entries: tuple[TimelineEntry, ...], since: datetime, problems: list[str],
                      now: datetime) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "generated_at": now.astimezone(timezone.utc).isoformat(),
            "since": since.astimezone(timezone.utc).isoformat(), "entries": [entry_document(e) for e in entries],
            "problems": list(problems)}


def _stamp(entry: TimelineEntry) -> str:
    return entry.at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def text_lines(entries: tuple[TimelineEntry, ...]) -> list[str]:
    """Oldest first, as a postmortem reads: time (UTC), cluster, object, what happened."""
    return [plain(f"{_stamp(e)}Z  {e.severity.name[:4]:<4}  {e.cluster}  {e.object}  {e.what}") for e in entries]


def _cell(text: str) -> str:
    return plain(text).replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")


def markdown_lines(entries: tuple[TimelineEntry, ...], since: datetime) -> list[str]:
    lines = [f"## Timeline since {since.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}Z", "",
             "| time (UTC) | cluster | object | what happened | kind |", "|---|---|---|---|---|"]
    lines += [f"| {_stamp(e)} | {_cell(e.cluster)} | {_cell(e.object)} | {_cell(e.what)} | {e.source.value} |"
              for e in entries]
    return lines


def run_timeline(settings: Settings, *, since: timedelta, service: str, output: str, timeout: float,
                 now: datetime | None = None) -> int:
    from mlops_tui.tui.status import collect_timeline

    _, problems, entries = collect_timeline(settings, timeout)
    now = now or datetime.now(timezone.utc)
    start = now - since
    shown = tuple(e for e in entries if TimelineFilter(service=service, since=start).matches(e))
    if output == "json":
        document = timeline_document(shown, start, problems, now)
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        lines = markdown_lines(shown, start) if output == "markdown" else text_lines(shown)
        if not shown and output != "markdown":
            lines = [f"nothing recorded since {start.astimezone(timezone.utc):%H:%M:%S}Z"
                     + (f" for {plain(service)}" if service else "")]
        print("\n".join(lines))
        for problem in problems:
            if problem == NOTHING_CONFIGURED:
                print(f"mlops-tui: {how_to_start()}", file=sys.stderr)
            else:
                print(f"mlops-tui: cannot read {plain(problem)}", file=sys.stderr)
    return 1 if problems else 0
