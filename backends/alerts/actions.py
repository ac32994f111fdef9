"""Silences as plans: intent → the exact Alertmanager call, validated before anything is sent.

Pure functions (time and user are passed in), so validation and plan bodies are unit-tested.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from mlops_tui.backends.alerts.translate import format_time, matcher_text
from mlops_tui.backends.model import Alert, Silence
from mlops_tui.backends.plans import ActionPlan, ActionRefused, ExpireSilence, Mutation, Risk, SilenceAlert

MAX_SILENCE_SECONDS = 7 * 24 * 3600
"""The longest silence the TUI makes (a week); longer ones belong in config, reviewed."""

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def default_matchers(alert: Alert) -> tuple[tuple[str, str, bool], ...]:
    """The alert's identifying labels as equality matchers: silences exactly this alert."""
    return tuple((name, value, False) for name, value in alert.labels)


def silence_intent(
    alert: Alert,
    duration_seconds: int,
    comment: str,
    matchers: Sequence[tuple[str, str, bool]] | None = None,
) -> SilenceAlert:
    """What the silence dialog returns: the operator's matchers (default: the alert's labels)."""
    chosen = tuple(matchers) if matchers is not None else default_matchers(alert)
    return SilenceAlert(matchers=chosen, duration_seconds=int(duration_seconds), comment=comment)


def _matches_empty(value: str, is_regex: bool) -> bool:
    if not is_regex:
        return value == ""
    try:
        return re.fullmatch(value, "") is not None
    except re.error:
        return False


def validate_silence(intent: SilenceAlert, max_seconds: int = MAX_SILENCE_SECONDS) -> None:
    """Refuse, with the operator's words, what Alertmanager would refuse or what is unsafe."""
    if not intent.matchers:
        raise ActionRefused("a silence needs at least one matcher")
    for name, value, is_regex in intent.matchers:
        if not _LABEL_NAME.match(name or ""):
            raise ActionRefused(f"matcher label {name!r} is not a valid label name")
        if is_regex:
            try:
                re.compile(value)
            except re.error as exc:
                raise ActionRefused(f"matcher {name}=~{value!r} is not a valid regular expression: {exc}") from None
    if all(_matches_empty(value, rx) for _name, value, rx in intent.matchers):
        raise ActionRefused("at least one matcher must not match the empty string (it would silence everything)")
    if intent.duration_seconds <= 0:
        raise ActionRefused("the silence duration must be positive")
    if intent.duration_seconds > max_seconds:
        raise ActionRefused(
            f"the silence duration is capped at {_human(max_seconds)}; asked {_human(intent.duration_seconds)}"
        )
    if not intent.comment or not intent.comment.strip():
        raise ActionRefused("a silence needs a comment saying why (it is shown to everyone on call)")


def _human(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def alert_title(alert: Alert) -> str:
    where = ""
    if alert.service is not None:
        where = f" on {alert.service}"
    return f"alert {alert.name or '(unnamed)'}{where}"


def plan_silence(
    source: str,
    alert: Alert,
    intent: SilenceAlert,
    *,
    now: datetime,
    created_by: str,
    max_seconds: int = MAX_SILENCE_SECONDS,
) -> ActionPlan:
    validate_silence(intent, max_seconds)
    ends = now + timedelta(seconds=intent.duration_seconds)
    matchers = [
        {"name": name, "value": value, "isRegex": bool(rx), "isEqual": True} for name, value, rx in intent.matchers
    ]
    body = {
        "matchers": matchers,
        "startsAt": format_time(now),
        "endsAt": format_time(ends),
        "createdBy": created_by,
        "comment": intent.comment.strip(),
    }
    shown = matcher_text([(name, value, bool(rx), True) for name, value, rx in intent.matchers])
    state = "silenced" if alert.silenced_by else alert.state.value
    return ActionPlan(
        source=source,
        target=alert.service,
        target_name=alert_title(alert),
        intent=intent,
        mutations=(Mutation("POST", "/api/v2/silences", body, summary=f"silence {shown} until {body['endsAt']}"),),
        before={"state": state, "silence": ", ".join(alert.silenced_by) or "none"},
        after={"state": "silenced", "silence": f"{shown} until {body['endsAt']}"},
        risk=Risk.MEDIUM if any(rx for _n, _v, rx in intent.matchers) or len(intent.matchers) < 2 else Risk.LOW,
        user=created_by,
        context={"matchers": tuple(intent.matchers), "ends_at": body["endsAt"]},
    )


def plan_expire(source: str, intent: ExpireSilence, current: Silence | None, *, user: str = "") -> ActionPlan:
    silence_id = (intent.silence_id or "").strip()
    if not silence_id:
        raise ActionRefused("which silence? no silence id given")
    if current is None:
        raise ActionRefused(f"silence {silence_id} does not exist on {source}")
    shown = matcher_text(current.matchers)
    return ActionPlan(
        source=source,
        target=None,
        target_name=f"silence {shown}",
        intent=intent,
        mutations=(Mutation("DELETE", f"/api/v2/silence/{silence_id}", summary=f"expire silence {silence_id}"),),
        before={"silence": current.state},
        after={"silence": "expired"},
        user=user,
        noop=current.state == "expired",
        context={"silence_id": silence_id, "matchers": current.matchers},
    )
