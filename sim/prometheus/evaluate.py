"""Evaluates the parsed PromQL subset over a SeriesStore, with Prometheus's semantics for
extrapolated rates, classic-histogram quantiles, aggregation grouping and vector matching."""

from __future__ import annotations

import contextlib
import math
from decimal import Decimal
from typing import Any

from . import promql as ast
from .series import Labels, SeriesStore

Sample = tuple[dict[str, str], float]


class EvalError(Exception):
    """An execution error (Prometheus answers 422 execution)."""


def format_value(v: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64), as the HTTP API writes sample values."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    text = repr(v)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text


def _drop_name(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != "__name__"}


def extrapolated_rate(samples: list[tuple[float, float]], start: float, end: float, rng: float,
                      is_rate: bool) -> float | None:
    """Prometheus's extrapolatedRate for counters (promql/functions.go)."""
    if len(samples) < 2:
        return None
    first_t, first_v = samples[0]
    last_t, last_v = samples[-1]
    result = last_v - first_v
    prev = first_v
    for _, v in samples[1:]:
        if v < prev:
            result += prev
        prev = v
    duration_to_start = first_t - start
    duration_to_end = end - last_t
    sampled = last_t - first_t
    if sampled <= 0:
        return None
    avg = sampled / (len(samples) - 1)
    if result > 0 and first_v >= 0:
        to_zero = sampled * (first_v / result)
        if to_zero < duration_to_start:
            duration_to_start = to_zero
    threshold = avg * 1.1
    interval = sampled
    interval += duration_to_start if duration_to_start < threshold else avg / 2
    interval += duration_to_end if duration_to_end < threshold else avg / 2
    result *= interval / sampled
    return result / rng if is_rate else result


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus's bucketQuantile over (upper bound, cumulative count) pairs."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    buckets = sorted(buckets)
    if not buckets or not math.isinf(buckets[-1][0]):
        return math.nan
    merged: list[list[float]] = []
    for ub, c in buckets:
        if merged and merged[-1][0] == ub:
            merged[-1][1] += c
        else:
            merged.append([ub, c])
    for i in range(1, len(merged)):  # ensure monotonic cumulative counts
        if merged[i][1] < merged[i - 1][1]:
            merged[i][1] = merged[i - 1][1]
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next(i for i, (_, c) in enumerate(merged) if c >= rank)
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, end, count = 0.0, merged[b][0], merged[b][1]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return start + (end - start) * (rank / count)


def _arith(op: str, a: float, b: float) -> float:
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            if b == 0:
                return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1.0, b)
            return a / b
        if op == "%":
            return math.fmod(a, b) if b != 0 else math.nan
        if op == "^":
            return a ** b
    except (OverflowError, ValueError, ZeroDivisionError):
        return math.nan
    raise EvalError(f"unknown operator {op}")


def _compare(op: str, a: float, b: float) -> bool:
    return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


class Evaluator:
    def __init__(self, store: SeriesStore, *more: SeriesStore) -> None:
        self.store = store
        self.stores = (store, *more)
        """The scraped series, then the rule manager's own (ALERTS, ALERTS_FOR_STATE): each keeps its
        own scrape times, so an alert written between scrapes does not mark the scraped series stale."""

    def eval(self, node: Any, t: float) -> Any:
        """A float for scalars, a list of (labels, value) for instant vectors."""
        with contextlib.ExitStack() as locks:
            for store in self.stores:  # always in this order: no lock-order inversion
                locks.enter_context(store.lock)
            return self._eval(node, t)

    def matrix(self, ms: ast.MatrixSelector, t: float) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """A range selector evaluated on its own (an instant query of `m[2m]`): the raw samples."""
        with contextlib.ExitStack() as locks:
            for store in self.stores:
                locks.enter_context(store.lock)
            return list(self._range(ms, t))

    def _eval(self, node: Any, t: float) -> Any:
        if isinstance(node, ast.Number):
            return node.value
        if isinstance(node, ast.VectorSelector):
            return self._select(node, t)
        if isinstance(node, ast.MatrixSelector):
            raise EvalError("range vectors are only evaluated inside functions")
        if isinstance(node, ast.Call):
            return self._call(node, t)
        if isinstance(node, ast.Aggregate):
            return self._aggregate(node, t)
        if isinstance(node, ast.Unary):
            v = self._eval(node.expr, t)
            return -v if isinstance(v, float) else [(_drop_name(labels), -x) for labels, x in v]
        if isinstance(node, ast.Binary):
            return self._binary(node, t)
        raise EvalError(f"cannot evaluate {type(node).__name__}")

    # --- selectors ---------------------------------------------------------------------------
    def _matching(self, vs: ast.VectorSelector):
        for store in self.stores:
            for s in store.candidates(vs.name):
                labels = dict(s.labels)
                if all(m.matches(labels.get(m.label, "")) for m in vs.matchers):
                    yield store, s, labels

    def _select(self, vs: ast.VectorSelector, t: float) -> list[Sample]:
        out = []
        for store, s, labels in self._matching(vs):
            v = store.instant(s, t)
            if v is not None:
                out.append((labels, v))
        return out

    def _range(self, ms: ast.MatrixSelector, t: float):
        for store, s, labels in self._matching(ms.vector):
            samples = list(store.window(s, t - ms.range, t))
            if samples:
                yield labels, samples

    # --- functions ---------------------------------------------------------------------------
    def _call(self, node: ast.Call, t: float) -> Any:
        f = node.func
        if f in ("rate", "increase", "irate"):
            ms = node.args[0]
            out = []
            for labels, samples in self._range(ms, t):
                if f == "irate":
                    if len(samples) < 2:
                        continue
                    (t1, v1), (t2, v2) = samples[-2], samples[-1]
                    v = (v2 - v1 if v2 >= v1 else v2) / (t2 - t1)
                else:
                    v = extrapolated_rate(samples, t - ms.range, t, ms.range, f == "rate")
                    if v is None:
                        continue
                out.append((_drop_name(labels), v))
            return out
        if f == "avg_over_time":  # the mean of the samples in the window (GPU utilisation, not one sample)
            return [(_drop_name(labels), sum(v for _t, v in samples) / len(samples))
                    for labels, samples in self._range(node.args[0], t)]
        if f == "histogram_quantile":
            q = self._eval(node.args[0], t)
            groups: dict[Labels, list[tuple[float, float]]] = {}
            keep: dict[Labels, dict[str, str]] = {}
            for labels, v in self._eval(node.args[1], t):
                if "le" not in labels:
                    continue
                try:
                    ub = float(labels["le"].replace("+Inf", "inf"))
                except ValueError:
                    continue
                rest = {k: x for k, x in labels.items() if k not in ("le", "__name__")}
                key = tuple(sorted(rest.items()))
                groups.setdefault(key, []).append((ub, v))
                keep[key] = rest
            return [(keep[k], bucket_quantile(q, b)) for k, b in groups.items()]
        if f in ("clamp_min", "clamp_max"):
            vec, bound = self._eval(node.args[0], t), self._eval(node.args[1], t)
            pick = max if f == "clamp_min" else min
            return [(_drop_name(labels), pick(v, bound)) for labels, v in vec]
        if f == "abs":
            return [(_drop_name(labels), abs(v)) for labels, v in self._eval(node.args[0], t)]
        if f == "vector":
            return [({}, self._eval(node.args[0], t))]
        if f == "time":
            return float(t)
        raise EvalError(f"function {f} is not supported by the simulator")

    # --- aggregation ---------------------------------------------------------------------------
    def _aggregate(self, node: ast.Aggregate, t: float) -> list[Sample]:
        groups: dict[Labels, tuple[dict[str, str], list[float]]] = {}
        for labels, v in self._eval(node.expr, t):
            if node.without:
                out = {k: x for k, x in labels.items() if k not in node.grouping and k != "__name__"}
            else:
                out = {k: labels[k] for k in node.grouping if k in labels}
            key = tuple(sorted(out.items()))
            groups.setdefault(key, (out, []))[1].append(v)
        result = []
        for out, values in groups.values():
            if node.op == "sum":
                v = math.fsum(values) if not any(math.isnan(x) for x in values) else math.nan
            elif node.op == "avg":
                v = sum(values) / len(values)
            elif node.op == "count":
                v = float(len(values))
            elif node.op == "max":
                real = [x for x in values if not math.isnan(x)]
                v = max(real) if real else math.nan
            else:
                real = [x for x in values if not math.isnan(x)]
                v = min(real) if real else math.nan
            result.append((out, v))
        return result

    # --- binary operators ------------------------------------------------------------------------
    def _signature(self, labels: dict[str, str], node: ast.Binary) -> Labels:
        if node.on:
            return tuple(sorted((k, labels[k]) for k in node.labels if k in labels))
        return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__" and k not in node.labels))

    def _binary(self, node: ast.Binary, t: float) -> Any:
        lhs, rhs = self._eval(node.lhs, t), self._eval(node.rhs, t)
        op = node.op
        comparison = op in ast.COMPARISONS
        if isinstance(lhs, float) and isinstance(rhs, float):
            if comparison:
                return 1.0 if _compare(op, lhs, rhs) else 0.0
            return _arith(op, lhs, rhs)
        if op in ast.SET_OPS:
            return self._set_op(node, lhs, rhs)
        if isinstance(lhs, float) or isinstance(rhs, float):
            scalar_left = isinstance(lhs, float)
            vec = rhs if scalar_left else lhs
            s = lhs if scalar_left else rhs
            out = []
            for labels, v in vec:
                a, b = (s, v) if scalar_left else (v, s)
                if comparison:
                    hit = _compare(op, a, b)
                    if node.bool_modifier:
                        out.append((_drop_name(labels), 1.0 if hit else 0.0))
                    elif hit:
                        out.append((labels, v))
                else:
                    out.append((_drop_name(labels), _arith(op, a, b)))
            return out
        right: dict[Labels, tuple[dict[str, str], float]] = {}
        for labels, v in rhs:
            sig = self._signature(labels, node)
            if sig in right:
                raise EvalError("found duplicate series for the match group on the right hand-side of the "
                                "operation; many-to-many matching not allowed: "
                                "matching labels must be unique on one side")
            right[sig] = (labels, v)
        out = []
        seen: set[Labels] = set()
        for labels, v in lhs:
            sig = self._signature(labels, node)
            if sig not in right:
                continue
            if sig in seen:
                raise EvalError("multiple matches for labels: "
                                "many-to-one matching must be explicit (group_left/group_right)")
            seen.add(sig)
            rv = right[sig][1]
            if node.on:
                result_labels = {k: labels[k] for k in node.labels if k in labels}
            else:
                result_labels = {k: x for k, x in labels.items() if k not in node.labels}
            if comparison:
                hit = _compare(op, v, rv)
                if node.bool_modifier:
                    out.append((_drop_name(result_labels), 1.0 if hit else 0.0))
                elif hit:
                    out.append((result_labels, v))
            else:
                out.append((_drop_name(result_labels), _arith(op, v, rv)))
        return out

    def _set_op(self, node: ast.Binary, lhs: list[Sample], rhs: list[Sample]) -> list[Sample]:
        rsigs = {self._signature(labels, node) for labels, _ in rhs}
        if node.op == "and":
            return [(labels, v) for labels, v in lhs if self._signature(labels, node) in rsigs]
        if node.op == "unless":
            return [(labels, v) for labels, v in lhs if self._signature(labels, node) not in rsigs]
        lsigs = {self._signature(labels, node) for labels, _ in lhs}
        return list(lhs) + [(labels, v) for labels, v in rhs if self._signature(labels, node) not in lsigs]
