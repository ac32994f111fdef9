"""The latency pane's data helpers: a NaN from Prometheus never reaches a Sparkline."""

from __future__ import annotations

import math
import statistics

from mlops_tui.tui.sparkdata import (
    ASCII_LEVELS,
    BLOCKS,
    ascii_sparkline,
    axis_top,
    bar_heights,
    block_rows,
    resample,
    sanitize,
)


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


# -- the scale: history stays readable after a spike ------------------------------------------

NORMAL = [200.0, 240.0, 260.0, 220.0, 250.0, 230.0] * 5  # ms, around half a 500 ms SLO


def test_after_a_10x_spike_the_normal_values_still_show_above_the_floor():
    values = [*NORMAL[:20], 2500.0, 2500.0, *NORMAL[:10]]
    top = axis_top(values, slo=500.0)
    assert top == 1000.0  # twice the SLO: the spike does not set the scale
    [line] = block_rows(values, len(values), 1, top)
    normal = line[:20] + line[22:]
    assert all(BLOCKS.index(c) >= 1 for c in normal), line  # nothing before or after it flattened to ▁
    assert line[20:22] == BLOCKS[-1] * 2  # the spike is clipped to a full bar
    ascii_line = ascii_sparkline(values, len(values), top=top)
    assert all(ASCII_LEVELS.index(c) >= 2 for c in ascii_line[:20]), ascii_line


def test_without_an_slo_a_short_spike_is_clipped_at_three_times_the_median():
    values = [*NORMAL[:28], 2500.0, 2500.0]
    top = axis_top(values)
    assert top == 3 * statistics.median(values) < 2500  # SPIKE_ROOM times the window's median, under the spike
    [line] = block_rows(values, len(values), 1, top)
    assert all(BLOCKS.index(c) >= 1 for c in line[:28]), line


def test_the_slo_keeps_its_place_on_the_axis_whatever_the_values():
    assert axis_top([10.0, 12.0, 11.0], slo=500.0) == 1000.0
    assert bar_heights([500.0], axis_top([10.0], slo=500.0), 8) == [4]  # the SLO sits half way up


def test_a_rise_lasting_most_of_the_window_is_drawn_to_scale_not_clipped():
    values = [100.0] * 10 + [2000.0] * 20
    assert axis_top(values, slo=500.0) == 2000.0
    [line] = block_rows(values, len(values), 1, axis_top(values, slo=500.0))
    assert line[-1] == BLOCKS[-1] and line[0] == BLOCKS[0]


def test_block_rows_stack_eighths_over_several_lines_and_never_draw_blank_columns():
    rows = block_rows([1.0, 8.0, 16.0], 3, 2, top=16.0)
    assert rows == [" " + " " + BLOCKS[-1], BLOCKS[0] + BLOCKS[-1] + BLOCKS[-1]]
    assert block_rows([], 10, 2, 1.0) == []
    assert block_rows([float("nan"), 5.0], 10, 1, 10.0) == [BLOCKS[3]]
