"""How dockerd reads query parameters and JSON bodies (moby api/server/httputils, Go's strconv and
encoding/json), so a client gets the same answer for the same spelling."""

from __future__ import annotations

import json
from typing import Any

from .state import ApiError

_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(name: str, value: str | None) -> bool:
    """strconv.ParseBool, as dockerd reads `status` and `insertDefaults`: `True` (the SDK's spelling) is
    true, and a spelling Go does not know is a 400, not a silent false."""
    if not value:
        return False
    if value in _GO_TRUE or value in _GO_FALSE:
        return value in _GO_TRUE
    raise ApiError(400, f'invalid value for {name}: {value}: strconv.ParseBool: parsing "{value}": invalid syntax')


# Python's json messages mapped to the words of Go's encoding/json SyntaxError.
_GO_CONTEXT = {"Expecting value": "looking for beginning of value",
               "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
               "Expecting ':' delimiter": "after object key",
               "Expecting ',' delimiter": "after object key:value pair or array element",
               "Extra data": "after top-level value"}


_GO_KIND = {list: "array", str: "string", int: "number", float: "number", bool: "bool"}


def json_body(raw: bytes, go_type: str) -> dict[str, Any]:
    """The request body decoded into `go_type` as dockerd does: empty → 400 'got EOF…', malformed or not
    an object → 400 with Go's wording; `null` is an empty spec, as Go leaves the struct zero."""
    if not raw.strip():
        raise ApiError(400, "got EOF while reading request body")
    try:
        data = json.loads(raw)
    except ValueError as e:
        pos = getattr(e, "pos", len(raw))
        text = raw.decode("utf-8", "replace")
        if pos >= len(text.rstrip()):
            raise ApiError(400, "unexpected EOF") from None
        context = _GO_CONTEXT.get(getattr(e, "msg", ""), "in JSON")
        raise ApiError(400, f"invalid character {text[pos]!r} {context}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = _GO_KIND.get(type(data), "value")
        raise ApiError(400, f"json: cannot unmarshal {kind} into Go value of type {go_type}")
    return data
