"""Alertmanager's settings and how its source is built (see backends/registry.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mlops_tui.backends.engine_spec import BuildContext, EngineOption, EngineSpec, OptionKind
from mlops_tui.backends.http_options import HTTP_OPTIONS

if TYPE_CHECKING:
    from mlops_tui.backends.base import Backend


def _build(options: Mapping[str, Any], context: BuildContext) -> Sequence[Backend]:
    if not options["url"]:
        return []
    from mlops_tui.backends.http_access import HttpAccess

    access = HttpAccess.from_options(options)
    access.check_url(options["url"])
    from mlops_tui.backends.alerts import AlertmanagerBackend

    return [AlertmanagerBackend(options["url"], refresh_seconds=options["refresh_seconds"], access=access)]


ALERTMANAGER = EngineSpec(
    name="alertmanager",
    title="Alerts",
    platform=None,
    options=(
        EngineOption("url", OptionKind.URL, "Alertmanager base URL", flags=("--alertmanager",), metavar="URL",
                     env="ALERTMANAGER_URL", default=""),
        EngineOption("refresh_seconds", OptionKind.POSITIVE_NUMBER, "how often Alertmanager is polled", default=10.0),
        *HTTP_OPTIONS,
    ),
    build=_build,
)
