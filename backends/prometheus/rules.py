"""Latency SLOs read from Prometheus alert rules (`GET /api/v1/rules?type=alert`). Pure functions.

An alert rule such as the seed's `HighInferenceLatency`,
`histogram_quantile(0.95, rate(model_inference_duration_seconds_bucket[5m])) > 0.5`, states the p95
latency its service must stay under: that constant is the SLO. Only rules that compare a 0.95
quantile with a number are read (a histogram's `histogram_quantile(0.95, ...)`, or a summary's
`{quantile="0.95"}` series); anything else (a mean, a scaled quantile, a rule that could not be
parsed) gives no SLO rather than a wrong one. `query` is the expression as Prometheus prints it
(promql/parser/printer.go), so the shapes below are what the rules API hands out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

P95 = 0.95

_METRIC = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_BRACES = r'\{(?:[^}"]|"(?:\\.|[^"\\])*")*\}'
_SELECTOR = re.compile(rf"({_METRIC})\s*({_BRACES})?")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:\\.|[^"\\])*)"')
_QUANTILE_CALL = re.compile(r"^histogram_quantile\s*\(\s*([0-9.eE+-]+)\s*,(.*)\)$", re.S)
_NUMBER = re.compile(r"^[+-]?(?:[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)$")
_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or",
                       "unless", "le"})
_COMPARISONS = (">=", "<=", ">", "<")
"""`a > C` (or `C < a`) fires when the quantile is over C: C is the objective."""


@dataclass(frozen=True, slots=True)
class LatencyRule:
    """An alert rule that fires when a p95 latency passes a constant."""

    name: str
    metric: str
    """Histogram base name (without `_bucket`) or summary name, as the presets name it."""
    kind: str
    """'histogram' or 'summary'."""
    threshold: float
    """In the metric's own unit (a preset's `divisor` turns it into seconds)."""
    matchers: tuple[tuple[str, str, str], ...] = ()
    """(label, operator, value) of the selector: which series, so which services, it watches."""


def latency_rules(groups: Iterable[Mapping]) -> list[LatencyRule]:
    """Every alerting rule of `data.groups` that puts a constant on a p95 latency."""
    found = []
    for group in groups:
        for rule in group.get("rules") or ():
            if not isinstance(rule, Mapping) or rule.get("type", "alerting") != "alerting":
                continue
            parsed = parse_latency_rule(str(rule.get("name") or ""), str(rule.get("query") or ""))
            if parsed is not None:
                found.append(parsed)
    return found


def parse_latency_rule(name: str, expr: str) -> LatencyRule | None:
    """The rule's objective if `expr` is `<p95 of one metric> > <number>` (or one side of an `and`)."""
    for part in _split_top(expr, " and "):
        rule = _compare(name, _unwrap(part.strip()))
        if rule is not None:
            return rule
    return None


def _compare(name: str, expr: str) -> LatencyRule | None:
    found = _top_comparison(expr)
    if found is None:
        return None
    at, op = found
    left, right = _unwrap(expr[:at].strip()), _unwrap(expr[at + len(op) :].strip())
    if op in ("<", "<="):  # C < quantile: the same objective written the other way round
        left, right = right, left
    if right.startswith("bool "):
        return None  # `> bool` returns 0/1 for every series: not an alert condition on latency
    if not _NUMBER.match(right):
        return None
    threshold = float(right)
    if not math.isfinite(threshold) or threshold <= 0:
        return None
    watched = _quantile_of(left)
    if watched is None:
        return None
    metric, kind, matchers = watched
    return LatencyRule(name, metric, kind, threshold, matchers)


def _quantile_of(expr: str) -> tuple[str, str, tuple[tuple[str, str, str], ...]] | None:
    """(metric, kind, matchers) when `expr` is the p95 of exactly one latency metric."""
    call = _QUANTILE_CALL.match(expr)
    if call is not None:
        try:
            if float(call.group(1)) != P95:
                return None
        except ValueError:
            return None
        selectors = [(m, ms) for m, ms in _selectors(call.group(2)) if m.endswith("_bucket")]
        if len({m for m, _ in selectors}) != 1:
            return None
        metric, matchers = selectors[0]
        return metric[: -len("_bucket")], "histogram", matchers
    whole = _SELECTOR.fullmatch(expr)  # a summary: the quantile series itself, nothing around it
    if whole is None:
        return None
    metric = whole.group(1)
    matchers = tuple((label, op, _unescape(value)) for label, op, value in _MATCHER.findall(whole.group(2) or ""))
    quantile = [v for label, op, v in matchers if label == "quantile" and op == "="]
    if not quantile or _float(quantile[0]) != P95:
        return None
    return metric, "summary", tuple(m for m in matchers if m[0] != "quantile")


def _selectors(expr: str) -> Iterable[tuple[str, tuple[tuple[str, str, str], ...]]]:
    """Vector selectors in `expr`: names not followed by `(` (functions) and not keywords, skipping
    `by (...)` label lists, range durations and label matchers' own contents."""
    cleaned = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    cleaned = re.sub(r"\[[^\]]*\]", " ", cleaned)
    for match in _SELECTOR.finditer(cleaned):
        metric, braces = match.group(1), match.group(2)
        rest = cleaned[match.end() :].lstrip()
        if metric in _KEYWORDS or rest.startswith("("):
            continue
        matchers = tuple((label, op, _unescape(value)) for label, op, value in _MATCHER.findall(braces or ""))
        yield metric, matchers


def _outside_strings(expr: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, depth) of every character outside string literals; an opening bracket
    is at the depth outside it, a closing one at the depth after it (so the outer pair of `(x)` is
    at depth 0, as are the top-level operators)."""
    depth, i, quoted = 0, 0, False
    while i < len(expr):
        ch = expr[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch in "([{":
            yield i, ch, depth
            depth += 1
        elif ch in ")]}":
            depth -= 1
            yield i, ch, depth
        else:
            yield i, ch, depth
        i += 1


def _split_top(expr: str, word: str) -> list[str]:
    """`expr` split at `word` where it stands outside parentheses, braces, brackets and strings."""
    parts, start = [], 0
    for i, _ch, depth in _outside_strings(expr):
        if i >= start and depth == 0 and expr.startswith(word, i):
            parts.append(expr[start:i])
            start = i + len(word)
    parts.append(expr[start:])
    return parts


def _top_comparison(expr: str) -> tuple[int, str] | None:
    """Where the one top-level comparison operator is, and which it is."""
    found: tuple[int, str] | None = None
    for i, ch, depth in _outside_strings(expr):
        if depth != 0 or ch not in "<>" or (found is not None and i < found[0] + len(found[1])):
            continue
        if found is not None:
            return None  # two comparisons: not the simple shape this reads
        found = (i, expr[i : i + 2] if expr[i : i + 2] in _COMPARISONS else ch)
    return found


def _unwrap(expr: str) -> str:
    """`(x)` → `x` while the outer parentheses enclose everything."""
    while expr.startswith("(") and expr.endswith(")") and _closing(expr) == len(expr) - 1:
        expr = expr[1:-1].strip()
    return expr


def _closing(expr: str) -> int:
    """Where the bracket that opens `expr` closes; -1 when it never does."""
    return next((i for i, ch, depth in _outside_strings(expr) if ch in ")]}" and depth == 0), -1)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def matcher_matches(op: str, pattern: str, value: str) -> bool:
    """A PromQL label matcher against one value (regexes are anchored, as Prometheus anchors them)."""
    if op in ("=", "!="):
        return (value == pattern) == (op == "=")
    try:
        hit = re.fullmatch(pattern, value) is not None
    except re.error:
        return False
    return hit == (op == "=~")


def sorted_rules(rules: Sequence[LatencyRule]) -> list[LatencyRule]:
    """Tightest first: when several rules watch one service, the first to fire is its objective."""
    return sorted(rules, key=lambda r: (r.threshold, r.name))
