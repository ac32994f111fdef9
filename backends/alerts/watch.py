"""Alert sources: Prometheus' own alerts and Alertmanager's, each polled in its own thread.

Both push `Change(alerts=...)`; the Fleet merges them (`correlate.merge_alerts`: the same alert
reported by both appears once, silenced beats firing) and ties them to services. The
`AlertmanagerBackend` is also an `ActionBackend`: silences are planned, applied and verified
through the Fleet, so read-only mode and the audit log hold for them as for scaling.
"""

from __future__ import annotations

import getpass
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import partial
from typing import Any

from mlops_tui.backends.alerts import actions
from mlops_tui.backends.alerts import translate as t
from mlops_tui.backends.alerts.client import AlertmanagerClient, HttpError, PrometheusAlertsClient
from mlops_tui.backends.base import Change, ChangeSink
from mlops_tui.backends.http_access import HttpAccess
from mlops_tui.backends.model import Alert, ClusterHealth, ClusterRef, Silence
from mlops_tui.backends.plans import (
    ActionConflict,
    ActionError,
    ActionForbidden,
    ActionInDoubt,
    ActionPlan,
    ActionRefused,
    ExpireSilence,
    Intent,
    SilenceAlert,
    VerifyResult,
)
from mlops_tui.backends.poller import Poller, describe_error

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "mlops-tui"


@dataclass(frozen=True)
class AlertOptions:
    refresh_seconds: float = 10.0
    timeout: float = 5.0
    connect_timeout: float = 2.0
    max_backoff: float = 60.0
    max_silence_seconds: int = actions.MAX_SILENCE_SECONDS
    created_by: str = ""
    """`createdBy` of silences; empty: 'mlops-tui:<OS user>'."""


class _PolledAlerts:
    """Shared polling: fetch, translate, push a whole `alerts` list, report health."""

    cluster: ClusterRef | None = None
    what = "alerts"

    def __init__(self, name: str, url: str, options: AlertOptions | None, refresh_seconds: float | None = None) -> None:
        self.name = name
        self.url = url
        self.options = options or AlertOptions()
        if refresh_seconds is not None:
            self.options = replace(self.options, refresh_seconds=float(refresh_seconds))
        self._sink: ChangeSink | None = None
        self.alerts: tuple[Alert, ...] = ()
        self.poller = Poller(
            name,
            self._poll,
            interval=self.options.refresh_seconds,
            on_health=self._health,
            endpoint=url,
            timeout=self.options.timeout,
            max_backoff=self.options.max_backoff,
            what=self.what,
        )

    def fetch(self) -> tuple[Alert, ...]:
        raise NotImplementedError

    def start(self, sink: ChangeSink) -> None:
        self._sink = sink
        self.poller.start()

    def stop(self) -> None:
        self.poller.stop()
        self._close()

    def wake(self) -> None:
        """Poll as soon as the current poll (if any) ends."""
        self.poller.wake()

    def _close(self) -> None:
        pass

    def refresh(self) -> Change:
        self.alerts = self.fetch()
        return Change(source=self.name, alerts=self.alerts)

    def _poll(self) -> None:
        change = self.refresh()
        if self._sink is not None and not self.poller.stopped:
            self._sink(change)

    def _health(self, health: ClusterHealth) -> None:
        if self._sink is not None and not self.poller.stopped:
            self._sink(Change(source=self.name, health=health))


class PrometheusAlertsSource(_PolledAlerts):
    """Firing and pending alerts from Prometheus `GET /api/v1/alerts`."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "prometheus-alerts",
        options: AlertOptions | None = None,
        refresh_seconds: float | None = None,
        access: HttpAccess | None = None,
    ) -> None:
        super().__init__(name, url, options, refresh_seconds)
        self._external: dict[str, str] | None = None
        self._polls_since_config = 0
        self.client = PrometheusAlertsClient(
            url, timeout=self.options.timeout, connect_timeout=self.options.connect_timeout, access=access
        )

    def fetch(self) -> tuple[Alert, ...]:
        body = self.client.alerts()
        return t.prometheus_alerts(body, self.name, self.external_labels())

    def external_labels(self) -> dict[str, str]:
        """Prometheus' external labels, read once and again every 50 polls (a config reload)."""
        self._polls_since_config += 1
        if self._external is None or self._polls_since_config >= 50:
            self._polls_since_config = 0
            try:
                self._external = t.external_labels(self.client.config())
            except HttpError:
                self._external = {}  # an endpoint this server does not have: no external labels
        return self._external

    def _close(self) -> None:
        self.client.close()


class AlertmanagerBackend(_PolledAlerts):
    """Alerts with their silenced/inhibited state from `GET /api/v2/alerts`, and silences."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "alertmanager",
        options: AlertOptions | None = None,
        clock: Callable[[], datetime] = _utcnow,
        refresh_seconds: float | None = None,
        client: AlertmanagerClient | None = None,
        access: HttpAccess | None = None,
    ) -> None:
        super().__init__(name, url, options, refresh_seconds)
        self.client = client or AlertmanagerClient(
            url, timeout=self.options.timeout, connect_timeout=self.options.connect_timeout, access=access
        )
        self._clock = clock
        self.created_by = self.options.created_by or f"mlops-tui:{_os_user()}"
        self._applied: dict[str, str] = {}
        self._applied_lock = threading.Lock()

    def fetch(self) -> tuple[Alert, ...]:
        return t.alertmanager_alerts(self.client.alerts(), self.name)

    def _close(self) -> None:
        self.client.close()

    # -- silences: reading ----------------------------------------------------------------------

    def list_silences(self, include_expired: bool = True) -> tuple[Silence, ...]:
        """Every silence Alertmanager holds: active first, then pending, then expired."""
        found = t.silences(self.client.silences())
        return found if include_expired else tuple(s for s in found if s.state != "expired")

    def get_silence(self, silence_id: str) -> Silence | None:
        try:
            return t.silence(self.client.silence(silence_id))
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise

    # -- ActionBackend --------------------------------------------------------------------------

    def plan(self, target: Any, intent: Intent) -> ActionPlan:
        """`SilenceAlert` on an `Alert` → POST /api/v2/silences; `ExpireSilence` → DELETE."""
        if isinstance(intent, SilenceAlert):
            if not isinstance(target, Alert):
                raise ActionRefused("a silence is made from an alert: select an alert first")
            return actions.plan_silence(
                self.name,
                target,
                intent,
                now=self._clock(),
                created_by=self.created_by,
                max_seconds=self.options.max_silence_seconds,
            )
        if isinstance(intent, ExpireSilence):
            try:
                current = self.get_silence(intent.silence_id) if intent.silence_id.strip() else None
            except Exception as exc:
                raise ActionError(
                    f"cannot read silence {intent.silence_id}: {describe_error(exc, self.options.timeout, self.url)}"
                ) from None
            plan = actions.plan_expire(self.name, intent, current, user=self.created_by)
            if isinstance(target, Alert) and target.service is not None:
                plan = replace(plan, target=target.service)
            return plan
        raise ActionRefused(f"{self.name} can only silence alerts and expire silences")

    def apply(self, plan: ActionPlan) -> None:
        try:
            for mutation in plan.mutations:
                if mutation.method == "POST" and mutation.path == "/api/v2/silences":
                    silence_id = self._send_once(plan, mutation.summary,
                                                 partial(self.client.post_silence, mutation.body),
                                                 probe=partial(self._silence_created, plan, mutation.body))
                    if not silence_id:
                        raise ActionError("Alertmanager accepted the silence but returned no id")
                    with self._applied_lock:
                        self._applied[plan.id] = silence_id
                elif mutation.method == "DELETE" and mutation.path.startswith("/api/v2/silence/"):
                    sid = mutation.path.rsplit("/", 1)[1]
                    self._send_once(plan, mutation.summary, partial(self.client.expire_silence, sid),
                                    probe=partial(self._silence_expired, sid))
                else:
                    raise ActionRefused(f"{self.name} does not send {mutation.method} {mutation.path}")
        except HttpError as exc:
            if exc.status in (401, 403):  # the credentials: name the URL whose settings to fix
                raise ActionForbidden(f"Alertmanager refused: {describe_error(exc, url=self.url)}") from None
            if exc.status == 404:
                raise ActionConflict(f"Alertmanager: {exc}", changed="the silence no longer exists") from None
            raise ActionError(f"Alertmanager refused: {exc}") from None
        except ActionError:
            raise
        except Exception as exc:
            reason = describe_error(exc, self.options.timeout, self.url)
            raise ActionError(f"Alertmanager unreachable: {reason}") from None
        finally:
            self.poller.wake()

    def _send_once(self, plan: ActionPlan, summary: str, send: Callable[[], Any],
                   probe: Callable[[], bool | None]) -> Any:
        """One call, never repeated: a lost answer (a read timeout, a reset after sending) is in doubt,
        and `probe` re-reads the silences rather than posting again (each POST makes a new silence)."""
        try:
            return send()
        except (HttpError, ActionError):
            raise
        except Exception as exc:
            if not answer_lost(exc):
                raise
            raise ActionInDoubt(f"{summary}: sent, but the answer was lost "
                                f"({describe_error(exc, self.options.timeout)})",
                                probe=probe, in_doubt=summary) from None

    def _silence_created(self, plan: ActionPlan, body: Any) -> bool | None:
        """Whether Alertmanager holds the silence a lost POST asked for: same matchers, comment, author
        and end (its own id for it is kept for verification). Unreadable: None."""
        try:
            found = t.silences(self.client.silences())
        except Exception:
            return None
        wanted = sorted((m["name"], m["value"], bool(m["isRegex"])) for m in body["matchers"])
        ends = datetime.fromisoformat(str(body["endsAt"]).replace("Z", "+00:00"))
        for silence in found:
            if (silence.state != "expired" and silence.created_by == body["createdBy"]
                    and silence.comment == body["comment"] and abs((silence.ends_at - ends).total_seconds()) < 1
                    and sorted((n, v, rx) for n, v, rx, _eq in silence.matchers) == wanted):
                with self._applied_lock:
                    self._applied[plan.id] = silence.id
                return True
        return False

    def _silence_expired(self, silence_id: str) -> bool | None:
        try:
            current = self.get_silence(silence_id)
        except Exception:
            return None
        return current is None or current.state == "expired"

    def silence_id_of(self, plan: ActionPlan) -> str:
        """The id Alertmanager gave the silence a plan created (after `apply`)."""
        if isinstance(plan.intent, ExpireSilence):
            return plan.intent.silence_id
        with self._applied_lock:
            return self._applied.get(plan.id, "")

    def verify(self, plan: ActionPlan, timeout: float, progress: Callable[[str], None]) -> VerifyResult:
        """Re-read the silence, then the alerts it matches, until both agree with the plan."""
        silence_id = self.silence_id_of(plan)
        expire = isinstance(plan.intent, ExpireSilence)
        want = "expired" if expire else "active"
        deadline = time.monotonic() + max(timeout, 0.0)
        detail = ""
        while True:
            try:
                current = self.get_silence(silence_id) if silence_id else None
                state = current.state if current else "missing"
                filters = [f'{n}{"=~" if rx else "="}"{_q(v)}"' for n, v, rx, *_ in plan.context.get("matchers", ())]
                alerts = t.alertmanager_alerts(self.client.alerts(filters), self.name) if filters else ()
                if expire:
                    muted = [a for a in alerts if silence_id in a.silenced_by]
                    ok = state == want and not muted
                    detail = (
                        f"silence {silence_id} {state}; {len(alerts)} matching alert(s), "
                        f"{len(muted)} still silenced by it"
                    )
                else:
                    muted = [a for a in alerts if silence_id in a.silenced_by]
                    ok = state == want and len(muted) == len(alerts)
                    detail = f"silence {silence_id} {state}; {len(muted)}/{len(alerts)} matching alert(s) silenced"
                progress(detail)
                if ok:
                    self.poller.wake()
                    after = {
                        "state": "silenced" if not expire else (alerts[0].state.value if alerts else "no alert"),
                        "silence": state,
                    }
                    if not expire:
                        after["silence"] = f"{state} ({silence_id})"
                    return VerifyResult(True, detail, after=_same_keys(plan, after))
            except Exception as exc:
                detail = f"could not re-read: {describe_error(exc, self.options.timeout)}"
                progress(detail)
            if time.monotonic() >= deadline:
                return VerifyResult(False, detail)
            time.sleep(0.2)


def answer_lost(exc: BaseException) -> bool:
    """A request that may have reached Alertmanager: a read timeout, or a connection dropped after it
    was made. A connect timeout or a refused connection sent nothing."""
    import requests  # the client's transport; imported here to keep the module's imports light

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        return not ("NewConnectionError" in text or "Connection refused" in text or "NameResolution" in text)
    return False


def _same_keys(plan: ActionPlan, after: dict[str, str]) -> dict[str, str]:
    return {k: after.get(k, "") for k in plan.after} if plan.after else after


def _q(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
