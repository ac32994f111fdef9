"""Sparkline data helpers: pure, no widgets.

Textual's `Sparkline` divides by the data's range and crashes or draws garbage on NaN/inf, and
Prometheus hands out NaN whenever a window held no requests (`histogram_quantile` of 0/0). Every
series the latency pane draws goes through `sanitize` first. `ascii_sparkline` is the fallback for
terminals (or fonts, or SSH hops) without the Unicode block glyphs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

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


def ascii_sparkline(values: Iterable[object] | None, width: int, levels: str = ASCII_LEVELS) -> str:
    """A one-line trend of at most `width` characters using only ASCII `levels`.

    The newest values are on the right. The series is scaled between its own minimum and maximum;
    a flat series draws a flat line at the middle level (or blanks when it is all zero). NaN and
    inf are dropped first, so a gap never crashes the pane; no data gives ''.
    """
    data = resample(sanitize(values), width)
    if not data or len(levels) < 2:
        return ""
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
