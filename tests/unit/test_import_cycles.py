"""No import cycles in the packages that were untangled: the Swarm backend (client <- actions <- watch),
the shared poller (alerts and prometheus import it, not each other) and the simulated Kubernetes
controllers (the Rollouts and KServe reconcilers are typed against `sim/kube/host.py`). Every import
counts, also those inside functions and under TYPE_CHECKING: a cycle there is still a cycle in the
design. (Kubernetes and the TUI are being untangled separately and are not checked here yet.)"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
FOLDERS = ("backends", "sim")
CHECKED = ("mlops_tui.backends.swarm", "mlops_tui.backends.alerts", "mlops_tui.backends.prometheus",
           "mlops_tui.backends.poller", "mlops_tui.backends.clock", "mlops_tui.backends.backoff",
           "mlops_tui.sim.kube")


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["mlops_tui", *parts])


def modules() -> dict[str, pathlib.Path]:
    return {module_name(p): p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py")}


def imports(path: pathlib.Path, name: str, known: set[str]) -> set[str]:
    """The project modules `path` imports (`from pkg import sub` counts as importing `pkg.sub`)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            subs = {f"{base}.{alias.name}" for alias in node.names} & known
            found.update(subs or {base})
    return {m for m in found if m in known and m != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_swarm_backend_the_shared_poller_and_the_simulated_controllers_have_no_import_cycle():
    mods = modules()
    graph = {name: imports(path, name, set(mods)) for name, path in mods.items()}
    tangled = [c for c in cycles(graph) if any(m.startswith(CHECKED) for m in c)]
    assert tangled == []


def test_the_alerts_package_does_not_import_the_prometheus_package():
    mods = modules()
    alerts = [n for n in mods if n.startswith("mlops_tui.backends.alerts")]
    assert all(not any(m.startswith("mlops_tui.backends.prometheus") for m in imports(mods[n], n, set(mods)))
               for n in alerts)
