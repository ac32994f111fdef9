"""Alert API JSON → domain model. Pure functions, tested on recorded responses.

Prometheus `/api/v1/alerts` knows firing and pending; Alertmanager `/api/v2/alerts` knows which
alerts are silenced or inhibited: both show `state: suppressed`, told apart by which of
`silencedBy` / `inhibitedBy` is non-empty (Alertmanager API v2, `api/v2/openapi.yaml`: `alertStatus`;
Prometheus HTTP API docs, `docs/querying/api.md`: "Alerts").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from mlops_tui.backends.model import Alert, AlertState, Severity, Silence, freeze_labels

_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


def parse_time(text: Any) -> datetime | None:
    """RFC 3339 with up to nanoseconds (Go's format) → aware UTC datetime; None when empty/zero/not text."""
    if not text or not isinstance(text, str):
        return None
    match = _TIME.match(text.strip())
    if not match:
        return None
    base, fraction, zone = match.groups()
    micro = (fraction or "0")[:6].ljust(6, "0")
    offset = "+00:00" if zone in (None, "Z") else zone
    try:
        when = datetime.fromisoformat(f"{base}.{micro}{offset}").astimezone(timezone.utc)
    except ValueError:
        return None
    return None if when.year <= 1 else when


def format_time(when: datetime) -> str:
    """Aware datetime → RFC 3339 UTC with milliseconds, as Alertmanager accepts it."""
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _annotations(item: Mapping) -> tuple[str, str]:
    notes = _mapping(item.get("annotations"))
    summary = notes.get("summary") or notes.get("message") or notes.get("title") or ""
    description = notes.get("description") or ""
    return str(summary), str(description)


def external_labels(config_body: Mapping) -> dict[str, str]:
    """`global.external_labels` from `GET /api/v1/status/config` (its YAML text), or {}."""
    text = ((config_body or {}).get("data") or {}).get("yaml", "")
    if not text:
        return {}
    try:
        import yaml  # PyYAML comes with the kubernetes client

        config = yaml.safe_load(text) or {}
    except Exception:
        return {}
    labels = (config.get("global") or {}).get("external_labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def _mapping(value: Any) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def _readable(items: Any, what: str) -> list:
    """The list an answer carries; a ValueError (the source's error) when the answer has none."""
    if not isinstance(items, list):
        raise ValueError(f"{what}: unreadable answer (expected a list, got {type(items).__name__})")
    return items


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _label_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in _mapping(value).items()}


def _alert(item: Mapping, labels: dict[str, str], state: AlertState, source: str, *, since: Any, **extra: Any) -> Alert:
    """One `Alert` from either API's item: name and severity from its labels, text from its annotations."""
    summary, description = _annotations(item)
    return Alert(
        name=labels.get("alertname", ""),
        severity=Severity.parse(labels.get("severity")),
        state=state,
        labels=freeze_labels(labels),
        summary=summary,
        description=description,
        since=parse_time(since),
        source=source,
        **extra,
    )


def prometheus_alerts(
    body: Mapping | Sequence, source: str, external: Mapping[str, str] | None = None
) -> tuple[Alert, ...]:
    """`GET /api/v1/alerts` → firing and pending alerts (inactive ones are skipped).

    `external` are Prometheus' external labels: it adds them to the alerts it sends to
    Alertmanager (not to this endpoint), so adding them here makes both reports of one alert
    carry the same labels and merge into one."""
    if isinstance(body, Mapping):
        if body.get("status") not in (None, "success"):
            raise ValueError(f"prometheus: {body.get('error', 'error')}")
        items = _readable(_mapping(body.get("data")).get("alerts", []), "prometheus")
    else:
        items = _readable(body, "prometheus")
    out = []
    for item in items:
        if not isinstance(item, Mapping):
            continue  # one unreadable alert is skipped, never the others
        state_text = str(item.get("state", "")).lower()
        if state_text == "firing":
            state = AlertState.FIRING
        elif state_text == "pending":
            state = AlertState.PENDING
        else:
            continue
        labels = {**(external or {}), **_label_map(item.get("labels"))}
        out.append(_alert(item, labels, state, source, since=item.get("activeAt"), value=str(item.get("value", ""))))
    return tuple(out)


def alertmanager_alerts(body: Sequence[Mapping], source: str) -> tuple[Alert, ...]:
    """`GET /api/v2/alerts` → alerts with their silenced/inhibited state and fingerprint."""
    out = []
    for item in _readable(body, "alertmanager"):
        if not isinstance(item, Mapping):
            continue  # one unreadable alert is skipped, never the others
        status = _mapping(item.get("status"))
        silenced = tuple(str(s) for s in _list(status.get("silencedBy")))
        inhibited = tuple(str(s) for s in _list(status.get("inhibitedBy")))
        state_text = str(status.get("state", "active")).lower()
        if silenced:
            state = AlertState.SILENCED
        elif inhibited:
            state = AlertState.INHIBITED
        elif state_text == "suppressed":
            state = AlertState.SILENCED  # suppressed without a reason given: muted all the same
        else:
            state = AlertState.FIRING  # active or unprocessed: it is firing at the source
        labels = _label_map(item.get("labels"))
        out.append(_alert(item, labels, state, source, since=item.get("startsAt"),
                          fingerprint=str(item.get("fingerprint", "")), silenced_by=silenced, inhibited_by=inhibited))
    return tuple(out)


_SILENCE_ORDER = {"active": 0, "pending": 1, "expired": 2}


def silence(item: Mapping) -> Silence:
    return Silence(
        id=str(item.get("id", "")),
        matchers=tuple(
            (
                str(m.get("name", "")),
                str(m.get("value", "")),
                bool(m.get("isRegex", False)),
                bool(m.get("isEqual", True)),
            )
            for m in _list(item.get("matchers")) if isinstance(m, Mapping)
        ),
        starts_at=parse_time(item.get("startsAt")) or datetime.fromtimestamp(0, timezone.utc),
        ends_at=parse_time(item.get("endsAt")) or datetime.fromtimestamp(0, timezone.utc),
        created_by=str(item.get("createdBy", "")),
        comment=str(item.get("comment", "")),
        state=str(_mapping(item.get("status")).get("state", "")),
    )


def silences(body: Sequence[Mapping]) -> tuple[Silence, ...]:
    """`GET /api/v2/silences` → active first, then pending, then expired; newest end first."""
    out = [silence(item) for item in _readable(body, "alertmanager") if isinstance(item, Mapping)]
    out.sort(key=lambda s: (_SILENCE_ORDER.get(s.state, 3), -s.ends_at.timestamp(), s.id))
    return tuple(out)


def matcher_text(matchers: Sequence[tuple[str, str, bool, bool]]) -> str:
    """{a="x", b=~"y"} as amtool prints it."""
    ops = {(False, True): "=", (True, True): "=~", (False, False): "!=", (True, False): "!~"}
    return "{" + ", ".join(f'{n}{ops[(bool(rx), bool(eq))]}"{v}"' for n, v, rx, eq in matchers) + "}"
