"""The three patch types kube-apiserver accepts: JSON merge patch (RFC 7386), JSON patch (RFC 6902)
and strategic merge patch (lists merged by their merge key, `$patch` directives, null deletes).

Strategic merge keys are those of the built-in types this simulator serves (containers, volumes, env,
ports, ...), looked up by field name (and, for `ports`, whether the parent is a Service spec)."""

from __future__ import annotations

import copy
from typing import Any

from mlops_tui.sim.kube.errors import ApiError

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


# -- JSON merge patch ------------------------------------------------------------------------

def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


# -- JSON patch ------------------------------------------------------------------------------

def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "the server rejected our request due to an error in our request", "Invalid")
    return [_unescape(t) for t in path[1:].split("/")]


def _walk(doc: Any, tokens: list[str], path: str) -> Any:
    cur = doc
    for t in tokens:
        if isinstance(cur, dict):
            if t not in cur:
                raise ApiError(422, f"the server rejected our request due to an error in our request: "
                               f"missing value at path {path!r}", "Invalid")
            cur = cur[t]
        elif isinstance(cur, list):
            try:
                cur = cur[int(t)]
            except (ValueError, IndexError):
                raise ApiError(422, f"the server rejected our request due to an error in our request: "
                               f"invalid index at path {path!r}", "Invalid") from None
        else:
            raise ApiError(422, f"the server rejected our request due to an error in our request: "
                           f"path {path!r} not found", "Invalid")
    return cur


def _add(doc: Any, tokens: list[str], value: Any, path: str, replace: bool = False) -> Any:
    if not tokens:
        return value
    parent = _walk(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise ApiError(422, f"the server rejected our request due to an error in our request: "
                           f"replace operation does not apply: doc is missing key: {path}", "Invalid")
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                i = int(last)
            except ValueError:
                raise ApiError(422, f"invalid index {last!r} in {path!r}", "Invalid") from None
            if replace:
                if not 0 <= i < len(parent):
                    raise ApiError(422, f"replace operation does not apply: index out of range: {path}", "Invalid")
                parent[i] = value
            else:
                if not 0 <= i <= len(parent):
                    raise ApiError(422, f"add operation does not apply: index out of range: {path}", "Invalid")
                parent.insert(i, value)
    else:
        raise ApiError(422, f"the server rejected our request due to an error in our request: "
                       f"doc is missing path: {path}", "Invalid")
    return doc


def _remove(doc: Any, tokens: list[str], path: str) -> Any:
    parent = _walk(doc, tokens[:-1], path)
    last = tokens[-1] if tokens else ""
    try:
        if isinstance(parent, dict):
            del parent[last]
        elif isinstance(parent, list):
            del parent[int(last)]
        else:
            raise KeyError(last)
    except (KeyError, ValueError, IndexError):
        raise ApiError(422, f"the server rejected our request due to an error in our request: "
                       f"remove operation does not apply: doc is missing path: \"{path}\"", "Invalid") from None
    return doc


def json_patch(target: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise ApiError(400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch", "BadRequest")
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError(422, "the server rejected our request due to an error in our request", "Invalid")
        kind, path = op["op"], op["path"]
        tokens = _pointer(path)
        if kind == "add":
            doc = _add(doc, tokens, copy.deepcopy(op.get("value")), path)
        elif kind == "replace":
            doc = _add(doc, tokens, copy.deepcopy(op.get("value")), path, replace=True)
        elif kind == "remove":
            doc = _remove(doc, tokens, path)
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = copy.deepcopy(_walk(doc, source, op.get("from", "")))
            if kind == "move":
                doc = _remove(doc, source, op.get("from", ""))
            doc = _add(doc, tokens, value, path)
        elif kind == "test":
            if _walk(doc, tokens, path) != op.get("value"):
                # kube-apiserver wraps every json-patch Apply error in NewGenericServerResponse(422, ...):
                # the generic Invalid message, empty details; the "testing value ... failed" text is dropped.
                raise ApiError(422, "the server rejected our request due to an error in our request", "Invalid", {})
        else:
            raise ApiError(422, f"the server rejected our request due to an error in our request: "
                           f"Unexpected kind: {kind}", "Invalid")
    return doc


# -- strategic merge patch ----------------------------------------------------------------------

MERGE_KEYS: dict[str, str] = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
    "env": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath", "imagePullSecrets": "name",
    "hostAliases": "ip", "topologySpreadConstraints": "topologyKey", "conditions": "type",
    "ownerReferences": "uid", "resourceClaims": "name", "readinessGates": "conditionType",
}


def _merge_key(field: str, parent_is_service: bool) -> str | None:
    if field == "ports":
        return "port" if parent_is_service else "containerPort"
    return MERGE_KEYS.get(field)


def strategic_merge(target: Any, patch: Any, *, service: bool = False) -> Any:
    """Apply a strategic merge patch to `target` (a dict). `service` marks a Service's spec level."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(out.get(field), list):
                out[field] = [x for x in out[field] if x not in (value or [])]
            continue
        if value is None:
            out.pop(key, None)
            continue
        current = out.get(key)
        if isinstance(value, dict):
            merged = strategic_merge(current, value, service=(key == "spec" and service))
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        elif isinstance(value, list):
            mkey = _merge_key(key, service)
            if mkey and isinstance(current, list):
                out[key] = _merge_list(current, value, mkey)
            elif mkey:
                out[key] = [strategic_merge(None, v) if isinstance(v, dict) else v for v in value
                            if not (isinstance(v, dict) and v.get("$patch") == "delete")]
            else:
                out[key] = copy.deepcopy([v for v in value if not (isinstance(v, dict) and "$patch" in v)])
        else:
            out[key] = value
    order = {k.split("/", 1)[1]: v for k, v in patch.items() if k.startswith("$setElementOrder/")}
    for field, wanted in order.items():
        mkey = _merge_key(field, service)
        if isinstance(out.get(field), list) and isinstance(wanted, list) and mkey:
            rank = {(w.get(mkey) if isinstance(w, dict) else w): i for i, w in enumerate(wanted)}
            out[field] = sorted(out[field], key=lambda e: rank.get(e.get(mkey) if isinstance(e, dict) else e,
                                                                    len(rank)))
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain or k not in (target or {})}
    return out


def _merge_list(current: list[Any], patch: list[Any], key: str) -> list[Any]:
    out = [copy.deepcopy(e) for e in current]
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [copy.deepcopy(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    for item in patch:
        if not isinstance(item, dict):
            if item not in out:
                out.append(item)
            continue
        ident = item.get(key)
        idx = next((i for i, e in enumerate(out) if isinstance(e, dict) and e.get(key) == ident), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(strategic_merge(None, item))
        else:
            out[idx] = strategic_merge(out[idx], item)
    return out


def apply_patch(content_type: str, target: dict[str, Any], patch: Any, *, custom: bool, kind: str,
                qualified: str) -> dict[str, Any]:
    """Dispatch on the request's Content-Type; 415 for anything else, as the real server answers."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == JSON_PATCH:
        return json_patch(target, patch)
    if not isinstance(patch, dict):
        raise ApiError(400, "json: cannot unmarshal array into Go value of type map[string]interface {}",
                       "BadRequest")
    if ctype == MERGE_PATCH:
        return merge_patch(target, patch)
    if ctype == STRATEGIC and not custom:
        return strategic_merge(target, patch, service=(kind == "Service"))
    accepted = [JSON_PATCH, MERGE_PATCH, APPLY] + ([] if custom else [STRATEGIC])
    raise ApiError(415, "the body of the request was in an unknown format - accepted media types include: "
                   + ", ".join(accepted), "UnsupportedMediaType")
