"""Alerts: Prometheus' firing/pending alerts and Alertmanager's (with silences as actions).

`translate.py` (pure JSON → `Alert`/`Silence`), `actions.py` (silence intents → validated plans),
`client.py` (HTTP with explicit timeouts), `watch.py` (`PrometheusAlertsSource`,
`AlertmanagerBackend`). Import `backends.alerts.watch` lazily: it pulls in requests.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_tui.backends.alerts.watch import AlertmanagerBackend, AlertOptions, PrometheusAlertsSource

__all__ = ["AlertOptions", "AlertmanagerBackend", "PrometheusAlertsSource"]


def __getattr__(name: str) -> Any:
    # Lazy: `import backends.alerts` stays cheap; requests comes with the first use.
    if name in __all__:
        from mlops_tui.backends.alerts import watch

        return getattr(watch, name)
    raise AttributeError(name)
