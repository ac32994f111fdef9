"""Just enough Kubernetes protobuf decoding for the access reviews kubectl sends as protobuf.

kubectl's typed clients (`auth can-i`, `auth whoami`) post `application/vnd.kubernetes.protobuf`:
the magic `k8s\\x00` then a `runtime.Unknown` {typeMeta=1, raw=2, contentEncoding=3, contentType=4}
whose `raw` is the object's message. We answer in JSON, which client-go decodes by Content-Type."""

from __future__ import annotations

from typing import Any

MAGIC = b"k8s\x00"


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated varint")
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def fields(data: bytes) -> dict[int, list[Any]]:
    """Top-level fields of one message: number -> values (bytes for length-delimited, int otherwise)."""
    out: dict[int, list[Any]] = {}
    i = 0
    value: int | bytes
    while i < len(data):
        key, i = _varint(data, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            length, i = _varint(data, i)
            value, i = data[i:i + length], i + length
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.setdefault(num, []).append(value)
    return out


def _str(f: dict[int, list[Any]], n: int) -> str:
    v = f.get(n)
    return v[0].decode() if v and isinstance(v[0], bytes) else ""


def decode_access_review(body: bytes) -> dict[str, Any]:
    """A protobuf SelfSubjectAccessReview as the JSON dict the API would have received."""
    if not body.startswith(MAGIC):
        raise ValueError("not a Kubernetes protobuf body")
    unknown = fields(body[len(MAGIC):])
    raw = (unknown.get(2) or [b""])[0]
    review = fields(raw)
    spec_f = fields((review.get(2) or [b""])[0])
    spec: dict[str, Any] = {}
    if 1 in spec_f:
        ra = fields(spec_f[1][0])
        spec["resourceAttributes"] = {k: _str(ra, n) for n, k in ((1, "namespace"), (2, "verb"), (3, "group"),
                                                                    (4, "version"), (5, "resource"),
                                                                    (6, "subresource"), (7, "name"))
                                      if _str(ra, n)}
    if 2 in spec_f:
        na = fields(spec_f[2][0])
        spec["nonResourceAttributes"] = {"path": _str(na, 1), "verb": _str(na, 2)}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": spec}
