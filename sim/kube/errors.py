"""`Status` error objects shaped exactly as kube-apiserver sends them."""

from __future__ import annotations

from typing import Any

REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
           406: "NotAcceptable", 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType", 422: "Invalid",
           429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}


class ApiError(Exception):
    """An error the server answers with a `Status` body."""

    def __init__(self, code: int, message: str, reason: str = "", details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": self.message, "reason": self.reason}
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    d["kind"] = kind
    return d


def not_found(qualified: str, name: str, group: str, plural: str) -> ApiError:
    return ApiError(404, f'{qualified} "{name}" not found', "NotFound", _details(name, group, plural))


def already_exists(qualified: str, name: str, group: str, plural: str) -> ApiError:
    return ApiError(409, f'{qualified} "{name}" already exists', "AlreadyExists", _details(name, group, plural))


def conflict(qualified: str, name: str, group: str, plural: str) -> ApiError:
    return ApiError(409, f'Operation cannot be fulfilled on {qualified} "{name}": the object has been modified; '
                    "please apply your changes to the latest version and try again", "Conflict",
                    _details(name, group, plural))


def invalid(qualified: str, kind: str, name: str, group: str, causes: list[tuple[str, str]]) -> ApiError:
    text = "; ".join(f"{field}: {msg}" for field, msg in causes)
    details = _details(name, group, kind.split(".")[0])
    details["causes"] = [{"reason": "FieldValueInvalid", "message": msg, "field": field} for field, msg in causes]
    return ApiError(422, f'{kind} "{name}" is invalid: {text}' if name else f"{kind} is invalid: {text}",
                    "Invalid", details)


def forbidden(qualified: str, name: str, user: str, verb: str, resource: str, group: str, namespace: str,
              plural: str) -> ApiError:
    who = f'{qualified} "{name}"' if name else qualified
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    return ApiError(403, f'{who} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group '
                    f'"{group}" {where}', "Forbidden", _details(name, group, plural))


def namespace_terminating(qualified: str, name: str, group: str, plural: str, namespace: str) -> ApiError:
    """The NamespaceLifecycle admission's refusal to create in a namespace being deleted."""
    details = _details(name, group, plural)
    details["causes"] = [{"reason": "NamespaceTerminating", "message": f"namespace {namespace} is being terminated",
                          "field": "metadata.namespace"}]
    return ApiError(403, f'{qualified} "{name}" is forbidden: unable to create new content in namespace {namespace} '
                    "because it is being terminated", "Forbidden", details)


def expired_event(rv: int, oldest: int) -> dict[str, Any]:
    """The one ERROR event a watch from a compacted resourceVersion carries (reason Expired, code 410)."""
    return {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                        "message": f"too old resource version: {rv} ({oldest})",
                                        "reason": "Expired", "code": 410}}
