"""The latency pane's data helpers: a NaN from Prometheus never reaches a Sparkline."""

from __future__ import annotations

import math

from mlops_tui.tui.sparkdata import ASCII_LEVELS, ascii_sparkline, resample, sanitize


def test_sanitize_drops_nan_inf_and_non_numbers_keeping_order():
    raw = [0.1, math.nan, 0.2, math.inf, -math.inf, None, "x", "0.3", 0.4]
    assert sanitize(raw) == [0.1, 0.2, 0.3, 0.4]


def test_sanitize_takes_the_value_of_time_value_pairs():
    assert sanitize([(1.0, 0.5), (2.0, math.nan), (3.0, 0.7)]) == [0.5, 0.7]


def test_sanitize_is_empty_safe():
    assert sanitize([]) == []
    assert sanitize(None) == []
    assert sanitize([math.nan, math.nan]) == []


def test_ascii_sparkline_rises_with_the_values_and_fits_the_width():
    line = ascii_sparkline([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 10)
    assert len(line) == 10
    ranks = [ASCII_LEVELS.index(c) for c in line]
    assert ranks == sorted(ranks)
    assert ranks[0] == 1 and ranks[-1] == len(ASCII_LEVELS) - 1
    assert all(c in ASCII_LEVELS for c in line)


def test_ascii_sparkline_squeezes_long_series_keeping_spikes():
    values = [0.01] * 100
    values[57] = 5.0
    line = ascii_sparkline(values, 20)
    assert len(line) == 20
    assert line.count(ASCII_LEVELS[-1]) == 1


def test_ascii_sparkline_constant_series_renders_flat():
    line = ascii_sparkline([0.2] * 8, 8)
    assert len(set(line)) == 1 and line[0] != " "
    assert ascii_sparkline([0.0] * 4, 4) == "    "


def test_ascii_sparkline_survives_nan_and_empty():
    assert ascii_sparkline([], 10) == ""
    assert ascii_sparkline([math.nan, math.inf], 10) == ""
    assert ascii_sparkline([1.0, math.nan, 2.0], 0) == ""
    assert len(ascii_sparkline([1.0, math.nan, 2.0], 10)) == 2


def test_resample_keeps_short_series_as_is():
    assert resample([1.0, 2.0], 5) == [1.0, 2.0]
    assert resample([1.0, 3.0, 2.0, 4.0], 2) == [3.0, 4.0]
