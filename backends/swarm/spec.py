"""The Docker Swarm engine's settings and how its backends are built (see backends/registry.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mlops_tui.backends.engine_spec import BuildContext, EngineOption, EngineSpec, OptionKind

if TYPE_CHECKING:
    from mlops_tui.backends.base import Backend


def _build(options: Mapping[str, Any], context: BuildContext) -> Sequence[Backend]:
    from mlops_tui.backends.swarm import backends_from_settings

    return backends_from_settings(options["endpoints"])


SWARM = EngineSpec(
    name="swarm",
    title="Docker Swarm",
    platform="swarm",
    options=(
        EngineOption("endpoints", OptionKind.STRINGS,
                     "Swarm manager: unix://, tcp://, ssh://user@host or a docker context name (repeatable; "
                     "default: $DOCKER_HOST, else the local socket when it is a Swarm manager)",
                     flags=("--swarm",), metavar="URL", default=[]),
    ),
    build=_build,
)
