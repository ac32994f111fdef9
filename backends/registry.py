"""Every engine the app can read, declared once: its settings (config table, command-line flags,
environment variables) and how its backends are built.

The config file, the command line and the app's start-up all read this registry, so adding an engine
(say Nomad) is one new package under `backends/` with a `spec.py` declaring its `EngineSpec`
(backends/engine_spec.py), plus one line in `engines()` below; nothing in `tui/` changes. Nothing
here imports an engine client: a spec's `build` imports its backend only when that engine is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlops_tui.backends.engine_spec import BuildContext, EngineSpec

if TYPE_CHECKING:
    from mlops_tui.backends.base import Backend


def engines() -> tuple[EngineSpec, ...]:
    """The registry, in the order sources are started and listed."""
    from mlops_tui.backends.alerts.spec import ALERTMANAGER
    from mlops_tui.backends.kubernetes.spec import KUBERNETES
    from mlops_tui.backends.prometheus.spec import PROMETHEUS
    from mlops_tui.backends.swarm.spec import SWARM

    return (KUBERNETES, SWARM, PROMETHEUS, ALERTMANAGER)


def engine(name: str) -> EngineSpec:
    return next(spec for spec in engines() if spec.name == name)


def build_backends(options: Mapping[str, Mapping[str, Any]], context: BuildContext) -> list[Backend]:
    """Every backend the settings ask for, engine by engine; an engine whose set-up fails appears as one
    `FailedSource` naming why, and never stops the others."""
    from mlops_tui.backends.failed_source import FailedSource
    from mlops_tui.backends.model import Platform

    backends: list[Backend] = []
    for spec in engines():
        try:
            backends += spec.build({**spec.defaults(), **options.get(spec.name, {})}, context)
        except Exception as exc:
            platform = Platform(spec.platform) if spec.platform else None
            backends.append(FailedSource(spec.name, str(exc) or type(exc).__name__, platform))
    return backends
