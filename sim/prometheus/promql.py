"""A parser for the PromQL subset the simulator evaluates.

Supported: number literals; vector selectors with `=`, `!=`, `=~`, `!~` matchers (names may hold
colons, `{__name__=~"…"}` works); range selectors `[5m]`; functions rate, irate, increase,
histogram_quantile, clamp_min, clamp_max, abs, vector, time; aggregations sum, avg, max, min, count
with `by`/`without` (before or after the argument); unary minus; binary arithmetic (+ - * / % ^),
comparisons (as filters, or with `bool`) and set operators (and, or, unless) with `on`/`ignoring`.
Errors read as Prometheus's parser writes them ("1:5: parse error: unclosed left parenthesis").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


class ParseError(Exception):
    def __init__(self, pos: int, message: str) -> None:
        super().__init__(f"1:{pos + 1}: parse error: {message}")
        self.pos = pos


# --- AST ------------------------------------------------------------------------------------
@dataclass
class Number:
    value: float


@dataclass
class Matcher:
    label: str
    op: str
    value: str
    regex: Any = None

    def matches(self, have: str) -> bool:
        if self.op == "=":
            return have == self.value
        if self.op == "!=":
            return have != self.value
        hit = self.regex.fullmatch(have) is not None
        return hit if self.op == "=~" else not hit


@dataclass
class VectorSelector:
    name: str | None
    matchers: list[Matcher]


@dataclass
class MatrixSelector:
    vector: VectorSelector
    range: float


@dataclass
class Call:
    func: str
    args: list[Any]


@dataclass
class Aggregate:
    op: str
    expr: Any
    grouping: list[str] = field(default_factory=list)
    without: bool = False


@dataclass
class Unary:
    op: str
    expr: Any


@dataclass
class Binary:
    op: str
    lhs: Any
    rhs: Any
    bool_modifier: bool = False  # `a > bool b`: compare to 0/1 instead of filtering
    on: bool = False
    labels: list[str] = field(default_factory=list)


# --- types ----------------------------------------------------------------------------------
FUNCTIONS: dict[str, tuple[list[str], str]] = {
    "rate": (["matrix"], "vector"), "irate": (["matrix"], "vector"), "increase": (["matrix"], "vector"),
    "histogram_quantile": (["scalar", "vector"], "vector"), "clamp_min": (["vector", "scalar"], "vector"),
    "clamp_max": (["vector", "scalar"], "vector"), "abs": (["vector"], "vector"),
    "vector": (["scalar"], "vector"), "time": ([], "scalar"), "avg_over_time": (["matrix"], "vector"),
}
KNOWN_UNSUPPORTED = {
    "label_replace", "label_join", "delta", "deriv", "predict_linear", "sum_over_time", "max_over_time",
    "min_over_time", "count_over_time", "quantile_over_time", "absent", "absent_over_time",
    "ceil", "floor", "round", "exp", "ln", "log2", "log10", "sqrt", "scalar", "sort", "sort_desc", "timestamp",
    "changes", "resets", "clamp", "holt_winters", "day_of_week", "hour", "minute", "month", "year",
    "last_over_time", "stddev_over_time", "stdvar_over_time", "present_over_time", "sgn", "idelta",
}
AGGREGATIONS = {"sum", "avg", "max", "min", "count"}
AGG_UNSUPPORTED = {"topk", "bottomk", "quantile", "count_values", "stddev", "stdvar", "group"}
TYPE_NAMES = {"matrix": "range vector", "vector": "instant vector", "scalar": "scalar", "string": "string"}


def type_of(node: Any) -> str:
    if isinstance(node, Number):
        return "scalar"
    if isinstance(node, MatrixSelector):
        return "matrix"
    if isinstance(node, Call):
        return FUNCTIONS[node.func][1]
    if isinstance(node, Unary):
        return type_of(node.expr)
    if isinstance(node, Binary):
        return "scalar" if type_of(node.lhs) == type_of(node.rhs) == "scalar" else "vector"
    return "vector"


# --- lexer ----------------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<duration>(?:\d+(?:ms|s|m|h|d|w|y))+)(?![\w.])
  | (?P<number>(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[Ii]nf|NaN)(?![\w:]))
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<op>==|!=|<=|>=|=~|!~|[-+*/%^<>=(){}\[\],])
""", re.VERBOSE)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unquote(text: str) -> str:
    if text[0] == "`":
        return text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


def parse_duration(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", text))


def tokenize(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            ch = text[pos]
            if ch in "\"'`":
                raise ParseError(pos, "unterminated quoted string")
            raise ParseError(pos, f"unexpected character: {ch!r}")
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group(), pos))  # type: ignore[arg-type]
        pos = m.end()
    out.append(("eof", "", len(text)))
    return out


# --- parser ---------------------------------------------------------------------------------
_BINARY_PREC = {"or": 1, "and": 2, "unless": 2, "==": 3, "!=": 3, "<=": 3, "<": 3, ">=": 3, ">": 3,
                "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "atan2": 5, "^": 6}
COMPARISONS = {"==", "!=", "<=", "<", ">=", ">"}
SET_OPS = {"and", "or", "unless"}


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, k: int = 0) -> tuple[str, str, int]:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def next(self) -> tuple[str, str, int]:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, value: str, context: str) -> tuple[str, str, int]:
        tok = self.peek()
        if tok[1] != value or tok[0] == "string":
            raise self.unexpected(tok, context)
        return self.next()

    def unexpected(self, tok: tuple[str, str, int], context: str = "") -> ParseError:
        if tok[0] == "eof":
            return ParseError(tok[2], "unexpected end of input" + (f" {context}" if context else ""))
        what = {"ident": "identifier", "number": "number", "duration": "duration", "string": "string"}.get(tok[0])
        desc = f'{what} "{tok[1]}"' if what else f'"{tok[1]}"'
        return ParseError(tok[2], f"unexpected {desc}" + (f" {context}" if context else ""))

    def parse(self) -> Any:
        if self.peek()[0] == "eof":
            raise ParseError(0, "no expression found in input")
        node = self.expr(0)
        tok = self.peek()
        if tok[0] != "eof":
            raise self.unexpected(tok)
        return node

    def expr(self, min_prec: int) -> Any:
        lhs = self.unary()
        while True:
            tok = self.peek()
            op = tok[1] if tok[0] in ("op", "ident") else ""
            prec = _BINARY_PREC.get(op)
            if prec is None or prec < min_prec or tok[0] == "string":
                return lhs
            self.next()
            node = Binary(op, lhs, None)
            if self.peek()[1] == "bool":
                if op not in COMPARISONS:
                    raise ParseError(self.peek()[2], "bool modifier can only be used on comparison operators")
                self.next()
                node.bool_modifier = True
            if self.peek()[1] in ("on", "ignoring"):
                node.on = self.next()[1] == "on"
                node.labels = self.label_list()
            if self.peek()[1] in ("group_left", "group_right"):
                tok2 = self.next()
                raise ParseError(tok2[2], f"{tok2[1]} is not supported by the simulator")
            rhs = self.expr(prec if op == "^" else prec + 1)
            node.rhs = rhs
            self.check_binary(node, tok[2])
            lhs = node

    def check_binary(self, node: Binary, pos: int) -> None:
        lt, rt = type_of(node.lhs), type_of(node.rhs)
        for t in (lt, rt):
            if t not in ("scalar", "vector"):
                raise ParseError(pos, "binary expression must contain only scalar and instant vector types")
        if node.op in SET_OPS and (lt != "vector" or rt != "vector"):
            raise ParseError(pos, f"set operator \"{node.op}\" not allowed in binary scalar expression")
        if node.op in COMPARISONS and lt == rt == "scalar" and not node.bool_modifier:
            raise ParseError(pos, "comparisons between scalars must use BOOL modifier")

    def unary(self) -> Any:
        tok = self.peek()
        if tok[1] in ("-", "+") and tok[0] == "op":
            self.next()
            inner = self.unary_operand()
            if tok[1] == "+":
                return inner
            if isinstance(inner, Number):
                return Number(-inner.value)
            return Unary("-", inner)
        return self.unary_operand()

    def unary_operand(self) -> Any:
        node = self.primary()
        if self.peek()[1] == "^":
            self.next()
            rhs = self.expr(_BINARY_PREC["^"])
            node = Binary("^", node, rhs)
            self.check_binary(node, 0)
        return node

    def primary(self) -> Any:
        tok = self.peek()
        kind, value, pos = tok
        if kind == "number":
            self.next()
            return Number(float(int(value, 16)) if value.lower().startswith("0x") else float(value))
        if kind == "duration":
            raise self.unexpected(tok)
        if kind == "string":
            raise ParseError(pos, "string literals are not supported by the simulator")
        if value == "(":
            self.next()
            inner = self.expr(0)
            if self.peek()[1] != ")":
                if self.peek()[0] == "eof":
                    raise ParseError(len(self.text), "unclosed left parenthesis")
                raise self.unexpected(self.peek(), "in paren expression")
            self.next()
            return self.maybe_range(inner, pos)
        if value == "{":
            return self.maybe_range(self.selector(None, pos), pos)
        if kind == "ident":
            if (value in AGGREGATIONS or value in AGG_UNSUPPORTED) and self.peek(1)[1] in ("(", "by", "without"):
                return self.aggregate()
            if self.peek(1)[1] == "(" and self.peek(1)[0] == "op":
                return self.call()
            self.next()
            return self.maybe_range(self.selector(value, pos), pos)
        raise self.unexpected(tok)

    def maybe_range(self, node: Any, pos: int) -> Any:
        if self.peek()[1] != "[":
            return node
        bracket = self.next()
        if not isinstance(node, VectorSelector):
            raise ParseError(bracket[2], "ranges only allowed for vector selectors")
        tok = self.next()
        if tok[0] != "duration":
            if tok[0] == "number":
                raise ParseError(tok[2], f'bad duration syntax: "{tok[1]}"')
            raise self.unexpected(tok, "in subquery selector" if tok[1] == ":" else "")
        if self.peek()[1] == ":":
            raise ParseError(self.peek()[2], "subqueries are not supported by the simulator")
        if self.peek()[1] != "]":
            raise self.unexpected(self.peek())
        self.next()
        if self.peek()[1] == "offset" or self.peek()[1] == "@":
            raise ParseError(self.peek()[2], "offset and @ modifiers are not supported by the simulator")
        return MatrixSelector(node, parse_duration(tok[1]))

    def label_list(self) -> list[str]:
        self.expect("(", "in grouping opts, expected \"(\"")
        labels: list[str] = []
        while self.peek()[1] != ")":
            tok = self.next()
            if tok[0] != "ident":
                if tok[0] == "eof":
                    raise ParseError(tok[2], "unclosed left parenthesis")
                raise self.unexpected(tok, "in grouping opts, expected label")
            labels.append(tok[1])
            if self.peek()[1] == ",":
                self.next()
            elif self.peek()[1] != ")":
                raise self.unexpected(self.peek(), 'in grouping opts, expected ")" or ","')
        self.next()
        return labels

    def selector(self, name: str | None, pos: int) -> VectorSelector:
        matchers: list[Matcher] = []
        if self.peek()[1] == "{":
            self.next()
            while self.peek()[1] != "}":
                label = self.next()
                if label[0] != "ident":
                    if label[0] == "eof":
                        raise ParseError(label[2], "unexpected end of input inside braces")
                    raise self.unexpected(label, "in label matching, expected label")
                op = self.next()
                if op[1] not in ("=", "!=", "=~", "!~"):
                    raise self.unexpected(op, "in label matching, expected label matching operator")
                val = self.next()
                if val[0] != "string":
                    raise self.unexpected(val, "in label matching, expected string")
                text = _unquote(val[1])
                regex = None
                if op[1] in ("=~", "!~"):
                    try:
                        regex = re.compile(f"(?:{text})", re.S)
                    except re.error as e:
                        raise ParseError(val[2], f"error parsing regexp: {e}") from None
                if label[1] == "__name__" and op[1] == "=":
                    if name is not None:
                        raise ParseError(label[2], f"metric name must not be set twice: {name!r} or {text!r}")
                    name = text
                else:
                    matchers.append(Matcher(label[1], op[1], text, regex))
                if self.peek()[1] == ",":
                    self.next()
                elif self.peek()[1] != "}":
                    raise self.unexpected(self.peek(), 'in label matching, expected comma or right brace')
            self.next()
        if name is None and not any(not m.matches("") for m in matchers):
            raise ParseError(pos, "vector selector must contain at least one non-empty matcher")
        return VectorSelector(name, matchers)

    def call(self) -> Call:
        name, pos = self.next()[1:]
        if name not in FUNCTIONS:
            if name in KNOWN_UNSUPPORTED:
                raise ParseError(pos, f"function \"{name}\" is not supported by the simulator")
            raise ParseError(pos, f'unknown function with name "{name}"')
        self.next()  # (
        args: list[Any] = []
        arg_pos: list[int] = []
        while self.peek()[1] != ")":
            if self.peek()[0] == "eof":
                raise ParseError(len(self.text), "unclosed left parenthesis")
            arg_pos.append(self.peek()[2])
            args.append(self.expr(0))
            if self.peek()[1] == ",":
                self.next()
            elif self.peek()[1] != ")":
                if self.peek()[0] == "eof":
                    raise ParseError(len(self.text), "unclosed left parenthesis")
                raise self.unexpected(self.peek(), 'in call, expected "," or ")"')
        self.next()
        want = FUNCTIONS[name][0]
        if len(args) != len(want):
            raise ParseError(pos, f"expected {len(want)} argument(s) in call to \"{name}\", got {len(args)}")
        for arg, t, p in zip(args, want, arg_pos, strict=True):  # counts checked just above
            got = type_of(arg)
            if got != t:
                raise ParseError(p, f'expected type {TYPE_NAMES[t]} in call to function "{name}", '
                                    f'got {TYPE_NAMES[got]}')
        return Call(name, args)

    def aggregate(self) -> Aggregate:
        op, pos = self.next()[1:]
        if op in AGG_UNSUPPORTED:
            raise ParseError(pos, f"aggregation \"{op}\" is not supported by the simulator")
        node = Aggregate(op, None)
        if self.peek()[1] in ("by", "without"):
            node.without = self.next()[1] == "without"
            node.grouping = self.label_list()
        if self.peek()[1] != "(":
            raise self.unexpected(self.peek(), "in aggregation")
        self.next()
        arg_pos = self.peek()[2]
        node.expr = self.expr(0)
        if self.peek()[1] != ")":
            if self.peek()[0] == "eof":
                raise ParseError(len(self.text), "unclosed left parenthesis")
            raise self.unexpected(self.peek(), "in aggregation")
        self.next()
        if self.peek()[1] in ("by", "without") and not node.grouping:
            node.without = self.next()[1] == "without"
            node.grouping = self.label_list()
        if type_of(node.expr) != "vector":
            raise ParseError(arg_pos, 'expected type instant vector in aggregation expression, '
                                      f'got {TYPE_NAMES[type_of(node.expr)]}')
        return node


def parse(text: str) -> Any:
    return Parser(text).parse()
