"""Model → cells: pure presentation, no widgets, no colours.

Every string that came from a cluster goes through `plain()`: it is shown as literal text, with
control characters (terminal escapes included) made visible, and it is never parsed as markup.
States are told by a glyph *and* a word; the colour is a semantic name (`healthy`, `down`...) that
the pane turns into a style from the theme.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text

from mlops_tui.backends.vocabulary import SLO_ANNOTATION, AlertState, HealthState, Severity, short_resource_name

if TYPE_CHECKING:
    from mlops_tui.backends.gpu_groups import PendingGroup
    from mlops_tui.backends.model import Alert, ClusterHealth, GpuNode, LatencySeries, ModelService

StyleFor = Callable[[str], Style | str]
"""Semantic name ('healthy', 'degraded', 'down', 'unknown', 'canary', ...) → a style."""

_CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f]|"
    # Unicode's invisible format characters and line/paragraph separators (categories Cf, Zl, Zp,
    # Unicode 14): a bidi override (U+202E) would reverse the rest of the line on screen, a zero-width
    # space would make two names that differ look the same. tests/unit/test_plain_text.py checks the list
    # against unicodedata.
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)


def plain(value: object) -> str:
    """Text safe for a terminal: control characters (ESC, CR, BEL, C1...) become visible \\xNN, and
    invisible format characters (bidi overrides, zero-width spaces) \\uNNNN."""
    text = "" if value is None else str(value)
    return _CONTROL.sub(_visible, text)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def literal(value: object, style: Style | str = "") -> Text:
    """A cell that shows exactly what the cluster sent: no markup, no escapes interpreted."""
    return Text(plain(value), style=style, no_wrap=True, overflow="ellipsis")


def literal_lines(lines: list[str], style: Style | str = "") -> Text:
    """Several literal lines (each made safe on its own), joined by real line breaks."""
    return Text("\n").join(Text(plain(line), style=style) for line in lines)


def no_style(_name: str) -> str:
    return ""


def age(seconds: float | None) -> str:
    """Compact kubectl-style age: 45s, 12m, 3h, 5d."""
    if seconds is None:
        return "-"
    s = max(int(seconds), 0)
    if s < 120:
        return f"{s}s"
    if s < 2 * 3600:
        return f"{s // 60}m"
    if s < 2 * 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def since(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return age((now - moment).total_seconds())


# -- services ----------------------------------------------------------------------------------

SERVICE_COLUMNS = (
    # The columns an operator decides with come first (and are the ones kept at 80 columns, elided
    # rather than dropped: `DECISION_COLUMNS`); the others follow where there is room, or in wide mode.
    ("state", "STATE", 12),  # fixed: a service going "▲ degraded" far below must not shift every column
    ("name", "NAME"),
    ("cluster", "CLUSTER"),
    ("ready", "READY"),
    ("version", "VERSION"),
    ("canary", "CANARY"),
    ("alerts", "ALERTS"),
    ("bluegreen", "BLUE/GREEN"),
    ("namespace", "NS/STACK"),
    ("kind", "KIND"),
    ("autoscaler", "AUTOSCALER"),
    ("gpus", "GPU"),
    ("action", "LAST ACTION"),
)
DECISION_COLUMNS = frozenset({"state", "name", "cluster", "ready", "version", "canary", "alerts"})

SERVICE_COLUMN = {key: index for index, (key, *_rest) in enumerate(SERVICE_COLUMNS)}
"""Column key → position, for code and tests that read one cell."""

KIND_SHORT = {"Deployment": "deploy", "Rollout": "rollout", "InferenceService": "isvc", "SwarmService": "swarm"}


def service_state(service: ModelService) -> tuple[str, str]:
    """(glyph and word, semantic) for a service's overall state."""
    words = {"rollback_started": "◐ rollback", "rollback_paused": "▲ rb-paused", "paused": "▲ paused",
             "degraded": "▲ degraded", "aborted": "✖ aborted"}
    if service.rollout_state in words:
        return words[service.rollout_state], "down" if service.rollout_state == "aborted" else "degraded"
    if service.desired == 0:
        return "○ zero", "unknown"
    if service.ready == 0:
        return "✖ down", "down"
    if service.ready < service.desired:
        return "▲ degraded", "degraded"
    if service.progressing:
        return "◐ rolling", "degraded"
    return "● ok", "healthy"


def row_state(service: ModelService, firing: Sequence[Alert] = (), health: ClusterHealth | None = None,
              latency: LatencySeries | None = None) -> tuple[str, str]:
    """(glyph and word, semantic) for a service's row: its workload's state, folded with what concerns
    it. A cluster whose data is stale or unreadable says so first (what the row shows may be old).
    Firing alerts (their count and worst severity), else a p95 over the service's known SLO
    (`▲ over SLO`), replace a workload state that is less bad: `● ok` or `◐ rolling` never stands
    beside a firing alert or a breached SLO (a canary rolling out while its latency alert fires reads
    the alert); a workload that is down or paused keeps its own word (the ALERTS column still counts).
    An unknown SLO is never breached."""
    if health is not None and health.state in (HealthState.STALE, HealthState.ERROR):
        return "◌ stale", "unknown"
    word, semantic = service_state(service)
    rank = trouble_rank(word)
    firing = [a for a in firing if a.state is AlertState.FIRING]
    if firing:
        worst = max(a.severity for a in firing)
        if worst >= Severity.CRITICAL:
            folded = f"✖ {len(firing)} critical", "down"
        elif worst >= Severity.WARNING:
            folded = f"▲ {len(firing)} warning", "degraded"
        else:
            folded = f"▲ {len(firing)} alert{'s' if len(firing) > 1 else ''}", "degraded"
        if trouble_rank(folded[0]) < rank:
            return folded
    if latency is not None and latency.breached and trouble_rank("▲") < rank:
        return "▲ over SLO", "degraded"
    return word, semantic


TROUBLE_NONE = 3


def trouble_rank(state_word: str) -> int:
    """How bad a row's state is, worst first: 0 down or a critical alert (✖), 1 degraded, paused or a
    warning (▲), 2 data gone stale (◌), 3 nothing wrong (ok, rolling out, scaled to zero). Only a
    change of rank re-orders the table: a replica count ticking never moves a row."""
    return {"✖": 0, "▲": 1, "◌": 2}.get(state_word[:1], TROUBLE_NONE)


def canary_text(service: ModelService, latency: LatencySeries | None = None,
                now: float | None = None) -> tuple[str, str]:
    """The CANARY cell: the set weight, → the actual share when Prometheus gives one, then the
    version and the step (`20%→19% → v2 step 1/8`; the cell is cut at its end). A flagged canary
    (`canary_compare.compact`: `20→3!` the share diverges, `▲10→10` worse than stable) shows its
    figures alone, in the degraded style, so that the 6 columns CANARY keeps at 80 show the flags
    whole (the VERSION column and the detail screen give the rest). `now` (unix time) judges the
    figures stale; None: never."""
    canary = service.canary
    if canary is None:
        return "-", ""
    from mlops_tui.backends.canary_compare import compact as canary_compact  # not for the empty first frame

    weight, flagged = canary_compact(canary, latency, now)
    if flagged:
        return weight, "degraded"
    parts = [weight]
    if canary.canary_version:
        parts.append(f"→ {canary.canary_version}")
    if canary.step is not None and canary.total_steps:
        parts.append(f"step {canary.step}/{canary.total_steps}")
    if canary.aborted:
        parts.append("aborted")
    elif canary.paused:
        parts.append("paused")
    return " ".join(parts), "canary"


def canary_comparison(service: ModelService, latency: LatencySeries | None, now: float,
                      one_line_each: bool = False) -> list[str]:
    """The canary against stable in full (detail screen; the weight dialog with `one_line_each`, a
    line per side); [] for a service without a canary. Plain lines: versions come from the cluster,
    show them with `literal`."""
    if service.canary is None:
        return []
    figures = latency.canary if latency is not None else None
    if figures is None:
        return ["canary vs stable: no figures from Prometheus (no series tell its two sides apart)"]
    from mlops_tui.backends.canary_compare import side_by_side

    return side_by_side(service.canary, figures, now, one_line_each=one_line_each)


def bluegreen_text(service: ModelService) -> tuple[str, str]:
    bg = service.blue_green
    if bg is None:
        return "-", ""
    others = [c for c in bg.colours if c.name != bg.active]
    shown = f"◆ {bg.active}"
    if bg.preview and bg.preview != bg.active:
        shown += f" (preview {bg.preview})"
    elif others:
        shown += " / " + ", ".join(f"{c.name} {c.ready}/{c.desired}" for c in others)
    return shown, "stable"


def autoscaler_text(service: ModelService) -> str:
    hpa = service.autoscaler
    if hpa is None:
        return "-"
    text = f"{hpa.min_replicas}..{hpa.max_replicas}"
    if hpa.desired_replicas != hpa.current_replicas:
        text += f" {hpa.current_replicas}→{hpa.desired_replicas}"
    if not hpa.active:
        text += " off"
    return text


def gpus_text(service: ModelService) -> str:
    """GPU units the service's replicas ask for in all; a MIG or shared-GPU consumer is marked as such
    ('2m' for 2 MIG slices, '8s' for 8 time-slices) so that its units never read as full GPUs."""
    if not service.gpu_requests:
        return str(service.gpus_per_replica * service.desired) if service.gpus_per_replica else "-"
    total = sum(count for _name, count in service.gpu_requests) * service.desired
    names = {name for name, _count in service.gpu_requests}
    if names == {"nvidia.com/gpu"} or not all(n.startswith("nvidia.com/") for n in names):
        return str(total)
    if all("mig-" in n for n in names):
        return f"{total}m"
    if names == {"nvidia.com/gpu.shared"}:
        return f"{total}s"
    return f"{total}*"


def service_cells(
    service: ModelService, alerts: Sequence[Alert] = (), style_for: StyleFor = no_style,
    last_action: tuple[str, bool | None] | None = None, health: ClusterHealth | None = None,
    with_cluster: bool = False, latency: LatencySeries | None = None, now: float | None = None,
) -> tuple[Text, ...]:
    """One services row. `alerts`: the firing and pending alerts tied to the service; `health`: its
    cluster's; `latency`: its series (a breached SLO is part of the state); `with_cluster`: another
    cluster has a service of the same name, so the NAME cell says which cluster this one is in (the
    CLUSTER column may be off screen at 80 columns)."""
    state, semantic = row_state(service, alerts, health, latency)
    alert_count = len(alerts)
    canary, canary_style = canary_text(service, latency, now)
    bluegreen, bg_style = bluegreen_text(service)
    key = service.key
    ready = f"{service.ready}/{service.desired}"
    cells = {
        "state": Text(state, style=style_for(semantic), no_wrap=True),
        "name": literal(f"{key.name} @{key.cluster}" if with_cluster else key.name),
        "namespace": literal(key.namespace or "-"),
        "cluster": literal(key.cluster),
        "kind": Text(KIND_SHORT.get(key.kind.value, key.kind.value), no_wrap=True),
        "ready": Text(ready, style=style_for(semantic) if service.ready < service.desired else "", no_wrap=True),
        "version": literal(service.version or "-"),
        "canary": literal(canary, style_for(canary_style) if canary_style else ""),
        "bluegreen": literal(bluegreen, style_for(bg_style) if bg_style else ""),
        "autoscaler": Text(autoscaler_text(service), no_wrap=True),
        "gpus": Text(gpus_text(service), no_wrap=True),
        "alerts": Text(f"⚠ {alert_count}" if alert_count else "-",
                       style=style_for("alert-firing") if alert_count else ""),
        "action": (literal(last_action[0], style_for(ACTION_MARK_STYLE[last_action[1]]))
                   if last_action else Text("-")),
    }
    return tuple(cells[key] for key, *_rest in SERVICE_COLUMNS)


def production_scope(service: ModelService) -> str:
    """'cluster/namespace' of a production service (what the PRODUCTION label names), else ''."""
    if not service.production:
        return ""
    return "/".join(p for p in (service.key.cluster, service.key.namespace) if p)


def describe_plan_header(plan) -> str:
    """'scale to 5 · prod-a/ml-prod/property-valuation-model (as sim-admin)'."""
    who = f" (as {plan.user})" if plan.user else ""
    return f"{plan.description} · {plan.target_name}{who}"


ACTION_MARK_STYLE = {True: "healthy", False: "down", None: "degraded"}
"""A row's last action: succeeded, failed, or still being verified."""


def verifying_mark(plan) -> tuple[str, None]:
    """What the service's row says while an applied action is still being verified."""
    return f"verifying… {plan.description}", None


def outcome_mark(outcome) -> tuple[str, bool]:
    """What the service's row says after an action: '✔ scale to 5' or '✖ conflict: scale to 5'."""
    if outcome.ok:
        return f"✔ {outcome.plan.description}", True
    return f"✖ {outcome.outcome.value}: {outcome.plan.description}", False


def service_matches(service: ModelService, query: str) -> bool:
    """The `/` filter: every word must match name, namespace, cluster, kind, version or a label
    (`key=value` matches that label exactly, `key=` any value of it)."""
    if not query.strip():
        return True
    key = service.key
    haystack = " ".join((key.name, key.namespace, key.cluster, key.kind.value, service.version, service.image)).lower()
    labels = service.labels_dict
    for word in query.lower().split():
        if "=" in word:
            name, _, value = word.partition("=")
            found = [v for k, v in labels.items() if k.lower() == name]
            if not found or (value and value not in (v.lower() for v in found)):
                return False
        elif word not in haystack and not any(word in f"{k}={v}".lower() for k, v in labels.items()):
            return False
    return True


# -- GPUs --------------------------------------------------------------------------------------

GPU_COLUMNS = (
    ("state", "STATE", 11),
    ("node", "NODE"),
    ("cluster", "CLUSTER"),
    ("alloc", "ALLOC"),
    ("free", "FREE"),
    ("util", "UTIL", 5),
    ("mem", "MEM", 10),
    ("holders", "HELD BY"),
)


def gpu_bar(allocated: int, total: int, width: int = 8) -> str:
    if total <= 0:
        return "-"
    filled = min(width, round(width * allocated / total))
    return "█" * filled + "░" * (width - filled) + f" {allocated}/{total}"


def gpu_alloc_text(node: GpuNode) -> str:
    """Each resource on its own: a node with 8 GPUs and 7 MIG slices reads '█░░░░░░░ 1/8 gpu,
    4/7 mig-1g.5gb', never '5/15'. A node with only full GPUs keeps the plain bar."""
    if not node.resources:
        return "-"
    if len(node.resources) == 1 and node.resources[0].name == "nvidia.com/gpu":
        only = node.resources[0]
        return gpu_bar(only.allocated, only.allocatable or only.capacity)
    first, *rest = node.resources
    parts = [f"{gpu_bar(first.allocated, first.allocatable or first.capacity)} {first.short_name}"]
    parts += [f"{r.allocated}/{r.allocatable or r.capacity} {r.short_name}" for r in rest]
    return ", ".join(parts)


def gpu_free_text(node: GpuNode) -> str:
    """Free units new work can get, per resource ('3', or '3 gpu, 5 mig-1g.5gb'); 0 when NotReady/cordoned."""
    if not node.resources:
        return "-"
    if len(node.resources) == 1 and node.resources[0].name == "nvidia.com/gpu":
        return str(node.free_of("nvidia.com/gpu"))
    return ", ".join(f"{node.free_of(r.name)} {r.short_name}" for r in node.resources)


def gpu_cells(node: GpuNode, style_for: StyleFor = no_style, stale: str = "") -> tuple[Text, ...]:
    """One GPU node's row; `stale` is the age of its cluster's data when that went stale ('2m'): the
    row then says so first, as the services of that cluster do (what it shows may be old). GPUs held
    but idle (DCGM joined on `node.devices`) come before "full": they are where capacity is."""
    from mlops_tui.backends.gpu_groups import aggregate_holders  # not for the empty first frame
    from mlops_tui.backends.gpu_idle import idle_holders

    idle = sum(n for _holder, n in idle_holders(node, node.devices))
    if stale:
        state, semantic = f"◌ stale {stale}", "unknown"
    elif not node.ready:
        state, semantic = "✖ notready", "down"
    elif not node.schedulable:
        state, semantic = "▲ cordoned", "degraded"
    elif idle:
        state, semantic = f"◇ {idle} idle", "gpu-idle"
    elif node.full:
        state, semantic = "◼ full", "gpu-busy"
    else:
        state, semantic = "● ok", "healthy"
    util = f"{node.utilisation:.0f}%" if node.utilisation is not None else "-"
    if node.memory_used_mib is not None and node.memory_total_mib:
        mem = f"{node.memory_used_mib / 1024:.0f}/{node.memory_total_mib / 1024:.0f}G"
    else:
        mem = "-"
    plain_gpus = all(h.resource == "nvidia.com/gpu" for h in node.holders)
    holders = ", ".join(
        f"{name}×{units}" + ("" if plain_gpus else f" {short_resource_name(resource)}")
        for name, resource, units in aggregate_holders(node.holders)
    )
    any_free = any(node.free_of(r.name) for r in node.resources)
    return (
        Text(state, style=style_for(semantic), no_wrap=True),
        literal(node.node),
        literal(node.cluster),
        literal(gpu_alloc_text(node), style_for("gpu-busy")),
        literal(gpu_free_text(node), style_for("gpu-free") if any_free else ""),
        Text(util, no_wrap=True),
        Text(mem, no_wrap=True),
        literal(holders or "-"),
    )


def requests_text(requests: tuple[tuple[str, int], ...]) -> str:
    """'4 nvidia.com/gpu' or '1 nvidia.com/gpu + 1 nvidia.com/mig-1g.5gb'."""
    return " + ".join(f"{count} {name}" for name, count in requests) or "GPUs"


def each_replica_text(requests: tuple[tuple[str, int], ...]) -> str:
    """'4 GPUs each', '1 GPU each', '1 mig-1g.5gb each', '1 nvidia.com/gpu + 1 … each'."""
    if len(requests) == 1:
        name, count = requests[0]
        if name == "nvidia.com/gpu":
            return f"{count} GPU{'s' if count != 1 else ''} each"
        return f"{count} {short_resource_name(name)} each"
    return f"{requests_text(requests)} each"


def pending_group_line(group: PendingGroup) -> Text:
    """'◷ llm-reranker (prod-a/ml-staging): 3 replicas Pending, 4 GPUs each: 0/5 nodes are available…'."""
    scope = "/".join(p for p in (group.cluster, group.namespace) if p)
    replicas = f"{group.replicas} replica{'s' if group.replicas != 1 else ''} Pending"
    return literal(f"◷ {group.name} ({scope}): {replicas}, {each_replica_text(group.requests)}: {group.message}")


def free_by_resource(nodes) -> dict[str, tuple[int, int]]:
    """Across nodes: resource -> (free that new work can get, allocatable), each resource on its own."""
    totals: dict[str, tuple[int, int]] = {}
    for node in nodes:
        for resource in node.resources:
            free, allocatable = totals.get(resource.name, (0, 0))
            totals[resource.name] = (free + node.free_of(resource.name), allocatable + resource.allocatable)
    return dict(sorted(totals.items()))


# -- alerts ------------------------------------------------------------------------------------

ALERT_COLUMNS = (
    ("severity", "SEV", 7),
    ("state", "STATE", 11),
    ("name", "ALERT"),
    ("service", "SERVICE"),
    ("since", "SINCE", 5),
    ("summary", "SUMMARY"),
)

SEVERITY_WORD = {
    Severity.CRITICAL: "✖ crit",
    Severity.WARNING: "▲ warn",
    Severity.INFO: "ℹ info",
    Severity.NONE: "· none",
}

ALERT_STATE = {
    AlertState.FIRING: ("◉ firing", "alert-firing"),
    AlertState.PENDING: ("◌ pending", "alert-pending"),
    AlertState.SILENCED: ("◎ silenced", "alert-silenced"),
    AlertState.INHIBITED: ("⊘ inhibited", "alert-silenced"),
}


ALERT_SINCE = 4
"""The SINCE column's position: the one cell of an alert row that moves with the clock."""


def alert_since_cell(alert: Alert, now: datetime) -> Text:
    return Text(since(alert.since, now), no_wrap=True)


def alert_cells(alert: Alert, now: datetime, style_for: StyleFor = no_style) -> tuple[Text, ...]:
    state, semantic = ALERT_STATE[alert.state]
    severity_style = {Severity.CRITICAL: "down", Severity.WARNING: "degraded"}.get(alert.severity, "unknown")
    return (
        Text(SEVERITY_WORD[alert.severity], style=style_for(severity_style), no_wrap=True),
        Text(state, style=style_for(semantic), no_wrap=True),
        literal(alert.name),
        literal(str(alert.service) if alert.service else "-"),
        alert_since_cell(alert, now),
        literal(alert.summary or alert.description or "-"),
    )


# -- latency -----------------------------------------------------------------------------------


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    value = seconds * 1000
    return f"{value:.0f}ms" if value >= 10 else f"{value:.1f}ms"


def latency_summary(series: LatencySeries) -> tuple[str, str]:
    """'p95 812ms ▲ SLO breached (500ms) · p50 90ms · 12.5 rps · 0.4% err', semantic. A service with
    no known SLO says so, uncoloured: it is neither breached nor within anything."""
    p95 = series.current_p95
    # Counter-only runtimes (Triton without summaries, TorchServe) give a mean, not a quantile.
    label = "mean" if series.estimate == "mean" else "p95"
    parts = [f"{label} {ms(p95)}"]
    semantic = "healthy"
    if series.slo is None:
        parts[0] += " · no SLO"
        semantic = ""
    elif series.breached:
        parts[0] += f" ▲ SLO breached ({ms(series.slo_seconds)})"
        semantic = "down"
    elif p95 is not None:
        parts[0] += f" ✓ within SLO ({ms(series.slo_seconds)})"
    if label == "p95":
        parts.append(f"p50 {ms(series.current_p50)}")
    parts.append(f"{series.rps:.1f} rps" if series.rps is not None else "- rps")
    parts.append(f"{series.error_ratio * 100:.1f}% err" if series.error_ratio is not None else "- err")
    return " · ".join(parts), semantic


def slo_line(series: LatencySeries) -> str:
    """Where the SLO came from ('SLO 500ms from alert rule HighInferenceLatency'), or how to set one.
    The origin can be an alert rule's name: show it with `literal`."""
    slo = series.slo
    if slo is None:
        return f"no SLO: set annotation {SLO_ANNOTATION} (ms), [prometheus] slo, or an alert rule on its p95"
    return f"SLO {ms(slo.p95_seconds)} from {slo.described}"


# -- health ------------------------------------------------------------------------------------

HEALTH_GLYPH = {
    HealthState.CONNECTING: ("◌", "connecting", "unknown"),
    HealthState.CONNECTED: ("●", "connected", "healthy"),
    HealthState.STALE: ("◐", "stale", "degraded"),
    HealthState.ERROR: ("✖", "error", "down"),
}


def stale_age(health: ClusterHealth | None, now: datetime) -> str:
    """How old a stale or unreachable cluster's data is ('2m'): since it went stale (the last word
    heard), or for an error since the last sync; '' when its data is fresh."""
    if health is None or health.state not in (HealthState.STALE, HealthState.ERROR):
        return ""
    if health.state is HealthState.ERROR and health.last_sync is not None:
        return since(health.last_sync, now)
    return since(health.since, now)


def stale_ages(health: Mapping[str, ClusterHealth], now: datetime) -> dict[str, str]:
    """Each source whose data is stale or unreachable → how old it is ('2m')."""
    return {name: stale_age(h, now) for name, h in health.items() if h.state in (HealthState.STALE, HealthState.ERROR)}


def health_text(health: ClusterHealth, now: datetime) -> tuple[str, str]:
    glyph, word, semantic = HEALTH_GLYPH[health.state]
    text = f"{glyph} {health.source} {word}"
    if health.state is HealthState.STALE:
        text += f" {since(health.since, now)}"
    if health.error and health.state in (HealthState.STALE, HealthState.ERROR):
        text += f": {health.error}"
    if health.unreadable:
        text += f" · {health.unreadable} object{'s' if health.unreadable > 1 else ''} unreadable"
    return plain(text), semantic


_SGR = re.compile(r"\x1b\[[0-9;:]*m")
"""ANSI colour/attribute sequences (SGR): stripped from log lines; every other escape is made visible."""


def log_line_text(source: str, text: str, width: int = 0, style: Style | str = "bold") -> Text:
    """One log line: `source | text`, both literal. Colour codes are dropped (never passed through raw),
    any other control character or escape is shown as \\xNN by `plain`."""
    line = Text(plain(source).ljust(width), style=style)
    line.append(" │ ")
    line.append(log_text(text))
    return line


def log_text(text: str) -> str:
    """A log line's text made safe: colour codes dropped, other control characters shown as \\xNN."""
    return plain(_SGR.sub("", text))
