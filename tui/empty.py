"""What the operator is told when nothing is configured: no kubeconfig, no Swarm, no Prometheus.

One wording for the dashboard (status bar and the hint over the panes) and `mlops-tui status`, so
that both say the same thing and how to start.
"""

from __future__ import annotations

NOTHING_CONFIGURED = "nothing configured: no kubeconfig, no Swarm, no Prometheus"
"""The problem, in one line (the status bar, and `mlops-tui status` on stderr)."""

HOW_TO_START = (
    "Kubernetes: a kubeconfig ($KUBECONFIG, ~/.kube/config, or --kubeconfig PATH)",
    "Docker Swarm: --swarm URL (or $DOCKER_HOST, or run on a Swarm manager)",
    "Prometheus: --prometheus URL (latency and alerts)",
    "a simulated fleet, to try it out: mlops-tui --demo",
)
"""The ways to give the app something to read, one line each."""

SHORT_HINT = "start with a kubeconfig, --swarm or --demo"
"""The hint, short enough for the status bar at 80 columns."""


def how_to_start() -> str:
    """The problem and every way out, on several lines."""
    ways = [f"  • {line}" for line in HOW_TO_START]
    return "\n".join([f"✖ {NOTHING_CONFIGURED}.", "To start, give it one of:", *ways])
