"""The architecture's rules (CONTRIBUTING.md, "Layers"), each checked here: who may import whom, no
import cycles, one import package, engine clients only in their engine's package, the first frame free
of engine clients, no colour literal in Python, nothing that points outside the repository."""

from __future__ import annotations

import ast
import os
import pathlib
import re
import subprocess
import sys
from collections.abc import Iterator

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]
FOLDERS = ("tui", "backends", "themes", "sim")
"""The repository's product folders; pyproject.toml installs each as mlops_tui.<folder>."""
ENGINE_PACKAGES = ("kubernetes", "swarm", "prometheus", "alerts")
ENGINE_CLIENTS = {"kubernetes": "kubernetes", "docker": "swarm", "prometheus_api_client": "prometheus"}
"""Third-party engine client → the one package under backends/ allowed to import it."""


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return "mlops_tui." + ".".join(parts)


def product_files() -> Iterator[pathlib.Path]:
    for folder in FOLDERS:
        yield from sorted((ROOT / folder).rglob("*.py"))
    yield from sorted((ROOT / "mlops_tui").glob("*.py"))


def repository_python_files() -> Iterator[pathlib.Path]:
    yield from product_files()
    for folder in ("tests", "bench", "scripts"):
        yield from sorted((ROOT / folder).rglob("*.py"))


def imported_names(path: pathlib.Path) -> set[str]:
    """Every module an import statement in the file names, at any depth: a deferred import, or one
    under TYPE_CHECKING, is still a dependency."""
    name = module_name(path) if path.relative_to(ROOT).parts[0] in (*FOLDERS, "mlops_tui") else ""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module → the product modules it imports. Every import counts, also those inside functions and
    under TYPE_CHECKING: a cycle there is still a cycle in the design (type against a Protocol instead,
    as `tui/flows.py` `ActionHost` and `sim/kube/host.py` do)."""
    modules = {module_name(p): p for p in product_files()}
    graph = {}
    for name, path in modules.items():
        named = imported_names(path)
        # `from pkg import sub` depends on pkg.sub; `from pkg import Name` on pkg.
        graph[name] = {m for m in named if m in modules and m != name
                       and not any(other.startswith(m + ".") and other in named for other in modules)}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def offenders(folder: str, forbidden: re.Pattern[str]) -> list[str]:
    return sorted(f"{p.relative_to(ROOT)}: {m}" for p in (ROOT / folder).rglob("*.py")
                  for m in imported_names(p) if forbidden.fullmatch(m))


def imported_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return set(out.stdout.split())


# -- who imports whom --------------------------------------------------------------------------------


def test_backends_never_import_textual_rich_or_the_app():
    assert offenders("backends", re.compile(r"(textual|rich|mlops_tui\.tui)(\..*)?")) == []
    modules = imported_after("import mlops_tui.backends.fleet, mlops_tui.backends.model, mlops_tui.backends.plans, "
                             "mlops_tui.backends.correlate, mlops_tui.backends.registry")
    assert not {m for m in modules if m.split(".")[0] in ("textual", "rich") or m.startswith("mlops_tui.tui")}


def test_the_app_reaches_engines_only_through_the_registry_and_the_domain_model():
    """Widgets never see raw engine objects: nothing in tui/ imports an engine's package (its client,
    cache, translators), so what reaches the screen is the domain model."""
    engines = "|".join(ENGINE_PACKAGES)
    assert offenders("tui", re.compile(rf"mlops_tui\.backends\.({engines})(\..*)?")) == []


def test_the_simulators_never_import_the_app_or_the_backends():
    """The simulators stand in for real engines: they share nothing with the code they test."""
    assert offenders("sim", re.compile(r"mlops_tui\.(tui|backends)(\..*)?")) == []


def test_engine_clients_are_imported_only_by_their_engines_package():
    found = []
    for path in product_files():
        for name in imported_names(path):
            owner = ENGINE_CLIENTS.get(name.split(".")[0])
            if owner and not path.is_relative_to(ROOT / "backends" / owner):
                found.append(f"{path.relative_to(ROOT)}: {name}")
    assert found == []


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_engine_packages_never_import_one_another():
    """Each engine's package stands alone (shared code lives in backends/: the poller, the backoff, the
    clock); only an engine's spec.py, the wiring the registry reads, may name another engine's source
    (Prometheus' URL serves both its series and its rule alerts, read by alerts/)."""
    found = []
    for engine in ENGINE_PACKAGES:
        others = "|".join(e for e in ENGINE_PACKAGES if e != engine)
        pattern = re.compile(rf"mlops_tui\.backends\.({others})(\..*)?")
        found += [f for f in offenders(f"backends/{engine}", pattern) if not f.startswith(f"backends/{engine}/spec.py")]
    assert found == []


def test_the_first_frames_imports_hold_no_engine_client():
    modules = imported_after("import mlops_tui.tui.app, mlops_tui.tui.cli, mlops_tui.tui.sources")
    for heavy in ("kubernetes", "docker", "plotext", "prometheus_api_client"):
        assert heavy not in modules, f"{heavy} is imported on the first-frame path"


def test_the_first_frames_imports_leave_the_action_side_for_later():
    """Plans, the Fleet, the action flows, the dialogs and screens are imported where first used: the
    first frame shows the panes "connecting" and needs none of them (bench/startup.py measures it)."""
    modules = imported_after("import mlops_tui.tui.app, mlops_tui.tui.cli")
    deferred = ("mlops_tui.backends.plans", "mlops_tui.backends.fleet", "mlops_tui.backends.timeline",
                "mlops_tui.tui.flows", "mlops_tui.tui.screens", "mlops_tui.tui.audit", "statistics",
                # the model's 29 dataclasses (their methods compiled as it is imported): the empty
                # panes need only its words (backends/vocabulary.py)
                "mlops_tui.backends.model")
    assert [m for m in deferred if m in modules] == []


def test_a_start_without_a_config_file_imports_no_toml_parser(tmp_path):
    """Without a config file the settings come from the command line alone, and the app reads the palettes'
    parse kept by the start before (tui/stylesheet_cache.py): importing `tomllib` (its regexes) and parsing
    the palettes cost ~14 M instructions of the first frame. The first start after an install parses them."""
    start = ("import sys, pathlib\n"
             "from mlops_tui.tui.app import MlopsApp\n"
             "from mlops_tui.tui.config import build_settings\n"
             f"cache = pathlib.Path({str(tmp_path)!r})\n"
             "app = MlopsApp(build_settings({}, None), lambda s: None, stylesheet_cache=cache)\n"
             "app.parsed_stylesheets.save()\n"
             "print('tomllib' in sys.modules)")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "no-config")}
    first, second = (subprocess.run([sys.executable, "-c", start], capture_output=True, text=True, check=True,
                                    cwd=ROOT, env=env).stdout.split() for _ in range(2))
    assert (first, second) == (["True"], ["False"])


def test_what_runs_before_the_first_frame_imports_no_engine_client_and_no_timeline():
    """Before the first frame the command line is read against every engine's options and the audit log
    is checked: neither needs an engine client (the Swarm one alone cost ~30 ms) nor the timeline."""
    modules = imported_after("import tempfile, pathlib\n"
                             "import mlops_tui.tui.app, mlops_tui.tui.cli\n"
                             "from mlops_tui.backends.registry import engines\n"
                             "from mlops_tui.tui.audit import AuditLog\n"
                             "engines(); AuditLog(pathlib.Path(tempfile.mkdtemp()) / 'audit.jsonl').problem()")
    clients = ("mlops_tui.backends.swarm.client", "mlops_tui.backends.kubernetes.client",
               "mlops_tui.backends.prometheus.client", "mlops_tui.backends.alerts.client")
    assert [m for m in (*clients, "mlops_tui.backends.timeline") if m in modules] == []


# -- one import package ------------------------------------------------------------------------------


def test_code_imports_the_one_package_never_the_folders():
    """`tui`, `backends`, `themes`, `sim` are folder names, not import names (PyPI has projects called
    tui, backends and themes): everything imports mlops_tui.*."""
    bare = re.compile(rf"({'|'.join(FOLDERS)})(\..*)?")
    found = [f"{p.relative_to(ROOT)}: {m}" for p in repository_python_files()
             for m in imported_names(p) if bare.fullmatch(m)]
    assert found == []


def test_every_package_folder_is_installed():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = set(pyproject["tool"]["setuptools"]["packages"])
    mapping = pyproject["tool"]["setuptools"]["package-dir"]
    assert {mapping[f"mlops_tui.{folder}"] for folder in FOLDERS} == set(FOLDERS)
    on_disk = {module_name(init) for folder in FOLDERS for init in (ROOT / folder).rglob("__init__.py")}
    assert on_disk | {"mlops_tui"} == declared


# -- themes own colours; the repository stands on its own ----------------------------------------------


def test_no_colour_literal_in_python_code():
    pattern = re.compile(r"""["']#[0-9a-fA-F]{3,8}["']|\b(rgb|hsl)\(""")
    found = [str(p.relative_to(ROOT)) for folder in ("tui", "backends", "themes")
             for p in (ROOT / folder).rglob("*.py") if pattern.search(p.read_text())]
    assert found == []


def tracked_text_files() -> Iterator[tuple[str, str]]:
    listed = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    for name in listed.split():
        path = ROOT / name
        if path.suffix in (".svg", ".png", ".jsonl", ".json") or not path.is_file():
            continue
        try:
            yield name, path.read_text()
        except UnicodeDecodeError:
            continue


def test_nothing_in_the_repository_points_outside_it():
    """Comments cite upstream sources (kubectl's source file, the Engine API reference), docs link
    within the repository, and no machine's interpreter or checkout path is written down."""
    outside = re.compile(r"\.\./shared|/work/(shared|main|wt)\b|engine-facts|/usr/bin/python3\.\d+|/home/\w+/")
    me = pathlib.Path(__file__).relative_to(ROOT).as_posix()
    found = [f"{name}: {m.group(0)}" for name, text in tracked_text_files() if name != me
             for m in outside.finditer(text)]
    assert found == []


def test_tests_stop_only_the_processes_they_started():
    """A test never signals whatever `pidof`/`pkill` finds (a developer's or CI's own dockerd)."""
    pattern = re.compile(r"\b(pidof|pkill|killall)\b")
    me = pathlib.Path(__file__).relative_to(ROOT).as_posix()
    found = [name for name, text in tracked_text_files()
             if name.startswith(("tests/", "scripts/", ".ci/")) and name != me and pattern.search(text)]
    assert found == []
