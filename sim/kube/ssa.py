"""Server-side apply (`PATCH` with `application/apply-patch+yaml`): create or merge the applied
configuration, record field ownership in `metadata.managedFields` (FieldsV1), and refuse with the
real 409 when an applied field holds another manager's different value, unless `force`.

Simplified ownership model, enough for the outcomes of `kubectl apply --server-side`:
- a field is a leaf of the applied configuration (scalars, lists and empty maps); a list of objects
  that all carry `name` is associative (merged by name, `k:{"name":...}`), any other list is atomic;
- ownership is recorded for Apply operations only: other writes (PUT, merge/JSON/strategic patches,
  controllers) neither take nor drop ownership, so they never cause an apply conflict;
- fields an applier stops applying are removed when no other manager owns them;
- `status` and the metadata beyond labels and annotations are not applied through the main resource."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from mlops_tui.sim.kube.errors import ApiError
from mlops_tui.sim.kube.resources import ResourceType
from mlops_tui.sim.kube.store import Store, clone, now_iso

Obj = dict[str, Any]
Segment = str | tuple[str, str]  # a map key, or ("name", value): one item of an associative list
Path = tuple[Segment, ...]
PRESENT = object()  # the leaf value of an associative list item's own entry (`.`)
_SKIPPED = ("apiVersion", "kind", "status", "metadata")


def _associative(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(i, dict) and "name" in i for i in value)


def leaves(obj: Obj, prefix: Path = ()) -> dict[Path, Any]:
    out: dict[Path, Any] = {}
    for key, value in obj.items():
        path = (*prefix, key)
        if isinstance(value, dict) and value:
            out.update(leaves(value, path))
        elif _associative(value):
            for item in value:
                item_path = (*path, ("name", str(item["name"])))
                out[item_path] = PRESENT
                out.update(leaves(item, item_path))
        else:
            out[path] = value
    return out


def applied_fields(config: Obj) -> dict[Path, Any]:
    """The fields an applied configuration sets: its body, labels and annotations."""
    body = {k: v for k, v in config.items() if k not in _SKIPPED}
    meta = config.get("metadata") or {}
    owned = {k: meta[k] for k in ("labels", "annotations") if isinstance(meta.get(k), dict) and meta[k]}
    if owned:
        body["metadata"] = owned
    return leaves(body)


def _child(node: Any, seg: Segment, create: bool) -> Any:
    if isinstance(seg, tuple):
        if not isinstance(node, list):
            return None
        for item in node:
            if isinstance(item, dict) and str(item.get("name")) == seg[1]:
                return item
        if create:
            node.append({"name": seg[1]})
            return node[-1]
        return None
    if not isinstance(node, dict):
        return None
    if seg not in node and create:
        node[seg] = {}
    return node.get(seg)


def _get(obj: Obj, path: Path) -> Any:
    node: Any = obj
    for seg in path:
        node = _child(node, seg, False)
        if node is None:
            return None
    return PRESENT if isinstance(path[-1], tuple) else node


def _set(obj: Obj, path: Path, value: Any) -> None:
    node: Any = obj
    for i, seg in enumerate(path[:-1]):
        nxt = path[i + 1]
        if isinstance(seg, str) and isinstance(nxt, tuple) and not isinstance(node.get(seg), list):
            node[seg] = []  # an associative list starts empty
        node = _child(node, seg, True)
    last = path[-1]
    if isinstance(last, tuple):
        _child(node, last, True)
    else:
        node[last] = clone(value)


def _remove(obj: Obj, path: Path) -> None:
    parent: Any = obj
    for seg in path[:-1]:
        parent = _child(parent, seg, False)
        if parent is None:
            return
    last = path[-1]
    if isinstance(last, tuple) and isinstance(parent, list):
        parent[:] = [i for i in parent if not (isinstance(i, dict) and str(i.get("name")) == last[1])]
        if not parent:  # the last item gone: the list goes too
            _remove(obj, path[:-1])
    elif isinstance(parent, dict):
        parent.pop(last, None)


# -- FieldsV1 ----------------------------------------------------------------------------------------

def _key(seg: Segment) -> str:
    if isinstance(seg, tuple):
        return "k:" + orjson.dumps({seg[0]: seg[1]}).decode()
    return f"f:{seg}"


def encode(paths: set[Path]) -> Obj:
    tree: Obj = {}
    for path in sorted(paths, key=repr):
        node = tree
        for seg in path:
            node = node.setdefault(_key(seg), {})
        if isinstance(path[-1], tuple):
            node.setdefault(".", {})
    return tree


def decode(tree: Any, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    if not isinstance(tree, dict):
        return out
    for key, sub in tree.items():
        if key == ".":
            out.add(prefix)
            continue
        if key.startswith("f:"):
            seg: Segment = key[2:]
        elif key.startswith("k:"):
            try:
                name = orjson.loads(key[2:]).get("name")
            except (orjson.JSONDecodeError, AttributeError):
                continue
            seg = ("name", str(name))
        else:
            continue
        path = (*prefix, seg)
        if sub:
            out |= decode(sub, path)
        else:
            out.add(path)
    return out


def path_string(path: Path) -> str:
    return "".join(f'[name="{s[1]}"]' if isinstance(s, tuple) else f".{s}" for s in path)


# -- apply -------------------------------------------------------------------------------------------

def _who(entry: Obj) -> str:
    """structured-merge-diff's printManager: an Update manager names the API version it wrote with."""
    name = f'"{entry.get("manager", "")}"'
    if entry.get("operation") == "Update":
        return f"{name} using {entry.get('apiVersion', '')}"
    return name


def conflict_error(conflicts: list[tuple[Obj, Path]]) -> ApiError:
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {_who(e)}", "field": path_string(p)}
              for e, p in conflicts]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {_who(entry)}: {path_string(path)}"
    else:
        by_manager: dict[str, list[Path]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(_who(entry), []).append(path)
        lines = []
        for who in sorted(by_manager):
            lines.append(f"conflicts with {who}:")
            lines.extend(f"- {path_string(p)}" for p in by_manager[who])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, message, "Conflict", {"causes": causes})


def _entry(manager: str, rt: ResourceType, paths: set[Path]) -> Obj:
    return {"manager": manager, "operation": "Apply", "apiVersion": rt.api_version, "time": now_iso(),
            "fieldsType": "FieldsV1", "fieldsV1": encode(paths)}


def server_side_apply(store: Store, rt: ResourceType, namespace: str, name: str, config: Any, manager: str,
                      force: bool, validate: Callable[[Obj], None], dry_run: bool) -> tuple[Obj, bool]:
    """(the object after the apply, whether it was created)."""
    if not isinstance(config, dict):
        raise ApiError(400, "error decoding YAML: the applied configuration is not an object", "BadRequest")
    if not config.get("apiVersion") or not config.get("kind"):
        raise ApiError(400, "Object 'Kind' is missing in the applied configuration" if not config.get("kind")
                       else "Object 'apiVersion' is missing in the applied configuration", "BadRequest")
    meta = config.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise ApiError(400, "metadata must be an object", "BadRequest")
    if meta.get("name", name) != name:
        raise ApiError(400, f"the name of the object ({meta.get('name')}) does not match the name on the URL "
                       f"({name})", "BadRequest")
    fields = applied_fields(config)
    with store.lock:
        live = store.peek(rt.plural, namespace or None, name)
        if live is None:
            obj = clone(config)
            obj["metadata"]["name"] = name
            obj.pop("status", None)
            obj["metadata"]["managedFields"] = [_entry(manager, rt, set(fields))]
            validate(obj)
            if dry_run:
                return obj, True
            return store.create(rt.plural, namespace or None, obj), True
        merged = clone(live)
        entries = [e for e in merged["metadata"].get("managedFields") or () if isinstance(e, dict)]
        owned = [(e, decode(e.get("fieldsV1"))) for e in entries]
        mine = next((i for i, (e, _p) in enumerate(owned)
                     if e.get("manager") == manager and e.get("operation") == "Apply"), None)
        conflicts = [(e, path) for i, (e, paths) in enumerate(owned) if i != mine for path in sorted(fields, key=repr)
                     if path in paths and fields[path] is not PRESENT and _get(live, path) != fields[path]]
        if conflicts and not force:
            raise conflict_error(conflicts)
        for entry, path in conflicts:  # forced: the fields change hands
            next(paths for e, paths in owned if e is entry).discard(path)
        others = set().union(*(paths for i, (_e, paths) in enumerate(owned) if i != mine)) if owned else set()
        previous = owned[mine][1] if mine is not None else set()
        dropped = previous - set(fields) - others
        for path in dropped:  # no longer applied by anyone: the field goes (with what is under it)
            if not any(path[:i] in dropped for i in range(1, len(path))):
                _remove(merged, path)
        for path, value in fields.items():
            _set(merged, path, {} if value is PRESENT else value)
        kept = [{**e, "fieldsV1": encode(paths)} for i, (e, paths) in enumerate(owned) if i != mine and paths]
        merged["metadata"]["managedFields"] = [*kept, _entry(manager, rt, set(fields))]
        validate(merged)
        if dry_run:
            return merged, False
        return store.update(rt.plural, namespace or None, name, merged), False
