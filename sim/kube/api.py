"""Request semantics of kube-apiserver: routing, verbs, RBAC, lists, subresources, validation.

Transport-free: `Api.handle(...)` takes a parsed request and returns a `Response` (bytes, an iterator
of byte chunks for big lists, or a `WatchPlan` the HTTP layer streams)."""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from mlops_tui.sim.kube import discovery, errors, tables
from mlops_tui.sim.kube.auth import Auth, User, non_resource_rules, resource_rules
from mlops_tui.sim.kube.errors import ApiError
from mlops_tui.sim.kube.patch import APPLY, JSON_PATCH, MERGE_PATCH, STRATEGIC
from mlops_tui.sim.kube.resources import BY_PLURAL, VIRTUAL, ResourceType, group_versions, lookup
from mlops_tui.sim.kube.selectors import make_filter, selector_from_match, selector_string
from mlops_tui.sim.kube.store import Entry, Store, clone
from mlops_tui.sim.kube.workloads import admit_service_account, terminate_namespace

JSON = "application/json"
PAGE_CHUNK = 256 * 1024


@dataclass
class Route:
    rt: ResourceType
    namespace: str
    name: str
    subresource: str
    version: str


@dataclass
class WatchPlan:
    rt: ResourceType
    namespace: str
    since: int | None
    predicate: Callable[[dict[str, Any]], bool] | None
    timeout: float
    bookmarks: bool
    table: bool
    include: str
    initial_events_end: bool = False


@dataclass
class Response:
    status: int = 200
    body: bytes | Iterator[bytes] = b""
    content_type: str = JSON
    watch: WatchPlan | None = None
    headers: dict[str, str] = field(default_factory=dict)


def ok(obj: Any, status: int = 200) -> Response:
    return Response(status, orjson.dumps(obj))


def _parse_int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"invalid value for {what}: {value!r}", "BadRequest") from None


def _accept(headers: dict[str, str]) -> str:
    return headers.get("accept", "") or ""


def _wants(accept: str, as_kind: str) -> bool:
    for part in accept.split(","):
        params = [p.strip() for p in part.split(";")]
        if f"as={as_kind}" in params and params[0] in ("application/json", "*/*"):
            return True
    return False


class Api:
    """One simulated API server's request semantics over a `Store`."""

    def __init__(self, store: Store, auth: Auth, address: Callable[[], str]) -> None:
        self.store = store
        self.auth = auth
        self.address = address
        self.mutations = 0
        self.slow_services: set[str] = set()
        """Services whose pods log slow requests (the demo's latency regression)."""

    # -- entry ---------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes,
               user: User) -> Response:
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] not in ("api", "apis"):
            return self._non_resource(parts, path, headers)
        if parts[0] == "api":
            if len(parts) == 1:
                return ok(discovery.api_versions(self.address()))
            group, version, rest = "", parts[1], parts[2:]
        else:
            if len(parts) == 1:
                return ok(discovery.api_groups())
            if len(parts) == 2:
                doc = discovery.api_group(parts[1])
                if doc is None:
                    raise ApiError(404, "the server could not find the requested resource", "NotFound")
                return ok(doc)
            group, version, rest = parts[1], parts[2], parts[3:]
        if not rest:
            doc = discovery.resource_list(group, version)
            if doc is None:
                raise ApiError(404, "the server could not find the requested resource", "NotFound")
            return ok(doc)
        if group and group not in group_versions():
            # No API group of that name: the request falls through every mux to Go's plain NotFound.
            return Response(404, b"404 page not found\n", "text/plain; charset=utf-8")
        route = self._route(group, version, rest)
        return self._resource(method, route, query, headers, body, user)

    def _non_resource(self, parts: list[str], path: str, headers: dict[str, str]) -> Response:
        if parts == ["version"]:
            return ok(discovery.VERSION)
        if parts[:2] == ["openapi", "v3"]:
            from mlops_tui.sim.kube import openapi

            if len(parts) == 2:
                return ok(openapi.root())
            doc = openapi.group_version("/".join(parts[2:]))
            if doc is not None:
                return Response(200, doc)
        if parts == ["openapi", "v2"]:
            from mlops_tui.sim.kube import openapi

            if not openapi.v2_acceptable(_accept(headers)):
                return Response(406, b"", "text/plain; charset=utf-8", headers={"Vary": "Accept"})
            return Response(200, openapi.v2(), headers={"Vary": "Accept"})
        if parts and parts[0] in ("healthz", "livez", "readyz"):
            return Response(200, b"ok", "text/plain; charset=utf-8")
        raise ApiError(404, "the server could not find the requested resource", "NotFound",
                       {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]})

    def _route(self, group: str, version: str, rest: list[str]) -> Route:
        ns = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            candidate = lookup(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                ns, rest = rest[1], rest[2:]
        plural = rest[0]
        rt = lookup(group, version, plural)
        if rt is None or len(rest) > 3:
            # What kube-apiserver's go-restful container answers for a path it has no route for.
            raise ApiError(404, "the server could not find the requested resource", "NotFound", {})
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if sub and sub not in rt.subresources:
            raise ApiError(404, "the server could not find the requested resource", "NotFound")
        return Route(rt, ns, name, sub, version)

    # -- authorization -------------------------------------------------------------------------

    def _authorize(self, user: User, verb: str, route: Route) -> None:
        rt = route.rt
        if self.auth.allowed(user, verb, rt.plural, rt.group):
            return
        resource = f"{rt.plural}/{route.subresource}" if route.subresource else rt.plural
        raise errors.forbidden(rt.qualified, route.name, user.name, verb, resource, rt.group, route.namespace,
                               rt.plural)

    # -- resources -----------------------------------------------------------------------------

    def _resource(self, method: str, route: Route, query: dict[str, str], headers: dict[str, str], body: bytes,
                  user: User) -> Response:
        rt = route.rt
        if rt.plural in VIRTUAL:
            if method != "POST" or route.name:
                raise ApiError(405, "the server does not allow this method on the requested resource",
                               "MethodNotAllowed")
            ctype = (headers.get("content-type") or "").split(";")[0].strip().lower()
            if ctype == "application/vnd.kubernetes.protobuf":
                from mlops_tui.sim.kube.proto import decode_access_review

                try:
                    from mlops_tui.sim.kube.proto_objects import decode_rules_review

                    review = decode_access_review(body) if rt.plural == "selfsubjectaccessreviews" else \
                        decode_rules_review(body) if rt.plural == "selfsubjectrulesreviews" else {}
                except (ValueError, IndexError, UnicodeDecodeError) as exc:
                    raise ApiError(400, f"failed to decode protobuf body: {exc}", "BadRequest") from None
            else:
                review = self._json(body, headers)
            return self._review(rt, review, user)
        if route.subresource == "log":
            if method != "GET":
                raise ApiError(405, "the server does not allow this method on the requested resource",
                               "MethodNotAllowed")
            self._authorize(user, "get", route)
            return self._log(route, query)
        watching = query.get("watch") in ("true", "1")
        if method == "GET":
            verb = "watch" if watching else ("get" if route.name else "list")
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch",
                    "DELETE": "delete" if route.name else "deletecollection"}.get(method, "")
            if not verb or (method == "POST" and route.name) or (method in ("PUT", "PATCH") and not route.name):
                raise ApiError(405, "the server does not allow this method on the requested resource",
                               "MethodNotAllowed")
            self.mutations += 1
        self._authorize(user, verb, route)
        if verb == "watch":
            return self._watch(route, query, headers)
        if verb == "list":
            return self._list(route, query, headers)
        if verb == "get":
            return self._get(route, headers, query)
        options = self._delete_options(body, headers, query) if verb in ("delete", "deletecollection") else {}
        dry = _dry_run(query, options)
        if verb == "create":
            obj = self._json(body, headers)
            self._validate(rt, obj)
            if rt.plural == "pods":
                admit_service_account(self.store, route.namespace, obj)
            return self._one(self.store.create(rt.plural, route.namespace or None, obj, dry_run=dry), headers,
                             query, 201)
        if verb == "update":
            obj = self._json(body, headers)
            if route.subresource == "scale":
                return self._put_scale(route, obj, dry)
            if route.subresource != "status":
                self._validate(rt, obj)
            return self._one(self.store.update(rt.plural, route.namespace, route.name, obj, route.subresource,
                                               dry_run=dry), headers, query)
        if verb == "patch":
            return self._patch(route, headers, body, query, dry)
        if verb == "delete" and rt.plural == "namespaces":
            return self._one(terminate_namespace(self.store, route.name, dry), headers, query)
        if verb == "delete":
            return self._one(self.store.delete(rt.plural, route.namespace, route.name, options, dry), headers,
                             query)
        # deletecollection
        pred = make_filter(query.get("labelSelector", ""), query.get("fieldSelector", ""), rt.plural)
        gone = []
        for o in self.store.list(rt.plural, route.namespace or None, pred):
            with contextlib.suppress(ApiError):
                gone.append(self.store.delete(rt.plural, o["metadata"].get("namespace"), o["metadata"]["name"],
                                              options, dry))
        return ok({"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": {}, "items": gone})

    def _delete_options(self, body: bytes, headers: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
        """DeleteOptions from the body (kubectl, client libraries) or the query string (curl)."""
        options = self._json(body, headers) if body.strip() else {}
        if not isinstance(options, dict):
            raise ApiError(400, "couldn't get version/kind; json parse error: the body is not an object",
                           "BadRequest")
        if query.get("gracePeriodSeconds"):
            options.setdefault("gracePeriodSeconds", _parse_int(query["gracePeriodSeconds"], "gracePeriodSeconds"))
        grace = options.get("gracePeriodSeconds")
        if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
            raise ApiError(400, f"invalid value for gracePeriodSeconds: {grace!r}", "BadRequest")
        return options

    def _json(self, body: bytes, headers: dict[str, str]) -> Any:
        ctype = (headers.get("content-type") or JSON).split(";")[0].strip().lower()
        if ctype == "application/yaml":
            import yaml

            try:
                return yaml.safe_load(body.decode())
            except Exception as exc:
                raise ApiError(400, f"couldn't get version/kind; yaml parse error: {exc}", "BadRequest") from None
        if ctype == "application/vnd.kubernetes.protobuf":
            from mlops_tui.sim.kube.proto_objects import decode_object

            with contextlib.suppress(ValueError, IndexError, UnicodeDecodeError):
                return decode_object(body)
        if ctype not in ("application/json", "*/*", ""):
            raise ApiError(415, 'the body of the request was in an unknown format - accepted media types include: '
                           'application/json, application/yaml, application/vnd.kubernetes.protobuf',
                           "UnsupportedMediaType")
        try:
            return orjson.loads(body or b"null")
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, f"couldn't get version/kind; json parse error: {exc}", "BadRequest") from None

    def _validate(self, rt: ResourceType, obj: Any) -> None:
        if not isinstance(obj, dict):
            raise ApiError(400, "couldn't get version/kind; json parse error: the body is not an object",
                           "BadRequest")
        kind = obj.get("kind")
        if kind and kind != rt.kind:
            raise ApiError(400, f"the object provided is unrecognized (must be of type {rt.kind}): "
                           f"{kind} in version \"{obj.get('apiVersion', '')}\"", "BadRequest")
        name = (obj.get("metadata") or {}).get("name", "")
        causes: list[tuple[str, str]] = []
        spec = obj.get("spec")
        if rt.plural in ("deployments", "replicasets", "rollouts"):
            spec = spec if isinstance(spec, dict) else {}
            replicas = spec.get("replicas")
            if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
                causes.append(("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"))
            if rt.plural != "rollouts" or not spec.get("workloadRef"):
                sel = spec.get("selector")
                labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
                if not isinstance(sel, dict) or not sel:
                    causes.append(("spec.selector", "Required value"))
                else:
                    from mlops_tui.sim.kube.selectors import match_labels

                    if not match_labels(selector_from_match(sel), labels):
                        causes.append(("spec.template.metadata.labels",
                                       f"Invalid value: {labels!r}: `selector` does not match template `labels`"))
                if rt.plural != "rollouts" and not ((spec.get("template") or {}).get("spec") or {}).get("containers"):
                    causes.append(("spec.template.spec.containers", "Required value"))
        if rt.plural == "jobs":
            policy = ((((spec if isinstance(spec, dict) else {}).get("template") or {}).get("spec") or {})
                      .get("restartPolicy"))
            if policy is None:
                causes.append(("spec.template.spec.restartPolicy", 'Required value: valid values: "OnFailure", '
                               '"Never"'))
            elif policy not in ("OnFailure", "Never"):
                causes.append(("spec.template.spec.restartPolicy", f'Unsupported value: "{policy}": supported '
                               'values: "OnFailure", "Never"'))
        if causes:
            raise errors.invalid(rt.qualified, f"{rt.kind}.{rt.group}" if rt.group else rt.kind, name, rt.group,
                                 causes)

    # -- get / list ----------------------------------------------------------------------------

    def _one(self, obj: dict[str, Any], headers: dict[str, str], query: dict[str, str], status: int = 200,
             resource: str = "") -> Response:
        accept = _accept(headers)
        route_resource = resource or BY_PLURAL.get(obj.get("kind", "").lower() + "s", None)
        if _wants(accept, "Table"):
            plural = resource or next((r.plural for r in BY_PLURAL.values() if r.kind == obj.get("kind")), "")
            return ok(tables.table(plural, [obj], {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                                   query.get("includeObject", "Metadata")), status)
        if _wants(accept, "PartialObjectMetadata"):
            return ok({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                       "metadata": obj.get("metadata", {})}, status)
        del route_resource
        return ok(obj, status)

    def _log(self, route: Route, query: dict[str, str]) -> Response:
        from mlops_tui.sim.kube import podlogs

        pod = self.store.get("pods", route.namespace, route.name)
        name = str(pod["metadata"].get("name") or "")
        slow = any(name.startswith(f"{service}-") for service in self.slow_services) and self._serves_canary(pod)

        ns, uid = route.namespace, pod["metadata"].get("uid")

        def alive() -> bool:
            now = self.store.peek("pods", ns, name)
            return now is not None and now["metadata"].get("uid") == uid

        return Response(200, podlogs.plan(pod, query, slow, alive=alive), "text/plain")

    def _serves_canary(self, pod: dict[str, Any]) -> bool:
        """During a latency regression only the new version answers slowly: of an Argo Rollout's pods,
        those of its canary ReplicaSet (`currentPodHash`, while it differs from `stableRS`); any
        other workload's pods all run the regressed version."""
        meta = pod.get("metadata") or {}
        pod_hash = (meta.get("labels") or {}).get("rollouts-pod-template-hash")
        if not pod_hash:
            return True
        for owner in self.store.list("rollouts", meta.get("namespace")):
            status = owner.get("status") or {}
            if str(meta.get("name", "")).startswith(f"{owner['metadata']['name']}-{pod_hash}"):
                return pod_hash == status.get("currentPodHash") != status.get("stableRS")
        return True

    def _get(self, route: Route, headers: dict[str, str], query: dict[str, str]) -> Response:
        rt = route.rt
        if route.subresource == "scale":
            return ok(self._scale(route))
        entry = self.store.entry(rt.plural, route.namespace, route.name)
        accept = _accept(headers)
        if _wants(accept, "Table") or _wants(accept, "PartialObjectMetadata"):
            return self._one(orjson.loads(entry.raw), headers, query, resource=rt.plural)
        return Response(200, entry.raw)

    def _list(self, route: Route, query: dict[str, str], headers: dict[str, str]) -> Response:
        rt = route.rt
        pred = make_filter(query.get("labelSelector", ""), query.get("fieldSelector", ""), rt.plural)
        limit = _parse_int(query["limit"], "limit") if query.get("limit") else 0
        start = None
        list_rv = None
        if query.get("continue"):
            try:
                token = orjson.loads(base64.urlsafe_b64decode(query["continue"].encode()))
                start, list_rv = tuple(token["start"]), int(token["rv"])
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
                raise ApiError(400, "continue key is not valid: illegal base64 data at input byte 0",
                               "BadRequest") from None
            if list_rv < self.store.continue_floor:
                raise ApiError(410, "The provided continue parameter is too old to display a consistent list "
                               "result. You can start a new list without the continue parameter.", "Expired")
        ns = route.namespace or None
        with self.store.lock:
            rv = list_rv or self.store.rv
            chosen: list[Entry] = []
            more = False
            last_key = None
            remaining = 0
            it = self.store.entries(rt.plural, ns, start)
            for key, entry in it:
                if pred is not None and not pred(entry.obj):
                    continue
                if limit and len(chosen) >= limit:
                    more = True
                    if pred is None:
                        remaining = self._remaining(rt.plural, ns, last_key)
                    break
                chosen.append(entry)
                last_key = key
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if more and last_key is not None:
            meta["continue"] = base64.urlsafe_b64encode(orjson.dumps({"rv": rv, "start": list(last_key)})).decode()
            if remaining:
                meta["remainingItemCount"] = remaining
        accept = _accept(headers)
        if _wants(accept, "Table"):
            objs = [e.obj for e in chosen]
            return ok(tables.table(rt.plural, objs, meta, query.get("includeObject", "Metadata")))
        if _wants(accept, "PartialObjectMetadataList"):
            return ok({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                       "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                  "metadata": e.obj.get("metadata", {})} for e in chosen]})
        head = (b'{"kind":"' + rt.kind.encode() + b'List","apiVersion":"' + rt.api_version.encode()
                + b'","metadata":' + orjson.dumps(meta) + b',"items":[')
        if len(chosen) <= 500:
            return Response(200, head + b",".join(e.raw for e in chosen) + b"]}")
        return Response(200, _stream_items(head, chosen))

    def _remaining(self, resource: str, ns: str | None, last: Any) -> int:
        """Objects after `last` (in this namespace), by bisection on the sorted keys."""
        import bisect

        keys = self.store.keys(resource)
        end = bisect.bisect_left(keys, (ns + "\x00", "")) if ns else len(keys)
        return max(0, end - bisect.bisect_right(keys, last))

    # -- watch ---------------------------------------------------------------------------------

    def _watch(self, route: Route, query: dict[str, str], headers: dict[str, str]) -> Response:
        rt = route.rt
        pred = make_filter(query.get("labelSelector", ""), query.get("fieldSelector", ""), rt.plural)
        if route.name:  # legacy /watch on a single object
            name_pred = pred
            def pred(o, n=route.name, p=name_pred):
                return (o["metadata"].get("name") == n and (p is None or p(o)))
        rv_text = query.get("resourceVersion", "")
        since: int | None
        since = None if rv_text in ("", "0") else _parse_int(rv_text, "resourceVersion")
        initial_end = False
        if query.get("sendInitialEvents") == "true":
            since, initial_end = None, True
        timeout = float(_parse_int(query["timeoutSeconds"], "timeoutSeconds")) if query.get("timeoutSeconds") \
            else 1800.0
        return Response(watch=WatchPlan(rt, route.namespace, since, pred, timeout,
                                        query.get("allowWatchBookmarks") in ("true", "1") or initial_end,
                                        _wants(_accept(headers), "Table"), query.get("includeObject", "Metadata"),
                                        initial_end))

    # -- writes --------------------------------------------------------------------------------

    def _patch(self, route: Route, headers: dict[str, str], body: bytes, query: dict[str, str],
               dry: bool = False) -> Response:
        rt = route.rt
        ctype = (headers.get("content-type") or "").split(";")[0].strip().lower()
        if ctype not in (JSON_PATCH, MERGE_PATCH, STRATEGIC, APPLY):
            accepted = [JSON_PATCH, MERGE_PATCH, APPLY] + ([] if rt.custom else [STRATEGIC])
            raise ApiError(415, "the body of the request was in an unknown format - accepted media types include: "
                           + ", ".join(accepted), "UnsupportedMediaType")
        if ctype == APPLY:
            return self._apply(route, body, query, headers)
        try:
            patch = orjson.loads(body or b"null")
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, f"error decoding patch: {exc}", "BadRequest") from None
        if route.subresource == "scale":
            from mlops_tui.sim.kube.patch import apply_patch

            # One atomic read-patch-write, as the API server's GuaranteedUpdate: a JSON-patch `test`
            # (kubectl --current-replicas semantics) is checked against the count the write replaces.
            with self.store.lock:
                scale = self._scale(route)
                new = apply_patch(ctype, scale, patch, custom=False, kind="Scale", qualified="scale")
                return self._put_scale(route, new, dry)
        # What the patch would produce is validated before it is stored (a negative replica count is a 422).
        check = None if route.subresource == "status" else (lambda obj: self._validate(rt, obj))
        result = self.store.patch(rt.plural, route.namespace, route.name, patch, ctype, route.subresource, check,
                                  dry_run=dry)
        return self._one(result, headers, query)

    def _apply(self, route: Route, body: bytes, query: dict[str, str], headers: dict[str, str]) -> Response:
        import yaml

        from mlops_tui.sim.kube.ssa import server_side_apply

        rt = route.rt
        if route.subresource:
            raise ApiError(415, "the body of the request was in an unknown format - accepted media types include: "
                           f"{JSON_PATCH}, {MERGE_PATCH}", "UnsupportedMediaType")
        manager = query.get("fieldManager", "")
        if not manager:
            raise errors.invalid("", "PatchOptions.meta.k8s.io", "", "meta.k8s.io",
                                 [("fieldManager", "Required value: is required for apply patch")])
        try:
            config = yaml.safe_load(body.decode() or "null")
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"error decoding YAML: {exc}", "BadRequest") from None
        obj, created = server_side_apply(self.store, rt, route.namespace, route.name, config, manager,
                                         query.get("force") == "true", lambda o: self._validate(rt, o),
                                         query.get("dryRun") == "All")
        return self._one(obj, headers, query, 201 if created else 200)

    # -- scale subresource ---------------------------------------------------------------------

    def _scale(self, route: Route, obj: dict[str, Any] | None = None) -> dict[str, Any]:
        """The Scale of the object at `route` (or of `obj`, what a dry run would have stored)."""
        obj = obj if obj is not None else self.store.get(route.rt.plural, route.namespace, route.name)
        meta = obj["metadata"]
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if route.rt.plural == "rollouts":
            selector = status.get("selector") or selector_string(spec.get("selector"))
            current = status.get("HPAReplicas", status.get("replicas", 0))
        else:
            selector = selector_string(spec.get("selector"))
            current = status.get("replicas", 0)
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                  "creationTimestamp") if k in meta},
                "spec": {"replicas": spec.get("replicas", 1)},
                "status": {"replicas": current, "selector": selector}}

    def _put_scale(self, route: Route, scale: Any, dry: bool = False) -> Response:
        rt = route.rt
        if not isinstance(scale, dict):
            raise ApiError(400, "couldn't get version/kind; json parse error", "BadRequest")
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid(rt.qualified, "Scale.autoscaling", route.name, "autoscaling",
                                 [("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")])
        patch: dict[str, Any] = {"spec": {"replicas": replicas}}
        sent_rv = (scale.get("metadata") or {}).get("resourceVersion")
        if sent_rv:
            patch["metadata"] = {"resourceVersion": sent_rv}
        stored = self.store.patch(rt.plural, route.namespace, route.name, patch, MERGE_PATCH, dry_run=dry)
        return ok(self._scale(route, stored if dry else None))

    # -- reviews ---------------------------------------------------------------------------------

    def _review(self, rt: ResourceType, body: Any, user: User) -> Response:
        body = body if isinstance(body, dict) else {}
        if rt.plural == "selfsubjectreviews":
            return ok({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                       "metadata": {"creationTimestamp": None},
                       "status": {"userInfo": {"username": user.name, "groups": list(user.groups)}}}, 201)
        spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
        if rt.plural == "selfsubjectrulesreviews":
            # One ClusterRole per user here, bound cluster-wide: the same rules in every namespace.
            return ok({"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
                       "metadata": {"creationTimestamp": None}, "spec": spec,
                       "status": {"resourceRules": resource_rules(user), "nonResourceRules": non_resource_rules(user),
                                  "incomplete": False}}, 201)
        attrs = spec.get("resourceAttributes")
        if isinstance(attrs, dict):
            allowed = self.auth.allowed(user, str(attrs.get("verb", "")), str(attrs.get("resource", "")),
                                        str(attrs.get("group", "")))
        else:
            non = spec.get("nonResourceAttributes") or {}
            allowed = self.auth.allowed_non_resource(user, str(non.get("verb", "")), str(non.get("path", "")))
        status: dict[str, Any] = {"allowed": allowed}
        if allowed and user.admin:
            status["reason"] = ('RBAC: allowed by ClusterRoleBinding "sim-admin" of ClusterRole "cluster-admin" '
                                'to User "sim-admin"')
        elif allowed:
            status["reason"] = ('RBAC: allowed by ClusterRoleBinding "sim-viewer" of ClusterRole "view" to User '
                                '"sim-viewer"')
        return ok({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                   "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}, 201)


def _dry_run(query: dict[str, str], options: dict[str, Any]) -> bool:
    """`dryRun=All` (query, or DeleteOptions.dryRun); any other value is refused as the real server does."""
    values = [query["dryRun"]] if "dryRun" in query else []
    sent = options.get("dryRun")
    values += [str(v) for v in sent] if isinstance(sent, list) else []
    bad = [v for v in values if v != "All"]
    if bad:
        raise ApiError(400, f'Invalid dry run value: unsupported dry run value "{bad[0]}"; supported values: "All"',
                       "BadRequest")
    return bool(values)


def _stream_items(head: bytes, chosen: list[Any]) -> Iterator[bytes]:
    """A big list as ~256 KB chunks: no single giant bytes object."""
    buf = [head]
    size = len(head)
    first = True
    for entry in chosen:
        raw = entry.raw
        if not first:
            buf.append(b",")
        first = False
        buf.append(raw)
        size += len(raw) + 1
        if size >= PAGE_CHUNK:
            yield b"".join(buf)
            buf, size = [], 0
    buf.append(b"]}")
    yield b"".join(buf)


def clone_obj(obj: Any) -> Any:
    return clone(obj)


def now() -> float:
    return time.time()
