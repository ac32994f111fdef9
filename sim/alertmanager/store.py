"""Alertmanager's alerts and silences with the v2 API's semantics (alertmanager silence/silence.go,
api/v2/api.go): silences pending/active/expired, update in place only when `canUpdate`, otherwise
expire and create anew; alerts suppressed by matching active silences."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

RESOLVE_TIMEOUT = 300.0


class AmError(Exception):
    def __init__(self, status: int, payload: Any) -> None:
        super().__init__(str(payload))
        self.status = status
        self.payload = payload


# Go's zero time.Time: what amtool (and any Go client) sends for a time it leaves unset.
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=timezone.utc)


def ts_format(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return f"{dt.year:04d}" + dt.strftime("-%m-%dT%H:%M:%S.") + f"{int((ts % 1) * 1000):03d}Z"


def ts_parse(text: str | None) -> float | None:
    """An RFC 3339 time as epoch seconds; None when absent or Go's zero time (both mean "unset")."""
    if not text:
        return None
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return None if dt == GO_ZERO_TIME else dt.timestamp()


def fingerprint(labels: dict[str, str]) -> str:
    """prometheus/common model.LabelSet.Fingerprint: FNV-1a 64 over sorted name/value pairs."""
    h = 14695981039346656037
    for name in sorted(labels):
        for part in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in part:
                h ^= byte
                h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


_FILTER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"]*?))\s*$')


def parse_filter(text: str) -> tuple[str, str, str]:
    m = _FILTER.match(text.strip().strip("{}"))
    if not m:
        raise AmError(400, f"bad matcher format: {text}")
    value = re.sub(r"\\(.)", r"\1", m.group(3) if m.group(3) is not None else m.group(4))
    if "~" in m.group(2):
        try:
            re.compile(value)
        except re.error as e:
            # Alertmanager answers 400 with the regexp error (labels.NewMatcher anchors the value).
            raise AmError(400, f"error parsing regexp: {e.msg}: `^(?:{value})$`") from None
    return m.group(1), m.group(2), value


def op_matches(op: str, want: str, have: str) -> bool:
    if op == "=":
        return have == want
    if op == "!=":
        return have != want
    hit = re.fullmatch(f"(?:{want})", have, re.S) is not None
    return hit if op == "=~" else not hit


def silence_matcher_matches(m: dict[str, Any], labels: dict[str, str]) -> bool:
    op = ("=~" if m.get("isRegex") else "=") if m.get("isEqual", True) else ("!~" if m.get("isRegex") else "!=")
    return op_matches(op, m["value"], labels.get(m["name"], ""))


class AlertStore:
    def __init__(self, clock: Callable[[], float] = time.time, receiver: str = "default") -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.receiver = receiver
        self.alerts: dict[str, dict[str, Any]] = {}
        self.silences: dict[str, dict[str, Any]] = {}
        self.started = clock()
        self.mutations = 0

    # --- alerts ---------------------------------------------------------------------------
    def receive(self, alerts: list[dict[str, Any]]) -> None:
        """POST /api/v2/alerts (what Prometheus and `amtool alert add` send), as api/v2/api.go: an unset
        start is the end (or now), an unset end is now + resolve_timeout; empty label values are dropped;
        the valid alerts are stored and the invalid ones answer 400 with their errors joined by newlines."""
        now = self.clock()
        errors = []
        with self.lock:
            for a in alerts:
                labels = {k: str(v) for k, v in (a.get("labels") or {}).items() if str(v) != ""}
                ends = ts_parse(a.get("endsAt"))
                starts = ts_parse(a.get("startsAt"))
                if starts is None:
                    starts = ends if ends is not None else now
                # model.Alert.Validate's order and messages
                if ends is not None and ends < starts:
                    errors.append("start time must be before end time")
                    continue
                if not labels:
                    errors.append("at least one label pair required")
                    continue
                fp = fingerprint(labels)
                old = self.alerts.get(fp)
                if old and old["endsAt"] > now:
                    starts = min(starts, old["startsAt"])
                self.alerts[fp] = {"labels": labels, "annotations": dict(a.get("annotations") or {}),
                                   "startsAt": starts, "endsAt": ends if ends is not None else now + RESOLVE_TIMEOUT,
                                   "updatedAt": now, "generatorURL": a.get("generatorURL", ""), "fingerprint": fp}
        if errors:
            raise AmError(400, "\n".join(errors))  # errors.Join

    def silenced_by(self, labels: dict[str, str], now: float) -> list[str]:
        return sorted(sid for sid, s in self.silences.items()
                      if self._state(s, now) == "active"
                      and all(silence_matcher_matches(m, labels) for m in s["matchers"]))

    def list_alerts(self, *, active: bool = True, silenced: bool = True, inhibited: bool = True,
                    unprocessed: bool = True, filters: Sequence[str] = (),
                    receiver: str | None = None) -> list[dict[str, Any]]:
        matchers = [parse_filter(f) for f in filters]
        if receiver is not None:
            try:
                if not re.fullmatch(f"(?:{receiver})", self.receiver):
                    return []
            except re.error:
                raise AmError(400, f"failed to parse receiver param: {receiver}") from None
        now = self.clock()
        out = []
        with self.lock:
            for a in sorted(self.alerts.values(), key=lambda a: a["fingerprint"]):
                if a["endsAt"] <= now:
                    continue
                if not all(op_matches(op, v, a["labels"].get(n, "")) for n, op, v in matchers):
                    continue
                by = self.silenced_by(a["labels"], now)
                state = "suppressed" if by else "active"
                if (by and not silenced) or (state == "active" and not active):
                    continue
                out.append({"labels": a["labels"], "annotations": a["annotations"],
                            "receivers": [{"name": self.receiver}], "fingerprint": a["fingerprint"],
                            "startsAt": ts_format(a["startsAt"]), "updatedAt": ts_format(a["updatedAt"]),
                            "endsAt": ts_format(a["endsAt"]), "generatorURL": a["generatorURL"],
                            "status": {"state": state, "silencedBy": by, "inhibitedBy": []}})
        return out

    # --- silences ---------------------------------------------------------------------------
    def _state(self, s: dict[str, Any], now: float) -> str:
        if s["endsAt"] <= now:
            return "expired"
        if s["startsAt"] > now:
            return "pending"
        return "active"

    def _body(self, s: dict[str, Any], now: float) -> dict[str, Any]:
        return {"id": s["id"], "status": {"state": self._state(s, now)}, "updatedAt": ts_format(s["updatedAt"]),
                "comment": s["comment"], "createdBy": s["createdBy"], "endsAt": ts_format(s["endsAt"]),
                "matchers": [dict(m) for m in s["matchers"]], "startsAt": ts_format(s["startsAt"])}

    def get_silence(self, sid: str) -> dict[str, Any]:
        with self.lock:
            s = self.silences.get(sid)
            if s is None:
                raise AmError(404, None)
            return self._body(s, self.clock())

    def list_silences(self, filters: Sequence[str] = ()) -> list[dict[str, Any]]:
        matchers = [parse_filter(f) for f in filters]
        now = self.clock()
        with self.lock:
            chosen = []
            for s in self.silences.values():
                values = {m["name"]: m["value"] for m in s["matchers"]}
                if all(n in values and op_matches(op, v, values[n]) for n, op, v in matchers):
                    chosen.append(s)
            order = {"active": 0, "pending": 1, "expired": 2}

            def key(s: dict[str, Any]) -> tuple:
                st = self._state(s, now)
                # active: ending soonest first; pending: starting soonest first; expired: most recent first
                when = s["endsAt"] if st == "active" else s["startsAt"] if st == "pending" else -s["endsAt"]
                return (order[st], when)

            return [self._body(s, now) for s in sorted(chosen, key=key)]

    def post_silence(self, body: dict[str, Any]) -> str:
        now = self.clock()
        matchers = body.get("matchers")
        if not matchers:
            raise AmError(422, {"code": 612, "message": "matchers in body should have at least 1 items"})
        for field_ in ("createdBy", "comment", "startsAt", "endsAt"):
            if field_ not in body:
                raise AmError(422, {"code": 602, "message": f"{field_} in body is required"})
        norm = []
        for m in matchers:
            if "name" not in m or "value" not in m or "isRegex" not in m:
                missing = next(k for k in ("name", "value", "isRegex") if k not in m)
                raise AmError(422, {"code": 602,
                                    "message": f"matchers.{matchers.index(m)}.{missing} in body is required"})
            norm.append({"isEqual": bool(m.get("isEqual", True)), "isRegex": bool(m["isRegex"]),
                         "name": m["name"], "value": m["value"]})
        starts = ts_parse(body.get("startsAt")) or now
        ends = ts_parse(body.get("endsAt")) or now
        if starts >= ends:
            raise AmError(400, "Failed to create silence: start time must be before end time")
        if ends < now:
            raise AmError(400, "Failed to create silence: end time can't be in the past")
        if all(silence_matcher_matches(m, {}) for m in norm):
            raise AmError(400, "silence invalid: at least one matcher must not match the empty string")
        for m in norm:
            if m["isRegex"]:
                try:
                    re.compile(m["value"])
                except re.error as e:
                    raise AmError(400, f"silence invalid: invalid label matcher {len(norm)}: {e}") from None
        new = {"matchers": norm, "startsAt": max(starts, now) if starts < now else starts, "endsAt": ends,
               "createdBy": body.get("createdBy", ""), "comment": body.get("comment", ""), "updatedAt": now}
        with self.lock:
            self.mutations += 1
            sid = body.get("id")
            if sid:
                old = self.silences.get(sid)
                if old is None:
                    raise AmError(404, "silence not found")
                if self._can_update(old, new, starts, now):
                    old.update({"endsAt": ends, "startsAt": starts, "createdBy": new["createdBy"],
                                "comment": new["comment"], "updatedAt": now})
                    return sid
                if self._state(old, now) != "expired":
                    self._expire(old, now)
            new["id"] = str(uuid.uuid4())
            new["startsAt"] = starts if starts > now else now
            self.silences[new["id"]] = new
            return new["id"]

    def _can_update(self, old: dict[str, Any], new: dict[str, Any], starts: float, now: float) -> bool:
        key = lambda ms: sorted((m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in ms)  # noqa: E731
        if key(old["matchers"]) != key(new["matchers"]):
            return False
        state = self._state(old, now)
        if state == "active":
            return abs(starts - old["startsAt"]) < 1e-3 and new["endsAt"] >= now
        if state == "pending":
            return starts >= now
        return False

    def _expire(self, s: dict[str, Any], now: float) -> None:
        if self._state(s, now) == "pending":
            s["startsAt"] = now
        s["endsAt"] = now
        s["updatedAt"] = now

    def delete_silence(self, sid: str) -> None:
        """Expire; idempotent on an expired silence; 404 when unknown (alertmanager ≥ 0.27)."""
        now = self.clock()
        with self.lock:
            self.mutations += 1
            s = self.silences.get(sid)
            if s is None:
                raise AmError(404, "silence not found")
            if self._state(s, now) != "expired":
                self._expire(s, now)
