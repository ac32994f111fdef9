"""The Kubernetes engine's settings and how its backends are built (see backends/registry.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mlops_tui.backends.engine_spec import BuildContext, EngineOption, EngineSpec, OptionKind

if TYPE_CHECKING:
    from mlops_tui.backends.base import Backend


def _build(options: Mapping[str, Any], context: BuildContext) -> Sequence[Backend]:
    from mlops_tui.backends.kubernetes import backends_from_settings

    return backends_from_settings(
        contexts=options["contexts"],
        all_contexts=options["all_contexts"],
        kubeconfig=options["kubeconfig"] or None,
        namespaces=options["namespaces"],
        selector=options["selector"],
        all_namespaces=options["all_namespaces"],
        # Without any Kubernetes setting and without a kubeconfig, there are simply no clusters.
        explicit=bool(options["contexts"] or options["all_contexts"] or options["kubeconfig"]),
    )


KUBERNETES = EngineSpec(
    name="kubernetes",
    title="Kubernetes",
    platform="k8s",
    options=(
        EngineOption("contexts", OptionKind.STRINGS, "kubeconfig context to watch (repeatable; default: the current "
                     "context)", flags=("--context",), metavar="NAME", default=[]),
        EngineOption("all_contexts", OptionKind.FLAG, "watch every context in the kubeconfig",
                     flags=("--all-contexts",), default=False),
        EngineOption("kubeconfig", OptionKind.STRING, "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)",
                     flags=("--kubeconfig",), metavar="PATH", default=""),
        EngineOption("namespaces", OptionKind.STRINGS, "namespace to watch (repeatable; default: the context's "
                     "namespace when it sets one, else all)", flags=("--namespace", "-n"), metavar="NS", default=[]),
        EngineOption("all_namespaces", OptionKind.FLAG, "watch every namespace, even when the context names one",
                     flags=("--all-namespaces", "-A"), default=False),
        EngineOption("selector", OptionKind.STRING, "label selector for model services",
                     flags=("--selector", "-l"), metavar="LABELS", default=""),
    ),
    build=_build,
)
