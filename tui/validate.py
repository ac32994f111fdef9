"""Operator input → typed values, or a clear message. Pure functions: nothing invalid gets further.

Each parser raises `InvalidInput` with a sentence the dialog shows as is.
"""

from __future__ import annotations

import re

MAX_SILENCE_SECONDS = 7 * 24 * 3600


class InvalidInput(ValueError):
    """The operator typed something we will not act on; the message says why."""


def parse_replicas(text: str, cap: int) -> int:
    value = text.strip()
    if not value:
        raise InvalidInput("type a replica count")
    if not re.fullmatch(r"[0-9]+", value):
        raise InvalidInput(f"replicas must be a whole number from 0 to {cap}, not {value!r}")
    replicas = int(value)
    if replicas > cap:
        raise InvalidInput(f"{replicas} is over the cap of {cap} replicas (raise actions.replica_cap to allow more)")
    return replicas


def replicas_warning(replicas: int, current: int) -> str:
    """Not an error, but worth a second look: more than doubling a service."""
    if current > 0 and replicas > 2 * current:
        return f"{replicas} is more than twice the current {current}"
    return ""


def parse_weight(text: str, reachable: tuple[int, ...] = ()) -> int:
    value = text.strip().removesuffix("%").strip()
    if not value:
        raise InvalidInput("type a canary weight from 0 to 100")
    if not re.fullmatch(r"[0-9]+", value):
        raise InvalidInput(f"the canary weight must be a whole number from 0 to 100, not {text.strip()!r}")
    weight = int(value)
    if weight > 100:
        raise InvalidInput(f"the canary weight must be from 0 to 100, not {weight}")
    return weight


def nearest_reachable(weight: int, reachable: tuple[int, ...]) -> int:
    return min(reachable, key=lambda w: (abs(w - weight), w)) if reachable else weight


_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text: str) -> int:
    """'90m', '2h', '1h30m', '1d' → seconds; bare numbers are minutes."""
    value = text.strip().lower().replace(" ", "")
    if not value:
        raise InvalidInput("type a duration such as 30m, 2h or 1d")
    if re.fullmatch(r"[0-9]+", value):
        seconds = int(value) * 60
    else:
        match = _DURATION.fullmatch(value)
        if not match or not any(match.groups()):
            raise InvalidInput(f"{text.strip()!r} is not a duration: use e.g. 30m, 2h, 1h30m or 1d")
        d, h, m, s = (int(g or 0) for g in match.groups())
        seconds = d * 86400 + h * 3600 + m * 60 + s
    if seconds <= 0:
        raise InvalidInput("the duration must be longer than zero")
    if seconds > MAX_SILENCE_SECONDS:
        raise InvalidInput("silences are limited to 7 days: make a shorter one and extend it later")
    return seconds


_IMAGE = re.compile(
    r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?/)?"  # registry host[:port]/
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"  # path
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"  # :tag
    r"(?:@sha256:[a-f0-9]{64})?"  # @digest
)


def parse_image(text: str) -> str:
    value = text.strip()
    if not value:
        raise InvalidInput("type an image reference such as proptechusa/valuation-model:v2.2")
    if not _IMAGE.fullmatch(value):
        raise InvalidInput(f"{value!r} is not a valid image reference (registry/name:tag or @sha256:digest)")
    return value


def parse_comment(text: str) -> str:
    value = " ".join(text.split())
    if not value:
        raise InvalidInput("say why you are silencing it: the comment is shown to everyone on call")
    if len(value) > 500:
        raise InvalidInput("keep the comment under 500 characters")
    return value
