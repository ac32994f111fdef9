"""mlops-tui as an operator installs it: the wheel in a fresh virtual environment, run from a directory
outside the repository (so nothing of the checkout is importable). Everything lives under the one
import package `mlops_tui`; the simulator behind `--demo` comes with it and needs no other program."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the wheel built from this checkout (and its dependencies) installed; its bin/."""
    where = tmp_path_factory.mktemp("installed")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(where / "dist")],
                   check=True, timeout=600)
    (wheel,) = (where / "dist").glob("mlops_tui-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(where / "venv")], check=True, timeout=120)
    subprocess.run([str(where / "venv" / "bin" / "pip"), "install", "-q", str(wheel)], check=True, timeout=900)
    return where / "venv" / "bin"


def run(bin_dir: Path, *argv: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(bin_dir / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=env)


def test_the_installed_wheel_holds_one_package_and_its_files(installed, tmp_path):
    out = run(installed, "python", "-c", "import mlops_tui.tui.app, mlops_tui.themes as t, mlops_tui.sim.kube, "
              "sys; print(t.__file__); print(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('tui', 'backends', 'themes', 'sim')))", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    themes_file, top_level = out.stdout.splitlines()
    assert themes_file.startswith(str(installed.parent)), "imported from the checkout, not the wheel"
    assert top_level == "[]"  # no generic top-level package is installed or imported
    theme_dir = Path(themes_file).parent
    assert all((theme_dir / name).is_file() for name in ("app.tcss", "screens.tcss", "palettes.toml"))
    assert run(installed, "mlops-tui", "--version", cwd=tmp_path).stdout.startswith("mlops-tui ")


def test_status_from_the_wheel_reads_the_simulated_fleet_started_from_the_wheel(installed, tmp_path):
    sim = subprocess.Popen([str(installed / "python"), "-m", "mlops_tui.sim", "--out", str(tmp_path / "sim")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        assert sim.stdout is not None
        assert sim.stdout.readline().strip() == "ready"
        endpoints = dict(line.split("=", 1) for line in (tmp_path / "sim" / "endpoints.env").read_text().split())
        out = run(installed, "mlops-tui", "status", "--json", "--kubeconfig", str(tmp_path / "sim" / "kubeconfig"),
                  "--swarm", endpoints["DOCKER_HOST"], "--prometheus", endpoints["PROMETHEUS_URL"],
                  "--alertmanager", endpoints["ALERTMANAGER_URL"], "--timeout", "30", cwd=tmp_path, timeout=90)
        assert out.returncode == 0, out.stderr
        status = json.loads(out.stdout)
        assert {c["state"] for c in status["sources"]} == {"connected"}
        names = {s["name"] for s in status["services"]}
        assert "property-valuation-model" in names  # Kubernetes
        assert any(name.endswith("price-predictor") for name in names), names  # the Swarm stack's service
    finally:
        sim.terminate()
        sim.wait(timeout=30)


def test_the_demo_runs_from_the_wheel_in_a_terminal(installed, tmp_path, terminal):
    env = {"HOME": str(tmp_path), "TERM": "xterm-256color", "XDG_STATE_HOME": str(tmp_path / "state")}
    terminal.start([str(installed / "mlops-tui"), "--demo"], env, cwd=tmp_path)
    terminal.wait_for("ml-model-v2-0", timeout=90)  # a name short enough to stand whole at 80 columns
    # Up: every simulated source connected (a q while sources are still being set up is another story:
    # tests/integration/test_keys_over_pty.py's quit test).
    terminal.wait_for("demo-prod connected", timeout=180)
    terminal.keys("q")
    assert terminal.exit_status(timeout=60) == "0"
