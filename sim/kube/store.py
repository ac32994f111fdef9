"""The object store: resourceVersions, serialized-bytes cache, bounded watch history and watchers.

Every stored object is treated as immutable once stored: a change stores a new dict, so the cached
orjson bytes of an object stay valid until it changes. One lock guards everything; the work done
under it is small (no serialization of big lists, no I/O)."""

from __future__ import annotations

import bisect
import builtins
import queue
import random
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import orjson

from mlops_tui.sim.kube import defaults, errors, pods
from mlops_tui.sim.kube.clusterips import ClusterIPs
from mlops_tui.sim.kube.errors import ApiError
from mlops_tui.sim.kube.patch import MERGE_PATCH, apply_patch
from mlops_tui.sim.kube.resources import BY_PLURAL, ResourceType

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects
Listener = Callable[[str, str, dict[str, Any], dict[str, Any] | None], None]

WITH_GENERATION = frozenset({"deployments", "replicasets", "horizontalpodautoscalers", "rollouts",
                             "inferenceservices", "virtualservices", "jobs", "daemonsets"})


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def clone(obj: Any) -> Any:
    """A deep copy of a JSON value (orjson round trip: faster than copy.deepcopy)."""
    return orjson.loads(orjson.dumps(obj))


class Entry:
    __slots__ = ("_raw", "obj")

    def __init__(self, obj: dict[str, Any], raw: bytes | None = None) -> None:
        self.obj = obj
        self._raw = raw

    @property
    def raw(self) -> bytes:
        raw = self._raw
        if raw is None:
            raw = self._raw = orjson.dumps(self.obj)
        return raw


class WatchEvent:
    __slots__ = ("entry", "old", "resource", "rv", "type")

    def __init__(self, type_: str, rv: int, resource: str, entry: Entry, old: dict[str, Any] | None) -> None:
        self.type = type_
        self.rv = rv
        self.resource = resource
        self.entry = entry
        self.old = old

    def line(self) -> bytes:
        return b'{"type":"' + self.type.encode() + b'","object":' + self.entry.raw + b"}\n"


class Watcher:
    """One open watch: the store puts events in its queue; the HTTP thread filters and writes them."""

    def __init__(self, resource: str) -> None:
        self.resource = resource
        self.queue: queue.SimpleQueue[WatchEvent | None] = queue.SimpleQueue()
        self.closed = False

    def close(self) -> None:
        self.closed = True
        self.queue.put(None)


class Store:
    """Thread-safe object store. Mutators notify watchers and controller listeners."""

    def __init__(self, history: int = 1000, seed: int = 0) -> None:
        self.lock = threading.RLock()
        self.rv = 1
        self._objects: dict[str, dict[Key, Entry]] = {r: {} for r in BY_PLURAL}
        self._sorted: dict[str, list[Key] | None] = {r: None for r in BY_PLURAL}
        self._history: dict[str, deque[WatchEvent]] = {r: deque(maxlen=max(1, history)) for r in BY_PLURAL}
        self._compacted: dict[str, int] = {r: 0 for r in BY_PLURAL}
        self.continue_floor = 0
        self._watchers: dict[str, set[Watcher]] = {r: set() for r in BY_PLURAL}
        self._listeners: list[Listener] = []
        self._rng = random.Random(seed)
        self.cluster_ips = ClusterIPs(seed)

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def rtype(resource: str) -> ResourceType:
        rt = BY_PLURAL.get(resource)
        if rt is None:
            raise ApiError(404, f"the server could not find the requested resource ({resource})", "NotFound")
        return rt

    def new_uid(self) -> str:
        with self.lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def subscribe(self, listener: Listener) -> None:
        with self.lock:
            self._listeners.append(listener)

    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> Key:
        return (namespace or "") if rt.namespaced else "", name

    def _commit(self, resource: str, type_: str, key: Key, obj: dict[str, Any] | None,
                old: dict[str, Any] | None) -> Entry:
        """Store (or remove) one object under a new resourceVersion and tell everyone. Lock held."""
        self.rv += 1
        rv = self.rv
        if type_ == "DELETED":
            assert old is not None
            obj = dict(old)
            obj["metadata"] = {**old.get("metadata", {}), "resourceVersion": str(rv)}
            entry = Entry(obj)
            del self._objects[resource][key]
            if resource == "services":
                self.cluster_ips.release(old)
            self._sorted[resource] = None
        else:
            assert obj is not None
            obj["metadata"]["resourceVersion"] = str(rv)
            entry = Entry(obj)
            if key not in self._objects[resource]:
                self._sorted[resource] = None
            self._objects[resource][key] = entry
        event = WatchEvent(type_, rv, resource, entry, old)
        hist = self._history[resource]
        if len(hist) == hist.maxlen:
            self._compacted[resource] = hist[0].rv
        hist.append(event)
        for w in self._watchers[resource]:
            w.queue.put(event)
        for listener in self._listeners:
            listener(resource, type_, entry.obj, old)
        return entry

    # -- reads -------------------------------------------------------------------------------

    def entry(self, resource: str, namespace: str | None, name: str) -> Entry:
        rt = self.rtype(resource)
        with self.lock:
            e = self._objects[resource].get(self._key(rt, namespace, name))
        if e is None:
            raise errors.not_found(rt.qualified, name, rt.group, rt.plural)
        return e

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        """A private deep copy of one object (404 `ApiError` if missing)."""
        return orjson.loads(self.entry(resource, namespace, name).raw)

    def peek(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The stored object itself, read-only, or None (for controllers: never mutate it)."""
        rt = self.rtype(resource)
        with self.lock:
            e = self._objects[resource].get(self._key(rt, namespace, name))
        return e.obj if e else None

    def keys(self, resource: str) -> list[Key]:
        """Every key of a resource in (namespace, name) order (cached until an object comes or goes)."""
        with self.lock:
            keys = self._sorted[resource]
            if keys is None:
                keys = self._sorted[resource] = sorted(self._objects[resource])
            return keys

    def entries(self, resource: str, namespace: str | None = None, start: Key | None = None
                ) -> Iterator[tuple[Key, Entry]]:
        """Entries in key order, from `start` (exclusive), optionally one namespace only."""
        keys = self.keys(resource)
        objects = self._objects[resource]
        i = bisect.bisect_left(keys, (namespace, "")) if namespace else 0
        if start is not None:
            i = max(i, bisect.bisect_right(keys, start))
        for key in keys[i:]:
            if namespace and key[0] != namespace:
                break
            e = objects.get(key)
            if e is not None:
                yield key, e

    def list(self, resource: str, namespace: str | None = None,
             predicate: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        """Private copies of the matching objects."""
        self.rtype(resource)
        with self.lock:
            found = [e for _k, e in self.entries(resource, namespace) if predicate is None or predicate(e.obj)]
        return [orjson.loads(e.raw) for e in found]

    def peek_all(self, resource: str, namespace: str | None = None) -> builtins.list[dict[str, Any]]:
        """The stored objects themselves (read-only), for controllers."""
        with self.lock:
            if namespace is None:
                return [e.obj for e in self._objects[resource].values()]
            return [e.obj for _k, e in self.entries(resource, namespace)]

    def count(self, resource: str) -> int:
        return len(self._objects[resource])

    # -- writes ------------------------------------------------------------------------------

    def _prepare_new(self, rt: ResourceType, namespace: str | None, obj: dict[str, Any]) -> dict[str, Any]:
        obj = clone(obj)
        if not isinstance(obj, dict):
            raise ApiError(400, "the body of the request was not a JSON object", "BadRequest")
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        if not meta.get("name") and meta.get("generateName"):
            alphabet = "bcdfghjklmnpqrstvwxz2456789"
            with self.lock:
                meta["name"] = meta["generateName"] + "".join(self._rng.choice(alphabet) for _ in range(5))
        name = meta.get("name")
        if not name or not isinstance(name, str):
            raise errors.invalid(rt.qualified, rt.kind, "", rt.group,
                                 [("metadata.name", "Required value: name or generateName is required")])
        if rt.namespaced:
            ns = namespace or meta.get("namespace") or "default"
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise ApiError(400, "the namespace of the provided object does not match the namespace sent "
                               "on the request", "BadRequest")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        meta["uid"] = meta.get("uid") or self.new_uid()
        meta["creationTimestamp"] = meta.get("creationTimestamp") or now_iso()
        if rt.plural in WITH_GENERATION:
            meta["generation"] = 1
        meta.pop("resourceVersion", None)
        defaults.apply(rt.plural, obj)
        if rt.plural == "pods":
            obj["status"] = pods.initial_status(obj.get("spec"))
        return obj

    def create(self, resource: str, namespace: str | None, obj: dict[str, Any], dry_run: bool = False
               ) -> dict[str, Any]:
        """Store a new object; `dry_run`: answer what would be stored and store nothing."""
        rt = self.rtype(resource)
        obj = self._prepare_new(rt, namespace, obj)
        meta = obj["metadata"]
        key = self._key(rt, meta.get("namespace"), meta["name"])
        with self.lock:
            if rt.namespaced and ("", key[0]) not in self._objects["namespaces"]:
                raise errors.not_found("namespaces", key[0], "", "namespaces")
            if rt.namespaced and self._objects["namespaces"][("", key[0])].obj["metadata"].get("deletionTimestamp"):
                raise errors.namespace_terminating(rt.qualified, key[1], rt.group, rt.plural, key[0])
            if key in self._objects[resource]:
                raise errors.already_exists(rt.qualified, key[1], rt.group, rt.plural)
            if resource == "services":
                self.cluster_ips.assign(obj, dry_run)
            if dry_run:
                return obj
            entry = self._commit(resource, "ADDED", key, obj, None)
        return orjson.loads(entry.raw)

    def bulk_load(self, resource: str, objs: builtins.list[dict[str, Any]]) -> None:
        """Insert many prepared objects at once (fleet seeding): no watch events, no listeners.

        Older resourceVersions of this resource then answer 410, as after an etcd compaction."""
        rt = self.rtype(resource)
        with self.lock:
            table = self._objects[resource]
            for obj in objs:
                self.rv += 1
                meta = obj["metadata"]
                meta["resourceVersion"] = str(self.rv)
                table[self._key(rt, meta.get("namespace"), meta["name"])] = Entry(obj)
                if resource == "services":
                    self.cluster_ips.reserve(obj)
            self._sorted[resource] = None
            self._history[resource].clear()
            self._compacted[resource] = self.rv

    def insert_raw(self, resource: str, key: Key, obj: Any) -> None:
        """Store `obj` under `key` exactly as given: no defaults, no validation, no watch event, no
        controller told (a loose CRD schema or a broken aggregated API serves such objects; tests of a
        client's tolerance use it). Lists serve it from now on; a watch sees it after a relist."""
        self.rtype(resource)
        with self.lock:
            self._objects[resource][key] = Entry(obj)
            self._sorted[resource] = None

    def update(self, resource: str, namespace: str | None, name: str, obj: dict[str, Any],
               subresource: str = "", *, check_rv: bool = True, dry_run: bool = False) -> dict[str, Any]:
        """Replace an object (PUT). A stale `metadata.resourceVersion` is a 409 Conflict."""
        rt = self.rtype(resource)
        new = clone(obj)
        if not isinstance(new, dict):
            raise ApiError(400, "the body of the request was not a JSON object", "BadRequest")
        with self.lock:
            key = self._key(rt, namespace, name)
            current = self._objects[resource].get(key)
            if current is None:
                raise errors.not_found(rt.qualified, name, rt.group, rt.plural)
            entry = self._update_locked(rt, key, current.obj, new, subresource, check_rv, dry_run)
        return orjson.loads(entry.raw)

    def _update_locked(self, rt: ResourceType, key: Key, old: dict[str, Any], new: dict[str, Any],
                       subresource: str, check_rv: bool, dry_run: bool = False) -> Entry:
        meta = new.get("metadata")
        if not isinstance(meta, dict):
            meta = new["metadata"] = {}
        old_meta = old["metadata"]
        sent_rv = meta.get("resourceVersion")
        if check_rv and sent_rv not in (None, "") and str(sent_rv) != old_meta["resourceVersion"]:
            raise errors.conflict(rt.qualified, key[1], rt.group, rt.plural)
        if meta.get("name") not in (None, key[1]):
            raise ApiError(400, f"the name of the object ({meta.get('name')}) does not match the name on the URL "
                           f"({key[1]})", "BadRequest")
        if subresource == "status":
            merged = dict(old)
            merged["status"] = new.get("status")
            if merged["status"] is None:
                merged.pop("status")
            merged["metadata"] = dict(old_meta)
            new = merged
        else:
            if "status" in rt.subresources:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            defaults.apply(rt.plural, new)
            for field in ("uid", "creationTimestamp", "namespace", "name"):
                if field in old_meta:
                    meta[field] = old_meta[field]
            if "managedFields" in old_meta and "managedFields" not in meta:
                meta["managedFields"] = old_meta["managedFields"]  # omitted in a PUT means unchanged
            # Only a DELETE starts (or shortens) termination; an update neither sets nor clears it.
            for field in ("deletionTimestamp", "deletionGracePeriodSeconds"):
                if field in old_meta:
                    meta[field] = old_meta[field]
                else:
                    meta.pop(field, None)
            if rt.plural == "services":
                self.cluster_ips.keep(old, new)
            if rt.plural in WITH_GENERATION:
                gen = int(old_meta.get("generation") or 1)
                spec_changed = {k: v for k, v in new.items() if k not in ("metadata", "status", "apiVersion",
                                                                              "kind")} != \
                    {k: v for k, v in old.items() if k not in ("metadata", "status", "apiVersion", "kind")}
                meta["generation"] = gen + 1 if spec_changed else gen
        new["apiVersion"] = old.get("apiVersion", rt.api_version)
        new["kind"] = rt.kind
        if new == old:
            # No-op updates keep the resourceVersion and send no watch event, as on a real server.
            return self._objects[rt.plural][key]
        if dry_run:  # what would be stored, under the resourceVersion it still has
            new["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
            return Entry(new)
        return self._commit(rt.plural, "MODIFIED", key, new, old)

    def put(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Controllers' write: store `obj` (a fresh dict they own) as it is, with a new resourceVersion.

        No precondition, no status/spec split: the caller read the object under `lock` and holds it."""
        rt = self.rtype(resource)
        meta = obj["metadata"]
        key = self._key(rt, meta.get("namespace"), meta["name"])
        with self.lock:
            old = self._objects[resource].get(key)
            if old is not None:  # termination is one way: a controller's stale copy cannot undo it
                for field in ("deletionTimestamp", "deletionGracePeriodSeconds"):
                    if field in old.obj["metadata"]:
                        meta[field] = old.obj["metadata"][field]
            if old is not None and old.obj == obj:
                return old.obj
            if old is not None and resource in WITH_GENERATION:
                strip = ("metadata", "status")
                if {k: v for k, v in obj.items() if k not in strip} != \
                        {k: v for k, v in old.obj.items() if k not in strip}:
                    meta["generation"] = int(old.obj["metadata"].get("generation") or 1) + 1
            return self._commit(resource, "MODIFIED" if old else "ADDED", key, obj,
                                old.obj if old else None).obj

    def patch(self, resource: str, namespace: str | None, name: str, patch: Any,
              content_type: str = MERGE_PATCH, subresource: str = "",
              validate: Callable[[dict[str, Any]], None] | None = None, dry_run: bool = False) -> dict[str, Any]:
        """Apply a patch (merge, strategic or JSON) atomically; a resourceVersion in it is a precondition."""
        rt = self.rtype(resource)
        with self.lock:
            key = self._key(rt, namespace, name)
            current = self._objects[resource].get(key)
            if current is None:
                raise errors.not_found(rt.qualified, name, rt.group, rt.plural)
            base = orjson.loads(current.raw)
            patched = apply_patch(content_type, base, patch, custom=rt.custom, kind=rt.kind,
                                  qualified=rt.qualified)
            if not isinstance(patched, dict):
                raise ApiError(422, "the server rejected our request due to an error in our request", "Invalid")
            patched.setdefault("metadata", {})
            if validate is not None:
                validate(patched)
            sent = patched["metadata"].get("resourceVersion")
            check = sent not in (None, "") and str(sent) != current.obj["metadata"]["resourceVersion"]
            if not check:
                patched["metadata"]["resourceVersion"] = current.obj["metadata"]["resourceVersion"]
            entry = self._update_locked(rt, key, current.obj, patched, subresource, check_rv=True,
                                        dry_run=dry_run)
        return orjson.loads(entry.raw)

    def delete(self, resource: str, namespace: str | None, name: str, options: dict[str, Any] | None = None,
               dry_run: bool = False) -> dict[str, Any]:
        """Delete an object; `options` is the request's DeleteOptions. A pod running on a node is only
        marked (deletionTimestamp, deletionGracePeriodSeconds) and stays until its grace ends and the
        kubelet (controllers) deletes it with grace 0; `dry_run` answers the same and changes nothing."""
        rt = self.rtype(resource)
        options = options or {}
        with self.lock:
            key = self._key(rt, namespace, name)
            current = self._objects[resource].get(key)
            if current is None:
                raise errors.not_found(rt.qualified, name, rt.group, rt.plural)
            _check_preconditions(rt, name, current.obj, options.get("preconditions"))
            grace = pods.grace_seconds(current.obj, options) if resource == "pods" else 0
            if grace > 0:
                marked = pods.begin_termination(current.obj, grace)
                if marked is None:
                    return orjson.loads(current.raw)
                if dry_run:
                    return clone(marked)
                return orjson.loads(self._commit(resource, "MODIFIED", key, clone(marked), current.obj).raw)
            if dry_run:
                return orjson.loads(current.raw)
            entry = self._commit(resource, "DELETED", key, None, current.obj)
            if resource == "namespaces":
                for other, table in self._objects.items():
                    if BY_PLURAL[other].namespaced:
                        for k in [k for k in table if k[0] == name]:
                            self._commit(other, "DELETED", k, None, table[k].obj)
        return orjson.loads(entry.raw)

    # -- watch -------------------------------------------------------------------------------

    def watch(self, resource: str, since: int | None, namespace: str | None
              ) -> tuple[Watcher | None, builtins.list[WatchEvent], int | None]:
        """Register a watcher. Returns (watcher, events to replay first, expired-floor).

        `since` None means "current state then changes" (synthetic ADDED events). If `since` is older
        than the history holds, returns (None, [], floor) and the caller sends the 410 ERROR event."""
        self.rtype(resource)
        with self.lock:
            if since is not None and since < self._compacted[resource]:
                return None, [], self._compacted[resource]
            replay: list[WatchEvent]
            if since is None:
                replay = [WatchEvent("ADDED", int(e.obj["metadata"]["resourceVersion"]), resource, e, None)
                          for _k, e in self.entries(resource, namespace)]
            else:
                replay = [ev for ev in self._history[resource] if ev.rv > since]
            w = Watcher(resource)
            self._watchers[resource].add(w)
            return w, replay, None

    def unwatch(self, w: Watcher) -> None:
        with self.lock:
            self._watchers[w.resource].discard(w)

    def close_watches(self) -> None:
        with self.lock:
            for ws in self._watchers.values():
                for w in ws:
                    w.close()

    def compact(self) -> None:
        """Forget the watch history: every resourceVersion older than now answers 410 Expired."""
        with self.lock:
            self.rv += 1
            for r in self._history:
                self._history[r].clear()
                self._compacted[r] = self.rv
            self.continue_floor = self.rv


def _check_preconditions(rt: ResourceType, name: str, obj: dict[str, Any], pre: Any) -> None:
    """DeleteOptions.preconditions: a uid or resourceVersion that no longer matches is a 409."""
    if not isinstance(pre, dict):
        return
    meta = obj["metadata"]
    for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        want = pre.get(field)
        if want not in (None, "") and str(want) != str(meta.get(field)):
            raise ApiError(409, f"Operation cannot be fulfilled on {rt.qualified} \"{name}\": Precondition "
                           f"failed: {label} in precondition: {want}, {label} in object meta: {meta.get(field)}",
                           "Conflict", {"name": name, "group": rt.group, "kind": rt.plural} if rt.group else
                           {"name": name, "kind": rt.plural})
