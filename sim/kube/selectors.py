"""Label selectors (=, ==, !=, in, notin, exists, !exists) and field selectors, as the API server parses them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mlops_tui.sim.kube.errors import ApiError

Requirement = tuple[str, str, tuple[str, ...]]  # (key, op, values); op in = != in notin exists !exists

_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                  r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _bad(text: str, why: str) -> ApiError:
    return ApiError(400, f"unable to parse requirement: {why}", "BadRequest")


def _check_key(key: str, text: str) -> str:
    if not _KEY.match(key) or len(key.split("/")[-1]) > 63:
        raise _bad(text, f'<nil>: Invalid value: "{key}": name part must consist of alphanumeric characters, '
                   "'-', '_' or '.', and must start and end with an alphanumeric character")
    return key


def _check_value(value: str, text: str) -> str:
    if not _VALUE.match(value):
        raise _bad(text, f'<nil>: Invalid value: "{value}": a valid label must be an empty string or consist of '
                   "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
    return value


_SET = re.compile(r"^\s*(\S+?)\s+(in|notin)\s*\((.*)\)\s*$")


def parse_label_selector(text: str) -> list[Requirement]:
    """Parse `labelSelector`; raises a 400 `ApiError` with the server's words on a bad selector."""
    reqs: list[Requirement] = []
    if not text or not text.strip():
        return reqs
    if text.count("(") != text.count(")"):
        raise _bad(text, "found '', expected: ')'")
    for raw in _split_top(text):
        part = raw.strip()
        if not part:
            raise _bad(text, "found ',', expected: !, identifier, or 'end of string'")
        m = _SET.match(part)
        if m:
            key, op, inner = m.group(1), m.group(2), m.group(3)
            values = tuple(_check_value(v.strip(), text) for v in inner.split(",")) if inner.strip() else ()
            if not values:
                raise _bad(text, "for 'in', 'notin' operators, values set can't be empty")
            reqs.append((_check_key(key, text), op, values))
            continue
        for op, name in (("!=", "!="), ("==", "="), ("=", "=")):
            if op in part:
                key, value = part.split(op, 1)
                key, value = key.strip(), value.strip()
                if not key:
                    raise _bad(text, f"found '{op}', expected: !, identifier, or 'end of string'")
                if any(c in value for c in "=!() "):
                    raise _bad(text, f"found '{value}', expected: identifier")
                reqs.append((_check_key(key, text), name, (_check_value(value, text),)))
                break
        else:
            if part.startswith("!"):
                reqs.append((_check_key(part[1:].strip(), text), "!exists", ()))
            elif re.search(r"\s", part) or any(c in part for c in "()<>"):
                raise _bad(text, f"found '{part.split()[-1]}', expected: =, !=, ==, in, notin")
            else:
                reqs.append((_check_key(part, text), "exists", ()))
    return reqs


def match_labels(reqs: list[Requirement], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    for key, op, values in reqs:
        has = key in labels
        if op == "=":
            if not has or labels[key] != values[0]:
                return False
        elif op == "!=":
            if has and labels[key] == values[0]:
                return False
        elif op == "in":
            if not has or labels[key] not in values:
                return False
        elif op == "notin":
            if has and labels[key] in values:
                return False
        elif op == "exists":
            if not has:
                return False
        elif op == "!exists" and has:
            return False
    return True


def selector_from_match(selector: dict[str, Any] | None) -> list[Requirement]:
    """A `LabelSelector` object (matchLabels + matchExpressions) as requirements."""
    reqs: list[Requirement] = []
    if not isinstance(selector, dict):
        return reqs
    for k, v in (selector.get("matchLabels") or {}).items():
        reqs.append((k, "=", (str(v),)))
    for expr in selector.get("matchExpressions") or ():
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}.get(expr.get("operator"))
        if op:
            reqs.append((expr.get("key", ""), op, tuple(expr.get("values") or ())))
    return reqs


def selector_string(selector: dict[str, Any] | None) -> str:
    """`app=x,version in (a,b)` as the Scale subresource's `status.selector` spells it."""
    parts = []
    for key, op, values in sorted(selector_from_match(selector)):
        if op == "=":
            parts.append(f"{key}={values[0]}")
        elif op in ("in", "notin"):
            parts.append(f"{key} {op} ({','.join(sorted(values))})")
        elif op == "exists":
            parts.append(key)
        else:
            parts.append(f"!{key}")
    return ",".join(parts)


def map_matches(selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    """A Service-style selector (plain map); an empty map matches nothing, as for Services."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


# -- field selectors ----------------------------------------------------------------------

_FIELDS: dict[str, tuple[str, ...]] = {
    "pods": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
    "nodes": ("spec.unschedulable",),
    "events": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
               "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
               "reason", "reportingComponent", "source", "type"),
    "namespaces": ("status.phase",),
    "replicasets": ("status.replicas",),
}

FieldReq = tuple[str, bool, str]  # (path, equal, value)


def parse_field_selector(text: str, resource: str) -> list[FieldReq]:
    out: list[FieldReq] = []
    if not text or not text.strip():
        return out
    allowed = ("metadata.name", "metadata.namespace", *_FIELDS.get(resource, ()))
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        for op, equal in (("!=", False), ("==", True), ("=", True)):
            if op in part:
                path, value = part.split(op, 1)
                path, eq = path.strip(), equal
                break
        else:
            raise ApiError(400, f"invalid selector: '{text}'; can't understand '{part}'", "BadRequest")
        if path not in allowed:
            raise ApiError(400, f'field label not supported: {path}', "BadRequest")
        out.append((path, eq, value.strip()))
    return out


def _field_value(obj: dict[str, Any], path: str) -> str:
    if path == "source":
        return str(((obj.get("source") or {}).get("component")) or obj.get("reportingComponent") or "")
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return "" if cur is None else str(cur)


def match_fields(reqs: list[FieldReq], obj: dict[str, Any]) -> bool:
    return all((_field_value(obj, path) == value) == eq for path, eq, value in reqs)


def make_filter(label: str, field: str, resource: str) -> Callable[[dict[str, Any]], bool] | None:
    """One predicate for both selectors, or None when there is nothing to filter."""
    lreqs = parse_label_selector(label)
    freqs = parse_field_selector(field, resource)
    if not lreqs and not freqs:
        return None

    def check(obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        return match_labels(lreqs, meta.get("labels")) and match_fields(freqs, obj)

    return check
