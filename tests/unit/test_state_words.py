"""The README's promise that no state is told by colour alone: every state the panes draw carries a
glyph and a word, and two states painted differently never read the same."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone

from mlops_tui.backends.model import (
    ClusterHealth,
    GpuNode,
    GpuResource,
    HealthState,
    LatencySeries,
    ServiceKind,
    Slo,
    SloSource,
)
from mlops_tui.tui.format import ALERT_STATE, SEVERITY_WORD, gpu_cells, health_text, row_state, service_state
from tests.fakes import service

GLYPH_AND_WORD = re.compile(r"^[^\sA-Za-z0-9]+ [a-z][\w-]*")
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)


def drawn_states() -> list[tuple[str, str]]:
    """(text, semantic style) of every state a service, GPU node, alert and source can be in."""
    base = service("model", kind=ServiceKind.DEPLOYMENT, desired=3, ready=3)
    services = [base, replace(base, desired=0), replace(base, ready=0), replace(base, ready=1),
                replace(base, updated=1)]
    services += [replace(base, rollout_state=s) for s in
                 ("rollback_started", "rollback_paused", "paused", "degraded", "aborted")]
    states = [service_state(s) for s in services]
    over_slo = LatencySeries(base.key, p95=((0.0, 0.9),), slo=Slo(0.5, SloSource.ALERT_RULE, "HighInferenceLatency"))
    states.append(row_state(base, latency=over_slo))

    def node(**kw) -> GpuNode:
        return GpuNode("c", "n", resources=(GpuResource("nvidia.com/gpu", 4, 4, kw.pop("allocated", 1)),), **kw)

    for gpu in (node(), node(ready=False), node(schedulable=False), node(allocated=4)):
        cell = gpu_cells(gpu, style_for=lambda semantic: semantic)[0]
        states.append((cell.plain, str(cell.style)))
    states += [(text, semantic) for text, semantic in ALERT_STATE.values()]
    states += [(text, f"severity-{level.name}") for level, text in SEVERITY_WORD.items()]
    for state in HealthState:
        text, semantic = health_text(ClusterHealth("prod", None, state, since=NOW), NOW)
        states.append((text.replace(" prod ", " ", 1), semantic))
    return states


def test_every_state_carries_a_glyph_and_a_word():
    for text, _semantic in drawn_states():
        assert GLYPH_AND_WORD.match(text), text


def test_two_states_painted_differently_never_read_the_same():
    seen: dict[str, str] = {}
    for text, semantic in drawn_states():
        words = re.sub(r"\s+\d.*$", "", text)  # an age after the word is not part of the state
        assert seen.setdefault(words, semantic) == semantic, f"{words!r} is both {seen[words]} and {semantic}"
    assert {"● ok", "✖ down", "▲ degraded", "◉ firing", "✖ notready", "▲ over SLO"} <= set(seen)


def test_a_source_that_sent_objects_it_could_not_read_says_how_many_beside_its_state():
    health = ClusterHealth("swarm-prod", None, HealthState.CONNECTED, since=NOW, unreadable=2)
    assert health_text(health, NOW)[0] == "● swarm-prod connected · 2 objects unreadable"
    assert "unreadable" not in health_text(replace(health, unreadable=0), NOW)[0]


def test_a_canary_rolling_out_while_its_latency_alert_fires_reads_the_alert_not_rolling():
    from mlops_tui.backends.model import Alert, AlertState, Severity, freeze_labels
    from mlops_tui.tui.format import row_state

    def alert(severity: Severity) -> Alert:
        return Alert("HighInferenceLatency", severity, AlertState.FIRING,
                     freeze_labels({"alertname": "HighInferenceLatency", "severity": severity.name.lower()}), since=NOW)

    rolling = service("rent-predictor-canary", desired=3, ready=3, updated=1)
    assert row_state(rolling)[0] == "◐ rolling"
    assert row_state(rolling, (alert(Severity.WARNING),))[0] == "▲ 1 warning"
    assert row_state(rolling, (alert(Severity.CRITICAL),))[0] == "✖ 1 critical"
    # A workload in worse or equal trouble keeps its own word; the ALERTS column still counts the alert.
    down = service("rent-predictor-canary", desired=3, ready=0)
    assert row_state(down, (alert(Severity.WARNING),))[0] == "✖ down"
    paused = replace(rolling, rollout_state="paused")
    assert row_state(paused, (alert(Severity.WARNING),))[0] == "▲ paused"
    assert row_state(paused, (alert(Severity.CRITICAL),))[0] == "✖ 1 critical"
