"""The Kubernetes package's modules form layers: each imports only modules listed before it below (at
module level, inside functions or for type checking alike). A newcomer reads them in this order and
never meets a module that needs one they have not read yet; no import cycle can hide a slow or
half-initialised import at start-up."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "mlops_tui.backends.kubernetes"
ROOT = Path(__file__).parents[2] / "backends" / "kubernetes"

ORDER = [
    "kubeconfig",
    "client",
    "translate",
    "liveness",
    "describe",
    "reflector",
    "resources",
    "cache",
    "access",
    "logs",
    "view",
    "actions.shared",
    "actions.template",
    "actions.scale",
    "actions.kserve",
    "actions.istio",
    "actions.argo",
    "actions.blue_green",
    "actions.rollback",
    "actions.image",
    "actions.planner",
    "actions",
    "objects",
    "history",
    "backend",
    "",  # the package: resolve_backends / backends_from_settings
    "spec",  # the engine's entry in backends/registry.py: builds through the package, lazily
]


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _local(name: str) -> str | None:
    if name == PACKAGE:
        return ""
    return name[len(PACKAGE) + 1:] if name.startswith(PACKAGE + ".") else None


def _imports(path: Path, known: set[str]) -> set[str]:
    """The package's modules this file imports: `from package import module` counts as the module
    only, `from module import name` as the module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {m for alias in node.names if (m := _local(alias.name)) is not None}
        elif isinstance(node, ast.ImportFrom) and node.module and (base := _local(node.module)) is not None:
            subs = {f"{base}.{alias.name}".lstrip(".") for alias in node.names}
            modules = subs & known
            found |= modules
            if len(modules) < len(subs):
                found.add(base)
    return found & known


def _graph() -> dict[str, set[str]]:
    files = {_module_of(p): p for p in ROOT.rglob("*.py")}
    known = set(files)
    graph = {}
    for module, path in files.items():
        graph[module] = _imports(path, known) - {module}
    return graph


def test_every_module_of_the_package_has_its_place_in_the_order():
    assert sorted(_graph()) == sorted(ORDER)


def test_each_module_imports_only_modules_before_it():
    graph = _graph()
    backwards = {module: sorted(m for m in imported if ORDER.index(m) > ORDER.index(module))
                 for module, imported in graph.items()}
    assert {m: later for m, later in backwards.items() if later} == {}
