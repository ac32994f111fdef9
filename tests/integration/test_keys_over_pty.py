"""Keys that arrive together, through a real terminal: the app runs in tmux against the simulated
Kubernetes cluster and Swarm, `tmux send-keys` writes several keys at once (as a paste, a key held
down or a laggy SSH link does), and kubectl, the docker CLI and the audit log say what the engines
hold afterwards. The process must still be alive, and nothing the operator did not see applied."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engines import require_binary
from tests.integration.terminal import Terminal

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo():
    from mlops_tui.sim.demo import start_demo

    env = start_demo(seed=5)
    yield env
    env.stop()


@pytest.fixture
def own_demo():
    """Engines no other app has talked to (an earlier app's connections must not slow this one's exit)."""
    from mlops_tui.sim.demo import start_demo

    env = start_demo(seed=7)
    yield env
    env.stop()


def kubectl_replicas(env, name: str) -> str:
    out = subprocess.run([require_binary("kubectl"), "--kubeconfig", env.kubeconfig, "--context", env.contexts[0],
                          "get", "deploy", name, "-n", "ml-prod", "-o", "jsonpath={.spec.replicas}"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def docker_replicas(env, name: str) -> str:
    out = subprocess.run([require_binary("docker"), "service", "inspect", name, "--format",
                          "{{.Spec.Mode.Replicated.Replicas}}"], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "DOCKER_HOST": env.docker_host})
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def audit(path: Path, *, intents: bool = False) -> list[dict]:
    """The audit log's result lines (with `intents`, the write-ahead intent lines too)."""
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if intents or line.get("phase") != "intent"]


def stays(condition, seconds: float = 2.0) -> bool:
    """`condition` holds throughout `seconds`: how a test sees that something did NOT happen (an
    apply would show within milliseconds; the window covers a loaded machine)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not condition():
            return False
        time.sleep(0.1)
    return condition()


def app_command(env, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """The real CLI on the demo engines, with its audit log and state directory in `tmp_path`."""
    argv = [sys.executable, "-m", "mlops_tui.tui.cli", "--kubeconfig", env.kubeconfig, "--context", env.contexts[0],
            "--swarm", f"{env.docker_host}?name=swarm-demo", "--prometheus", env.prometheus_url,
            "--alertmanager", env.alertmanager_url, "--audit-log", str(tmp_path / "audit.jsonl")]
    return argv, {"XDG_STATE_HOME": str(tmp_path / "state")}


def select(term: Terminal, name: str) -> None:
    """Filter the services down to `name`; the cursor is then on its row."""
    term.keys("/")
    term.wait_for("enter applies, esc clears")  # the filter bar's placeholder: it is open and empty
    term.keys(*name, "Enter")
    term.wait_for(f"/ {name}")
    term.wait_for(f" {name[:10]}")  # its row (a long name is cut in its middle at 80 columns)


def test_q_during_a_wait_that_cannot_converge_quits_at_once_and_the_audit_says_not_verified(own_demo, terminal,
                                                                                             tmp_path):
    demo = own_demo
    audit_log = tmp_path / "audit.jsonl"
    terminal.start(*app_command(demo, tmp_path))
    terminal.wait_for("demo-prod connected", timeout=180)  # a cold start on a loaded machine
    # New pods start but never become ready (no early outcome, as a refused schedule would give).
    demo.clusters[0].controllers.ready_delay = 3600
    select(terminal, "ensemble-predictor")  # CPU only: the new pods are scheduled
    terminal.keys("s")
    terminal.wait_for("desired,")
    terminal.keys("7", "Enter")
    terminal.wait_for("scale to 7 ·")
    terminal.wait_for("y: apply")
    terminal.keys("y")
    shown = terminal.wait_for("gives up")  # the countdown: "gives up in 1:59, at 03:12:40"
    assert "waiting for scale to 7 to converge" in shown and "esc: wait in the background" in shown
    terminal.keys("q")
    started = time.monotonic()
    assert terminal.exit_status(timeout=60) == "0", "q did not quit while an action was being verified"
    print(f"quit took {time.monotonic() - started:.1f} s")
    assert time.monotonic() - started < 60  # far less than the 120 s the verification would still wait
    records = audit(audit_log)
    assert [(r["intent"], r["result"]) for r in records] == [("scale to 7", "applied-not-converged")]
    assert "not verified" in records[0]["detail"]
    assert [r["phase"] for r in audit(audit_log, intents=True)] == ["intent", "abandoned"]


def test_keys_together_over_a_real_terminal_apply_nothing_unseen_and_the_app_stays_up(demo, terminal, tmp_path):
    require_binary("kubectl")
    audit_log = tmp_path / "audit.jsonl"
    terminal.start(*app_command(demo, tmp_path))
    terminal.wait_for("demo-prod connected", timeout=180)  # a cold start on a loaded machine
    assert kubectl_replicas(demo, "ml-model-v2-1") == "3"

    # Two enters together in the scale dialog: one preview, nothing applied, no crash.
    select(terminal, "ml-model-v2-1")
    terminal.keys("s")
    terminal.wait_for("desired,")
    terminal.keys("4")
    terminal.keys("Enter", "Enter")
    terminal.wait_for("scale to 4 ·")
    assert stays(lambda: kubectl_replicas(demo, "ml-model-v2-1") == "3" and not audit(audit_log))
    shown = terminal.wait_for("y: apply")
    assert "enter: apply" not in shown and terminal.alive()
    terminal.keys("Escape")
    terminal.wait_for("cancelled: nothing was sent")

    # A whole action typed ahead in one write stops at the preview, which says why.
    terminal.keys("s", "4", "Enter", "y")
    terminal.wait_for("was ignored")
    assert stays(lambda: kubectl_replicas(demo, "ml-model-v2-1") == "3" and not audit(audit_log))
    terminal.keys("y")  # seen now: applied, once
    terminal.wait_for("succeeded", timeout=90)
    assert kubectl_replicas(demo, "ml-model-v2-1") == "4"
    assert [(r["target"].split("/")[-1], r["intent"], r["result"]) for r in audit(audit_log)] == [
        ("ml-model-v2-1", "scale to 4", "succeeded")]
    terminal.keys("Enter")  # close the progress screen
    terminal.wait_gone("enter or esc: close")
    terminal.keys("Escape")  # clear the filter
    terminal.wait_gone("/ ml-model-v2-1")

    # The same on Swarm, judged by the docker CLI: two enters, a preview, nothing sent.
    before = docker_replicas(demo, "proptech-ml_model-api")
    select(terminal, "proptech-ml_model-api")
    terminal.keys("s")
    terminal.wait_for("desired,")
    terminal.keys("BSpace", "7")  # in one write: the field holds 7
    terminal.keys("Enter", "Enter")
    terminal.wait_for("scale to 7 ·")
    assert stays(lambda: docker_replicas(demo, "proptech-ml_model-api") == before and len(audit(audit_log)) == 1)
    terminal.keys("Escape")
    terminal.wait_for("cancelled: nothing was sent")
    assert terminal.alive()
