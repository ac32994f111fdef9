"""Canary against stable: the rules an operator reads on the weight row, the detail screen and the
weight preview (backends/canary_compare.py)."""

from __future__ import annotations

from mlops_tui.backends.canary_compare import (
    actual_share,
    compact,
    regression,
    share_diverges,
    side_by_side,
    weight_warning,
)
from mlops_tui.backends.model import Canary, CanaryFigures, LatencySeries, ServiceKey, ServiceKind, SideFigures

NOW = 1_000_000.0
KEY = ServiceKey("prod", "ml", ServiceKind.ROLLOUT, "ensemble")
CANARY = Canary(source="argo", stable_version="v1.9", canary_version="v2.0", weight=20)


def figures(canary=(0.2, 0.002, 5.0), stable=(0.2, 0.002, 20.0), at=NOW, estimate="quantile") -> CanaryFigures:
    return CanaryFigures(stable=SideFigures(*stable), canary=SideFigures(*canary), at=at, stale_after=30.0,
                         estimate=estimate)


def series(fig: CanaryFigures | None) -> LatencySeries:
    return LatencySeries(KEY, canary=fig)


def test_a_canary_set_to_20_percent_that_receives_3_is_flagged():
    fig = figures(canary=(0.2, 0.0, 0.6), stable=(0.2, 0.0, 19.4))
    assert round(actual_share(fig) or 0) == 3
    assert share_diverges(20, fig)
    assert compact(CANARY, series(fig), NOW) == ("20→3!", True)


def test_a_share_within_5_points_or_a_quarter_of_the_weight_is_not_flagged():
    assert not share_diverges(20, figures(canary=(0.2, 0, 16), stable=(0.2, 0, 84)))  # 4 points off
    assert not share_diverges(60, figures(canary=(0.2, 0, 47), stable=(0.2, 0, 53)))  # 13 < 25 % of 60
    assert share_diverges(60, figures(canary=(0.2, 0, 40), stable=(0.2, 0, 60)))  # 20 > 15
    assert compact(CANARY, series(figures(canary=(0.2, 0, 19), stable=(0.2, 0, 81))), NOW) == ("20%→19%", False)


def test_too_little_traffic_judges_no_share_and_no_regression():
    quiet = figures(canary=(2.0, 0.5, 0.1), stable=(0.2, 0.0, 0.5))
    assert actual_share(quiet) is None and not share_diverges(20, quiet)
    assert not regression(quiet)
    assert compact(CANARY, series(quiet), NOW) == ("20%", False)


def test_a_canary_slower_than_1_2_times_stable_or_1_point_more_errors_is_worse():
    slower = regression(figures(canary=(1.02, 0.002, 5), stable=(0.21, 0.002, 20)))
    assert slower.reasons == ("p95 1.02 s vs stable 210 ms (×4.9)",)
    erring = regression(figures(canary=(0.2, 0.021, 5), stable=(0.2, 0.002, 20)))
    assert erring.reasons == ("errors 2.1 % vs stable 0.2 %",)
    assert not regression(figures(canary=(0.23, 0.011, 5), stable=(0.2, 0.002, 20)))  # ×1.15, +0.9 point
    assert compact(CANARY, series(figures(canary=(1.0, 0, 5), stable=(0.2, 0, 20))), NOW) == ("▲20→20", True)
    both = figures(canary=(1.0, 0.0, 0.6), stable=(0.2, 0.0, 19.4))
    assert compact(CANARY, series(both), NOW) == ("▲20→3!", True)  # 6 characters: whole at 80 columns


def test_a_mean_only_runtime_compares_means_and_says_so():
    worse = regression(figures(canary=(0.5, None, 5), stable=(0.2, None, 20), estimate="mean"))
    assert worse.reasons == ("mean 500 ms vs stable 200 ms (×2.5)",)


def test_stale_figures_are_shown_but_never_judged():
    old = figures(canary=(1.0, 0.1, 0.6), stable=(0.2, 0.0, 19.4), at=NOW - 120)
    assert compact(CANARY, series(old), NOW) == ("20%", False)
    assert side_by_side(CANARY, old, NOW)[-1] == "stale: read 120 s ago; not judged"


def test_the_side_by_side_lines_give_every_figure_and_the_verdict():
    lines = side_by_side(CANARY, figures(canary=(1.02, 0.021, 0.6), stable=(0.21, 0.002, 19.4)), NOW)
    assert lines == [
        "       canary v2.0  stable v1.9",
        "p95    1.02 s       210 ms",
        "errors 2.1 %        0.2 %",
        "req/s  0.6          19",
        "share  set 20 %, actual 3 %: not its set share",
        "canary worse than stable: p95 ×4.9, errors +1.9 points",
    ]


def test_shifting_weight_towards_a_worse_canary_warns_with_the_figures():
    worse = series(figures(canary=(1.02, 0.021, 5), stable=(0.21, 0.002, 20)))
    warning = weight_warning(CANARY, worse, 40, NOW)
    assert warning is not None and not warning.blocking
    assert warning.code == "canary-worse-than-stable"
    assert warning.text == ("the canary is worse than stable: p95 1.02 s vs stable 210 ms (×4.9); "
                            "errors 2.1 % vs stable 0.2 % (at 5.0 vs 20 req/s)")


def test_shifting_weight_away_from_the_canary_or_to_a_healthy_one_says_nothing():
    worse = series(figures(canary=(1.02, 0.021, 5), stable=(0.21, 0.002, 20)))
    assert weight_warning(CANARY, worse, 10, NOW) is None
    assert weight_warning(CANARY, worse, 20, NOW) is None
    assert weight_warning(CANARY, series(figures()), 40, NOW) is None


def test_shifting_towards_a_canary_without_figures_or_with_stale_ones_says_so():
    missing = weight_warning(CANARY, None, 40, NOW)
    assert missing is not None and missing.code == "canary-figures-missing"
    assert weight_warning(CANARY, series(None), 40, NOW) == missing
    stale = weight_warning(CANARY, series(figures(at=NOW - 300)), 40, NOW)
    assert stale is not None and stale.code == "canary-figures-stale" and "300 s ago" in stale.text
