"""Canary against stable: the rules that judge the figures Prometheus gives for each side.

Pure functions on `CanaryFigures` (backends/model.py), shared by the services row, the detail
screen, the weight dialog and the weight preview's warning, so all four say the same thing.

The rules, with enough traffic to judge (below it a rule says nothing rather than guess):
- actual share = canary req/s ÷ (canary + stable req/s), judged when both sides together serve at
  least `MIN_TOTAL_RPS`; it diverges from the set weight when |set − actual| > max(5 points, 25 % of
  set) (set 20 %, actual 3 %: the canary is not receiving its traffic; set 50 %, actual 40 %: within
  what routing by connection or by task count gives);
- the canary is worse than stable when its p95 > 1.2 × stable's or its error % > stable's + 1 point,
  judged only when each side serves at least `MIN_SIDE_RPS` (a p95 of three requests is noise);
- figures older than their `stale_after` (Prometheus missed refreshes) are stale: shown, never judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_tui.backends.model import Canary, CanaryFigures, LatencySeries, SideFigures
    from mlops_tui.backends.plans import PlanWarning

MIN_TOTAL_RPS = 1.0
"""Both sides together, req/s: below it the actual share is not judged."""
MIN_SIDE_RPS = 0.2
"""Each side, req/s (12 requests a minute): below it p95 and error % are not compared."""
SHARE_POINTS = 5.0
SHARE_FRACTION = 0.25
P95_FACTOR = 1.2
ERROR_POINTS = 1.0
"""Percentage points of errors the canary may have over stable."""


def actual_share(figures: CanaryFigures) -> float | None:
    """Percent of the requests the canary served, or None without enough traffic to judge."""
    canary, stable = figures.canary.rps, figures.stable.rps
    if canary is None or stable is None or canary + stable < MIN_TOTAL_RPS:
        return None
    return 100.0 * canary / (canary + stable)


def share_diverges(set_weight: int | None, figures: CanaryFigures) -> bool:
    """The set weight and the share the canary actually receives disagree (see the module's rule)."""
    share = actual_share(figures)
    if set_weight is None or share is None:
        return False
    return abs(set_weight - share) > max(SHARE_POINTS, SHARE_FRACTION * set_weight)


def _judged(side: SideFigures) -> bool:
    return side.rps is not None and side.rps >= MIN_SIDE_RPS


@dataclass(frozen=True, slots=True)
class Regression:
    """How the canary is worse than stable; empty `reasons` when it is not (or cannot be judged)."""

    reasons: tuple[str, ...]
    """With both sides' figures, for the preview's warning: 'p95 1.02 s vs stable 210 ms (×4.9)'."""
    short: tuple[str, ...] = ()
    """Beside a table of the figures (detail, dialog): 'p95 ×4.9', 'errors +1.9 points'."""
    p95_ratio: float | None = None

    def __bool__(self) -> bool:
        return bool(self.reasons)


def regression(figures: CanaryFigures) -> Regression:
    """The canary's p95 above 1.2 × stable's, or its error % above stable's + 1 point."""
    canary, stable = figures.canary, figures.stable
    if not (_judged(canary) and _judged(stable)):
        return Regression(())
    reasons, short = [], []
    ratio = None
    if canary.p95 is not None and stable.p95 is not None and stable.p95 > 0:
        ratio = canary.p95 / stable.p95
        if ratio > P95_FACTOR:
            name = "mean" if figures.estimate == "mean" else "p95"
            reasons.append(f"{name} {seconds(canary.p95)} vs stable {seconds(stable.p95)} (×{ratio:.1f})")
            short.append(f"{name} ×{ratio:.1f}")
    if (canary.error_ratio is not None and stable.error_ratio is not None
            and 100 * (canary.error_ratio - stable.error_ratio) > ERROR_POINTS):
        reasons.append(f"errors {percent(canary.error_ratio)} vs stable {percent(stable.error_ratio)}")
        short.append(f"errors +{100 * (canary.error_ratio - stable.error_ratio):.1f} points")
    return Regression(tuple(reasons), tuple(short), ratio)


def is_stale(figures: CanaryFigures, now: float | None) -> bool:
    """Read more than `stale_after` seconds before `now` (unix time); None: never stale."""
    return now is not None and now - figures.at > figures.stale_after


# -- words -----------------------------------------------------------------------------------------


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{100 * ratio:.1f} %"


def rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def share_text(set_weight: int | None, figures: CanaryFigures) -> str:
    """'set 20 %, actual 3 % (diverges)'; 'actual unknown (too little traffic)'."""
    share = actual_share(figures)
    shown = f"set {set_weight} %" if set_weight is not None else "set ?"
    if share is None:
        return f"{shown}, actual unknown (under {MIN_TOTAL_RPS:g} req/s)"
    flag = ": not its set share" if share_diverges(set_weight, figures) else ""
    return f"{shown}, actual {share:.0f} %{flag}"


def side_by_side(canary: Canary, figures: CanaryFigures, now: float, *, one_line_each: bool = False) -> list[str]:
    """The full comparison: a small table with a column per side (the detail screen), or with
    `one_line_each` a line per side (the weight dialog, which must fit 80×24 with its choices); then
    the share and the verdict. Plain strings (versions come from clusters: shown literally)."""
    name = "mean" if figures.estimate == "mean" else "p95"
    c, s = figures.canary, figures.stable
    if one_line_each:
        sides = [(f"canary {canary.canary_version}".strip(), c), (f"stable {canary.stable_version}".strip(), s)]
        pad = max(len(label) for label, _side in sides) + 2
        lines = [f"{label:<{pad}}{name} {seconds(side.p95):<8}errors {percent(side.error_ratio):<8}"
                 f"{rate(side.rps)} req/s" for label, side in sides]
        return lines + _verdict(canary, figures, now)
    rows = [
        ("", f"canary {canary.canary_version}".strip(), f"stable {canary.stable_version}".strip()),
        (name, seconds(c.p95), seconds(s.p95)),
        ("errors", percent(c.error_ratio), percent(s.error_ratio)),
        ("req/s", rate(c.rps), rate(s.rps)),
    ]
    width = max(len(r[1]) for r in rows) + 2
    return [f"{label:<7}{left:<{width}}{right}".rstrip() for label, left, right in rows] + _verdict(
        canary, figures, now)


def _verdict(canary: Canary, figures: CanaryFigures, now: float) -> list[str]:
    c, s = figures.canary, figures.stable
    lines = [f"share  {share_text(canary.weight, figures)}"]
    if is_stale(figures, now):
        lines.append(f"stale: read {now - figures.at:.0f} s ago; not judged")
    elif worse := regression(figures):
        lines.append("canary worse than stable: " + ", ".join(worse.short))
    elif not (_judged(c) and _judged(s)):
        lines.append(f"too little traffic to compare (under {MIN_SIDE_RPS:g} req/s on a side)")
    else:
        lines.append("canary no worse than stable")
    return lines


def compact(canary: Canary, latency: LatencySeries | None, now: float | None) -> tuple[str, bool]:
    """The services row's weight and whether it is flagged. Agreeing: ('20%→19%', False); without
    (fresh) figures or traffic: ('20%', False). Flagged, in 6 characters (the CANARY column's floor at
    80 columns, where NAME keeps 20): set→actual, '!' after when they diverge, '▲' before when the
    canary is worse than stable: ('20→3!', True), ('▲10→10', True), ('▲20→3!', True); the caller then
    shows nothing after it, so no cut takes the flags."""
    weight = f"{canary.weight}%" if canary.weight is not None else "?%"
    figures = latency.canary if latency is not None else None
    if figures is None or is_stale(figures, now):
        return weight, False
    share = actual_share(figures)
    diverges = share_diverges(canary.weight, figures)
    worse = bool(regression(figures))
    if not (diverges or worse):
        return (weight if share is None else f"{weight}→{share:.0f}%"), False
    set_weight = "?" if canary.weight is None else str(canary.weight)
    actual = "" if share is None else f"→{share:.0f}"
    return f"{'▲' if worse else ''}{set_weight}{actual}{'!' if diverges else ''}", True


# -- the weight preview ----------------------------------------------------------------------------


def weight_warning(canary: Canary | None, latency: LatencySeries | None, new_weight: int,
                   now: float) -> PlanWarning | None:
    """What the preview of a weight shift towards the canary says about it: worse than stable (with
    the figures), or no figures, or stale ones. None when the shift moves traffic away from the
    canary, or the canary is no worse. Never blocking: the operator may be shifting on purpose."""
    # Here, not at the top: the services row reads this module before the first frame, which needs no plan.
    from mlops_tui.backends.plans import PlanWarning

    if canary is None or (canary.weight is not None and new_weight <= canary.weight):
        return None
    figures = latency.canary if latency is not None else None
    if figures is None:
        return PlanWarning("canary-figures-missing",
                           "no canary-vs-stable figures from Prometheus: the canary's latency and errors "
                           "against stable are unknown")
    if is_stale(figures, now):
        return PlanWarning("canary-figures-stale",
                           f"canary-vs-stable figures are stale (read {now - figures.at:.0f} s ago): "
                           "the canary's latency and errors now are unknown")
    worse = regression(figures)
    if not worse:
        return None
    c, s = figures.canary, figures.stable
    return PlanWarning("canary-worse-than-stable",
                       f"the canary is worse than stable: {'; '.join(worse.reasons)} "
                       f"(at {rate(c.rps)} vs {rate(s.rps)} req/s)")
