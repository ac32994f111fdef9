"""Sparkline data helpers: pure, no widgets.

Prometheus hands out NaN whenever a window held no requests (`histogram_quantile` of 0/0): every
series the latency pane draws goes through `sanitize` first. Textual's `Sparkline` scales between
the data's own minimum and maximum, so one spike flattens everything before it to `▁`; the latency
trends are drawn here instead, on a scale from 0 to `axis_top` (anchored on the SLO, a spike clipped
to a full bar) by `block_rows`, or by `ascii_sparkline` on terminals (or fonts, or SSH hops) without
the Unicode block glyphs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

BLOCKS = "▁▂▃▄▅▆▇█"
"""Eighths of a cell, lowest first (Textual's Sparkline uses the same glyphs)."""

SLO_HEADROOM = 2.0
"""The axis reaches at least twice the SLO: the SLO sits half way up, values over it are plain."""

SPIKE_ROOM = 3.0
"""Without a sustained rise, the axis stops at three times the window's median: a spike above it is
clipped to a full bar instead of squashing the usual values to the floor."""


def axis_top(values: Sequence[float], slo: float | None = None) -> float:
    """The top of a trend's scale (the bottom is 0): the window's maximum, but no higher than
    `SPIKE_ROOM` × its median (a short spike is clipped, what came before stays readable), and no
    lower than `SLO_HEADROOM` × the SLO when one is known (the SLO's place on the axis stays put).
    A rise lasting over half the window moves the median, so it is drawn to scale, not clipped."""
    finite = [v for v in values if math.isfinite(v) and v >= 0]
    top = 0.0
    if finite:
        import statistics  # here, not at the top: ~3 ms of start-up, and no trend is drawn in the first frame

        typical = statistics.median(finite)
        top = min(max(finite), SPIKE_ROOM * typical) if typical > 0 else max(finite)
    if slo is not None and slo > 0:
        top = max(top, SLO_HEADROOM * slo)
    return top if top > 0 else 1.0


def bar_heights(values: Sequence[float], top: float, steps: int) -> list[int]:
    """Each value's bar height in `steps` (1..steps) on the scale 0..`top`; a value above `top` is
    clipped to `steps`, and the smallest value still draws one step (a trend is never blank)."""
    top = top if top > 0 else 1.0
    return [max(1, min(steps, math.ceil(v / top * steps))) for v in values]


def block_rows(values: Sequence[float], width: int, height: int, top: float) -> list[str]:
    """The trend as `height` lines of block glyphs (top line first), at most `width` bars wide,
    the newest on the right."""
    data = resample(sanitize(values), width)
    if not data or height <= 0:
        return []
    per = len(BLOCKS)
    heights = bar_heights(data, top, per * height)
    rows = []
    for line in reversed(range(height)):
        floor = line * per
        rows.append("".join(
            " " if h <= floor else BLOCKS[-1] if h >= floor + per else BLOCKS[h - floor - 1] for h in heights))
    return rows

ASCII_LEVELS = " .:-=+*#%@"
"""From lowest to highest; a value at the series minimum still shows as '.' (never blank) unless
the whole series is flat at zero."""


def sanitize(points: Iterable[object] | None) -> list[float]:
    """The finite numbers of `points`, in order; NaN, ±inf, None and non-numbers are dropped.

    Accepts plain numbers or (time, value) pairs (the value is kept). Empty or None gives [].
    """
    out: list[float] = []
    if points is None:
        return out
    for point in points:
        value = point[1] if isinstance(point, (tuple, list)) and len(point) == 2 else point
        if isinstance(value, bool):
            continue
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out.append(number)
    return out


def resample(values: list[float], width: int) -> list[float]:
    """`values` squeezed (bucket maximum, so a spike is never averaged away) or kept to `width`."""
    if width <= 0 or not values:
        return []
    if len(values) <= width:
        return list(values)
    out = []
    for i in range(width):
        lo = i * len(values) // width
        hi = max((i + 1) * len(values) // width, lo + 1)
        out.append(max(values[lo:hi]))
    return out


def ascii_sparkline(values: Iterable[object] | None, width: int, levels: str = ASCII_LEVELS,
                    top: float | None = None) -> str:
    """A one-line trend of at most `width` characters using only ASCII `levels`.

    The newest values are on the right. With `top` (`axis_top`), the scale is 0..top and values over
    it are clipped to the highest level; without, the series is scaled between its own minimum and
    maximum, and a flat series draws a flat line at the middle level (or blanks when it is all
    zero). NaN and inf are dropped first, so a gap never crashes the pane; no data gives ''.
    """
    data = resample(sanitize(values), width)
    if not data or len(levels) < 2:
        return ""
    if top is not None:
        return "".join(levels[h] for h in bar_heights(data, top, len(levels) - 1))
    low, high = min(data), max(data)
    top = len(levels) - 1
    if high == low:
        glyph = levels[0] if high == 0 else levels[top // 2]
        return glyph * len(data)
    span = high - low
    chars = []
    for value in data:
        # 1..top: the minimum still draws (level 1) so the line is visible.
        chars.append(levels[1 + round((value - low) / span * (top - 1))])
    return "".join(chars)
