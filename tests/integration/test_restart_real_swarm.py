"""`r` on the real Docker Swarm: what `docker service update --force` does, previewed, applied with
the version read at preview time, and verified until every task is a new one."""

from __future__ import annotations

import json

from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.config import Settings
from mlops_tui.tui.sources import build_fleet
from tests.integration.test_operator_keys import audit_lines, finish, screen_is, select
from tests.integration.test_operator_keys_real_swarm import SOCKET, docker, model_service  # noqa: F401
from tests.tui.conftest import visible_text


def running_tasks(name: str) -> set[str]:
    return set(docker("service", "ps", "--filter", "desired-state=running", "-q", name).split())


async def test_restart_on_the_real_swarm_forces_an_update_and_replaces_every_task(model_service, tmp_path):  # noqa: F811
    before_spec = json.loads(docker("service", "inspect", model_service))[0]["Spec"]
    force_before = before_spec["TaskTemplate"].get("ForceUpdate", 0)
    settings = (Settings(audit_log=str(tmp_path / "audit.jsonl"))
                .with_engine("swarm", endpoints=[f"{SOCKET}?name=real-swarm"]))
    app = MlopsApp(settings, build_fleet)
    async with app.run_test(size=(150, 45)) as pilot:
        await select(pilot, app, "real-swarm", model_service)
        tasks_before = running_tasks(model_service)
        assert tasks_before
        await pilot.press("r")
        await screen_is(pilot, app, "RestartDialog")
        await pilot.press("enter")
        await screen_is(pilot, app, "PreviewScreen", timeout=20)
        preview = visible_text(app)
        assert "is replaced with" in preview and "update config" in preview
        await pilot.press("y")
        assert "succeeded" in await finish(pilot, app)
    spec = json.loads(docker("service", "inspect", model_service))[0]["Spec"]
    assert spec["TaskTemplate"]["ForceUpdate"] == force_before + 1
    assert spec["TaskTemplate"]["ContainerSpec"]["Image"] == before_spec["TaskTemplate"]["ContainerSpec"]["Image"]
    tasks_after = running_tasks(model_service)
    assert tasks_after and not tasks_after & tasks_before  # every running task is a new one
    assert [(r["intent"], r["result"]) for r in audit_lines(tmp_path)] == [("restart every replica", "succeeded")]
