"""The README's promises each name the test that keeps them: every test named there exists, and every
promise in its "What you can rely on" list names at least one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def promises() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## What you can rely on", 1)[1].split("\n## ", 1)[0]
    return [item.strip() for item in re.split(r"\n- ", section)[1:]]  # [0] is the introduction


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_promise_in_the_readme_names_a_test():
    listed = promises()
    assert len(listed) >= 10
    unnamed = [p for p in listed if not REFERENCE.search(p)]
    assert unnamed == []


def test_every_test_the_readme_names_exists():
    missing = []
    for path, name in REFERENCE.findall((ROOT / "README.md").read_text()):
        file = ROOT / path
        if not file.exists() or name not in defined_tests(file):
            missing.append(f"{path}::{name}")
    assert missing == []
