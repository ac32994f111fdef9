"""Each command is declared once, in tui/commands.py, and everything that lists commands agrees with
that table: the README's key table, `mlops-tui --help`, the app's actions and screens, and the
capabilities the key line asks of a service. The table is plain data the CLI reads before Textual."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from pathlib import Path

from mlops_tui.backends.model import ActionKind
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.cli import parser
from mlops_tui.tui.commands import ACTION_COMMANDS, COMMANDS, readme_key_table
from tests.unit.test_layers import imported_after

ROOT = Path(__file__).resolve().parents[2]


def readme_script():
    spec = importlib.util.spec_from_file_location("readme_keys", ROOT / "scripts" / "readme_keys.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readmes_key_table_is_the_command_table():
    script = readme_script()
    readme = (ROOT / "README.md").read_text("utf-8")
    block = readme.split(script.BEGIN, 1)[1].split(script.END, 1)[0]
    assert block.strip() == readme_key_table(), "run: .venv/bin/python scripts/readme_keys.py"
    # The operator's reading of it: a row per command, with the key as typed.
    for row in ("| `s` | scale: a replica count from 0 to the cap", "| `R` | roll back (revision picker",
                "| `?` | help: every command and its key", "| `esc` | clear the filter",
                "| `ctrl+p` | command palette", "| `q` | quit"):
        assert row in block, row
    assert block.count("\n| `") == len(COMMANDS)


def test_the_readme_script_rewrites_a_stale_table_and_leaves_the_rest(tmp_path):
    script = readme_script()
    stale = f"# intro\n{script.BEGIN}\n| key | what it does |\n| `s` | old |\n{script.END}\n## after\n"
    fresh = script.with_key_table(stale)
    assert fresh.startswith("# intro\n") and fresh.endswith(f"{script.END}\n## after\n")
    assert "| `s` | old |" not in fresh and readme_key_table() in fresh


def test_mlops_tui_help_lists_the_default_key_of_every_command():
    text = " ".join(parser().format_help().split())
    for words in ("s scale", "w canary weight", "b blue-green switch", "R roll back", "u image update",
                  "r restart", "S silence", "enter details", "? help", "/ filter", ": jump", "t next theme",
                  "tab next pane", "esc back", "q quit", "ctrl+p palette"):
        assert words in text, words


def test_every_command_runs_an_action_the_app_has():
    missing = [c.id for c in COMMANDS if not callable(getattr(MlopsApp, f"action_{c.action_name}", None))]
    assert missing == []


def test_every_screen_a_command_opens_exists():
    modules = [importlib.import_module(f"mlops_tui.tui.screens.{name}")
               for name in ("dialogs", "detail", "help", "prompt", "logs", "object")]
    modules.append(importlib.import_module("textual.command"))
    screens = {name for module in modules for name, value in vars(module).items() if inspect.isclass(value)}
    assert [c.opens for c in COMMANDS if c.opens and c.opens not in screens] == []


def test_each_action_on_a_service_names_capabilities_that_exist_and_alerts_need_none():
    for command in COMMANDS:
        kinds = [ActionKind(value) for value in command.needs]  # a misspelt value raises here
        if command.mutates and command.target == "service":
            assert kinds, f"{command.id} would be refused on every service"
        if not command.mutates:
            assert not kinds, f"{command.id} changes nothing but asks for capabilities"
    assert set(ACTION_COMMANDS) == {"scale", "canary", "bluegreen", "rollback", "update_image", "restart",
                                    "silence"}


def test_one_key_and_one_name_per_command():
    ids = [c.id for c in COMMANDS]
    keys = [c.key for c in COMMANDS]
    assert len(set(ids)) == len(ids) and len(set(keys)) == len(keys)


def test_the_cli_reads_the_table_without_importing_textual_or_any_engines_backend():
    """`--help` and `--version` stay instant: the CLI reads the command table and the engine registry
    (plain data: each engine's spec), never Textual, an engine's backend modules or its client."""
    modules = imported_after("import mlops_tui.tui.cli, mlops_tui.tui.commands")
    engines = ("kubernetes", "swarm", "prometheus", "alerts")
    backend_modules = {m for m in modules for e in engines if m.startswith(f"mlops_tui.backends.{e}.")}
    assert backend_modules <= {f"mlops_tui.backends.{e}.spec" for e in engines}
    assert not {m for m in modules if m.split(".")[0] in ("textual", "kubernetes", "docker", "prometheus_api_client")}
