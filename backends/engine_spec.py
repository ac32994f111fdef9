"""How an engine declares itself to the registry (backends/registry.py): its settings, each with the
config key, command-line flags and environment variable that set it, and how its backends are built.

Engine packages import this module (their `spec.py`); the registry imports the engine packages' specs.
The records are NamedTuples, not dataclasses: the command line reads them before the first frame, and
a frozen dataclass costs ~5 M instructions to build at import (bench/first_frame_instructions.py).
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # the command line reads the specs: --help stays free of the backends' contract
    from mlops_tui.backends.base import Backend
    from mlops_tui.backends.model import ModelService


class OptionKind(enum.Enum):
    """What an engine setting holds, and so how the config file and the command line check it."""

    STRINGS = "a list of non-empty strings"
    STRING = "a string"
    URL = "an http:// or https:// URL"
    FLAG = "true or false"
    POSITIVE_NUMBER = "a positive number"
    MS_BY_NAME = "a table of service name = positive milliseconds"
    FILE = "the path of an existing file"
    HEADERS = "a table of HTTP header name = string value"

    def check(self, value: Any) -> Any:
        """The value as the backends take it; ValueError(what was expected) otherwise."""
        match self:
            case OptionKind.STRINGS:
                if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
                    return list(value)
            case OptionKind.STRING:
                if isinstance(value, str):
                    return value
            case OptionKind.URL:
                if isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) > 8:
                    return value
            case OptionKind.FLAG:
                if isinstance(value, bool):
                    return value
            case OptionKind.POSITIVE_NUMBER:
                if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
                    return float(value)
            case OptionKind.MS_BY_NAME:
                if isinstance(value, dict) and all(
                    isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in value.values()
                ):
                    return {str(k): float(v) for k, v in value.items()}
            case OptionKind.FILE:
                if isinstance(value, str) and value and os.path.isfile(os.path.expanduser(value)):
                    return os.path.expanduser(value)
            case OptionKind.HEADERS:
                if isinstance(value, dict) and all(
                    _HEADER_NAME.fullmatch(str(k)) and isinstance(v, str) and "\n" not in v and "\r" not in v
                    for k, v in value.items()
                ):
                    return {str(k): v for k, v in value.items()}
        raise ValueError(self.value)


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""An HTTP header name (RFC 9110 token): nothing that could split or inject a header."""


class EngineOption(NamedTuple):
    """One setting of an engine: `[<engine>] <name> = ...` in the config file, and its flags."""

    name: str
    kind: OptionKind
    help: str
    flags: tuple[str, ...] = ()
    """Command-line flags (the first is the long one); empty: config file only."""
    metavar: str = ""
    env: str = ""
    """Environment variable read when neither the config file nor the command line set it."""
    default: Any = None


class BuildContext(NamedTuple):
    """What a backend may need from the app besides its own settings."""

    services: Callable[[], Iterable[ModelService]] = tuple
    """The services the Fleet knows now (metrics sources tie series to them by name)."""


class EngineSpec(NamedTuple):
    name: str
    """The engine's config table and settings key: 'kubernetes', 'swarm', 'prometheus', 'alertmanager'."""
    title: str
    """Its group in `--help`."""
    platform: str | None
    """The `Platform` value its clusters run on ('k8s', 'swarm'); None for metrics and alert sources.
    A plain string, so that `--help` reads the registry without importing the domain model."""
    options: tuple[EngineOption, ...]
    build: Callable[[Mapping[str, Any], BuildContext], Sequence[Backend]]
    """The backends for these settings (options by name, defaults filled in); may raise: the error is
    shown in place of the engine's sources."""

    def option(self, name: str) -> EngineOption:
        return next(o for o in self.options if o.name == name)

    def defaults(self) -> dict[str, Any]:
        return {o.name: _fresh(o.default) for o in self.options}


def _fresh(default: Any) -> Any:
    """A new list/dict per Settings, never one shared mutable default."""
    return type(default)(default) if isinstance(default, list | dict) else default
