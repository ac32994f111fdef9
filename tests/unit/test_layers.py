"""The architecture's rules, checked: backends never import the UI, and the first frame's import
path stays free of engine clients."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def imported_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return set(out.stdout.split())


def test_backends_never_import_textual_rich_or_tui():
    modules = imported_after("import mlops_tui.backends.fleet, mlops_tui.backends.model, mlops_tui.backends.plans, "
                              "mlops_tui.backends.correlate")
    for pkg in ("textual", "rich", "mlops_tui.tui"):
        assert not any(m == pkg or m.startswith(pkg + ".") for m in modules), pkg
    for path in (ROOT / "backends").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+(textual|rich|mlops_tui\.tui)\b", text, re.M), path


def test_the_app_module_imports_no_engine_client():
    modules = imported_after("import mlops_tui.tui.app, mlops_tui.tui.cli, mlops_tui.tui.sources")
    for heavy in ("kubernetes", "docker", "plotext", "prometheus_api_client"):
        assert heavy not in modules, f"{heavy} is imported on the first-frame path"


def test_no_colour_literal_in_python_code():
    pattern = re.compile(r"""["']#[0-9a-fA-F]{3,8}["']|\b(rgb|hsl)\(""")
    offenders = [str(p.relative_to(ROOT)) for d in ("tui", "backends", "themes")
                 for p in (ROOT / d).rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
