"""The operator scales and updates a service on the real Docker Swarm from the keyboard;
`docker service inspect` shows exactly what the preview promised."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.config import Settings
from mlops_tui.tui.sources import build_fleet
from tests.engines import require
from tests.integration.test_operator_keys import audit_lines, finish, screen_is, select
from tests.tui.conftest import visible_text

DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"
SOCKET = "unix:///var/run/docker.sock"


def docker(*args: str) -> str:
    out = subprocess.run([DOCKER, "-H", SOCKET, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def model_service():
    probe = subprocess.run([DOCKER, "-H", SOCKET, "info", "--format", "{{.Swarm.LocalNodeState}}"],
                           capture_output=True, text=True, timeout=20)
    require(probe.returncode == 0 and probe.stdout.strip() == "active",
            "no Swarm manager on /var/run/docker.sock (run .ci/start-swarm.sh)")
    name = f"keys{uuid.uuid4().hex[:6]}-model"
    docker("service", "create", "--detach", "--quiet", "--name", name, "--network", "host", "--replicas", "1",
           "--label", "version=v1", "mlops/model:v1")
    yield name
    subprocess.run([DOCKER, "-H", SOCKET, "service", "rm", name], capture_output=True, timeout=60)


async def test_scale_and_update_image_on_the_real_swarm_by_key(model_service, tmp_path):
    settings = (Settings(audit_log=str(tmp_path / "audit.jsonl"))
                .with_engine("swarm", endpoints=[f"{SOCKET}?name=real-swarm"]))
    app = MlopsApp(settings, build_fleet)
    async with app.run_test(size=(150, 45)) as pilot:
        await select(pilot, app, "real-swarm", model_service)
        await pilot.press("s")
        await screen_is(pilot, app, "ScaleDialog")
        await pilot.press("2", "enter")
        await screen_is(pilot, app, "PreviewScreen")
        assert "scale to 2" in visible_text(app)
        await pilot.press("y")
        assert "succeeded" in await finish(pilot, app)
        spec = json.loads(docker("service", "inspect", model_service))[0]["Spec"]
        assert spec["Mode"]["Replicated"]["Replicas"] == 2

        await pilot.press("u")
        await screen_is(pilot, app, "UpdateImageDialog")
        await pilot.press(*"not an image!", "enter")
        assert "not a valid image reference" in visible_text(app)  # refused in the dialog, nothing sent
        await pilot.press("ctrl+a", "shift+end", *"mlops/model:v2", "enter")
        await screen_is(pilot, app, "PreviewScreen")
        await pilot.press("y")
        assert "succeeded" in await finish(pilot, app)
        spec = json.loads(docker("service", "inspect", model_service))[0]["Spec"]
        assert spec["TaskTemplate"]["ContainerSpec"]["Image"].startswith("mlops/model:v2")
    assert [(r["intent"], r["result"]) for r in audit_lines(tmp_path)] == [
        ("scale to 2", "succeeded"), ("update image to mlops/model:v2", "succeeded")]
