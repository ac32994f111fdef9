"""The README's promise about the config file: a bad file is refused with one line naming the key and
why, and the app does not start on it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlops_tui.tui.config import ConfigError, build_settings


def refusal(tmp_path: Path, content: bytes) -> str:
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        build_settings({}, str(path))
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_a_bad_theme_is_refused_in_one_line_naming_the_key_and_why(tmp_path):
    assert refusal(tmp_path, b'[ui]\ntheme = "neon"\n').endswith(
        "key 'ui.theme': expected one of dark, light, high-contrast, got 'neon'")


def test_unknown_keys_wrong_types_and_broken_toml_are_each_one_line(tmp_path):
    assert "unknown key 'ui.colour'" in refusal(tmp_path, b'[ui]\ncolour = "x"\n')
    assert "key 'actions.replica_cap': expected a positive integer, got 0" in refusal(
        tmp_path, b"[actions]\nreplica_cap = 0\n")
    assert "not valid TOML" in refusal(tmp_path, b"[ui\n")


def test_a_file_that_is_not_utf8_is_refused_in_one_line_not_a_traceback(tmp_path):
    assert "not UTF-8 text" in refusal(tmp_path, b'[ui]\ntheme = "\xff\xfe"\n')


def test_the_command_exits_2_with_the_one_line_and_no_traceback(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b'[ui]\ntheme = "neon"\n')
    out = subprocess.run([sys.executable, "-m", "mlops_tui.tui.cli", "--config", str(path), "status"],
                         capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 2, out
    assert "Traceback" not in out.stderr
    assert "key 'ui.theme': expected one of dark, light, high-contrast, got 'neon'" in out.stderr


def test_a_key_rebound_under_keys_is_used_and_every_other_command_keeps_its_default(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[keys]\nscale = "x"\nhelp = "h"\n', "utf-8")
    keys = build_settings({}, str(path)).keys
    assert (keys["scale"], keys["help"]) == ("x", "h")
    assert (keys["canary"], keys["rollback"], keys["quit"], keys["jump"]) == ("w", "R", "q", ":")


def test_an_unknown_command_under_keys_is_refused_naming_the_ones_that_exist(tmp_path):
    message = refusal(tmp_path, b'[keys]\nscael = "x"\n')
    assert "unknown command 'keys.scael' (known: scale, canary, bluegreen, rollback, update_image," in message


def test_tab_and_esc_cannot_be_rebound_and_the_refusal_says_why(tmp_path):
    message = refusal(tmp_path, b'[keys]\nnext_pane = "n"\n')
    assert ("key 'keys.next_pane': next pane stays on tab (in a dialog it moves between the fields or closes it)"
            in message)
    assert "'keys.back': back / clear filter stays on esc" in refusal(tmp_path, b'[keys]\nback = "B"\n')


def test_two_commands_on_one_key_are_refused_whatever_the_key_is_called(tmp_path):
    # "?" and "question_mark" are one key: help's.
    assert "binds question_mark (scale and help) to more than one command" in refusal(
        tmp_path, b'[keys]\nscale = "question_mark"\n')
    assert "binds question_mark (scale and help)" in refusal(tmp_path, b'[keys]\nscale = "?"\n')
    # A key that cannot be rebound still counts: scale on tab would leave one of them dead.
    assert "binds tab (scale and next_pane)" in refusal(tmp_path, b'[keys]\nscale = "tab"\n')
    # Swapping two keys is not a clash.
    path = tmp_path / "swap.toml"
    path.write_text('[keys]\nscale = "w"\ncanary = "s"\n', "utf-8")
    assert build_settings({}, str(path)).keys["scale"] == "w"
