"""The services table on a cluster of 300 services (the Kubernetes simulator, spoken to by the real
backend; kubectl makes the changes and says what the cluster holds): the operator's cursor stays on
the service they chose while other services change, go and come, and a change far below the screen
costs no line on it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.config import Settings
from mlops_tui.tui.format import SERVICE_COLUMN
from mlops_tui.tui.panes import ServicesPane
from mlops_tui.tui.sources import build_fleet
from tests.engines import require_binary
from tests.tui.conftest import until, visible_text

SERVICES = 300
CONTEXT = "sim-table"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from mlops_tui.sim.kube import SimKubeCluster, write_kubeconfig

    sim = SimKubeCluster.start(name=CONTEXT, seed=7, fleet="scaled", services=SERVICES, pods_per_service=1,
                               gpu_nodes=2, ready_delay=0.1)
    try:
        config = write_kubeconfig(str(tmp_path_factory.mktemp("kube") / "config"), [sim])
        yield config
    finally:
        sim.stop()


def kubectl(config: str, *args: str) -> str:
    out = subprocess.run([require_binary("kubectl"), "--kubeconfig", config, "--context", CONTEXT, *args],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def deployment(row_key: str) -> tuple[str, str] | None:
    """(namespace, name) of a row that is one of the fleet's own Deployments (not a KServe predictor's)."""
    _cluster, namespace, kind, name = row_key.split("\x1f")
    return (namespace, name) if kind == "Deployment" and re.fullmatch(r"model-\d{5}", name) else None


def name_of(table: ServicesPane, key: str | None) -> str:
    cells = table.cells(key) if key else None
    return cells[SERVICE_COLUMN["name"]].plain if cells else ""


async def test_the_cursor_stays_on_the_operators_service_while_kubectl_changes_others(cluster, tmp_path: Path):
    settings = (Settings(audit_log=str(tmp_path / "audit.jsonl"))
                .with_engine("kubernetes", kubeconfig=cluster, contexts=[CONTEXT]))
    app = MlopsApp(settings, build_fleet)
    async with app.run_test(size=(150, 45)) as pilot:
        table = app.query_one(ServicesPane)
        await until(pilot, lambda: table.row_count >= SERVICES, timeout=60)
        table.focus()
        await pilot.press(*["down"] * 12)  # the operator walks down to a service
        await until(pilot, lambda: table.cursor_row == 12)
        chosen = table.selected_key()
        assert chosen is not None
        chosen_name = name_of(table, chosen)
        above = [d for k in table.shown_keys[:12] if (d := deployment(k))][:2]
        far_below = next(d for k in reversed(table.shown_keys) if (d := deployment(k)))
        assert len(above) == 2 and table.shown_keys.index(f"{CONTEXT}\x1f{far_below[0]}\x1fDeployment\x1f"
                                                          f"{far_below[1]}") > 12 + table.size.height

        # A service far below the screen is scaled: the table holds it, and draws no line for it.
        drawn: list[int] = []
        render_line = table.render_line
        table.render_line = lambda y: (drawn.append(y), render_line(y))[1]  # type: ignore[method-assign]
        kubectl(cluster, "scale", "deployment", far_below[1], "-n", far_below[0], "--replicas=3")
        far_key = f"{CONTEXT}\x1f{far_below[0]}\x1fDeployment\x1f{far_below[1]}"
        await until(pilot, lambda: table.cells(far_key)[SERVICE_COLUMN["ready"]].plain.endswith("/3"), timeout=30)
        await pilot.pause(0.3)
        assert drawn == []

        # Two services listed above the operator's are deleted: the rows below move up, the cursor
        # stays on the operator's service (and so does what `s` would scale).
        for namespace, name in above:
            kubectl(cluster, "delete", "deployment", name, "-n", namespace)
        await until(pilot, lambda: table.row_count == len(set(table.shown_keys)) and all(
            f"{CONTEXT}\x1f{ns}\x1fDeployment\x1f{n}" not in table.shown_keys for ns, n in above), timeout=30)
        assert table.selected_key() == chosen and table.cursor_row == 10
        assert app.selected_service_key().name == chosen_name
        assert chosen_name in visible_text(app)
        await pilot.press("s")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ScaleDialog")
        assert app.screen.service.key.name == chosen_name  # type: ignore[attr-defined]
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.screen_stack[0])

        # kubectl agrees: the two are gone, the operator's service is still there.
        listed = kubectl(cluster, "get", "deployments,rollouts,inferenceservices", "-A",
                         "-o", "jsonpath={.items[*].metadata.name}").split()
        assert not {name for _ns, name in above} & set(listed)
        assert chosen_name in listed
        replicas = kubectl(cluster, "get", "deployment", far_below[1], "-n", far_below[0],
                           "-o", "jsonpath={.spec.replicas}")
        assert replicas == "3"
