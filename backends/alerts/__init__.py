"""Alerts: Prometheus' firing/pending alerts and Alertmanager's (with silences as actions).

`translate.py` (pure JSON → `Alert`/`Silence`), `actions.py` (silence intents → validated plans),
`client.py` (HTTP with explicit timeouts), `watch.py` (`PrometheusAlertsSource`,
`AlertmanagerBackend`). Import `backends.alerts.watch` lazily: it pulls in requests.
"""
