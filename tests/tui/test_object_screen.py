"""The operator presses `y` or `d` on a service or a GPU node and reads the object the cluster holds:
read-only, searchable with `/` `n` `N`, saved with `s`, managed fields behind `m`, every byte as the
cluster sent it. Keys are sent together, as a terminal over SSH delivers them."""

from __future__ import annotations

import threading

from textual.widgets import TextArea

from mlops_tui.backends.model import GpuNode, ModelService, ObjectText
from tests.tui.conftest import make_app, until, visible_text
from tests.tui.keys import burst
from tests.tui.test_actions_flow import select

MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    note: '[bold red]not markup[/] \\e[31m'
  name: property-valuation-model
spec:
  replicas: 3
  template:
    spec:
      containers:
      - image: proptechusa/valuation:v2.1
status:
  readyReplicas: 3
  replicas: 3
"""
MANAGED = "  managedFields:\n  - manager: kubectl\n"


class ObjectsBackend:
    """Adds the object screen's reads to the in-memory backend; records each read."""

    def __init__(self, backend) -> None:
        self.reads: list[tuple[str, str, bool]] = []
        self.fail = False
        self.slow = threading.Event()
        """Cleared: the next manifest read waits until it is set (a slow API server)."""
        self.slow.set()
        backend.manifest = self.manifest
        backend.describe_object = self.describe_object
        backend.node_manifest = self.node_manifest
        backend.describe_node = self.describe_node

    def manifest(self, service: ModelService, managed_fields: bool = False) -> ObjectText:
        self.reads.append(("yaml", service.key.name, managed_fields))
        self.slow.wait(10)
        if self.fail:
            raise RuntimeError("403 Forbidden: deployments.apps is forbidden")
        body = MANIFEST.replace("metadata:\n", "metadata:\n" + MANAGED) if managed_fields else MANIFEST
        return ObjectText(f"Deployment ml-prod/{service.key.name} on prod-a", "yaml", body,
                          "" if managed_fields else "managed fields hidden")

    def describe_object(self, service: ModelService) -> ObjectText:
        self.reads.append(("describe", service.key.name, False))
        return ObjectText(f"Deployment ml-prod/{service.key.name} on prod-a", "text",
                          f"Name:      {service.key.name}\nReplicas:  3 desired | 3 updated\n")

    def node_manifest(self, node: GpuNode, managed_fields: bool = False) -> ObjectText:
        self.reads.append(("yaml", node.node, managed_fields))
        return ObjectText(f"Node {node.node} on prod-a", "yaml", f"kind: Node\nmetadata:\n  name: {node.node}\n")

    def describe_node(self, node: GpuNode) -> ObjectText:
        self.reads.append(("describe", node.node, False))
        return ObjectText(f"Node {node.node} on prod-a", "text",
                          f"Name:  {node.node}\nAllocated resources:\n  nvidia.com/gpu  3 (75%)\n"
                          "Pods holding GPUs:\n  ml-prod  property-valuation-model-7d4-abc\n")


def app_with_objects():
    app, backend = make_app()
    return app, ObjectsBackend(backend)


def screen_name(app) -> str:
    return app.screen.__class__.__name__


def body(app) -> TextArea:
    return app.screen.query_one("#object-body", TextArea)


def status(app) -> str:
    """The object screen's status line (empty on any other screen)."""
    return str(app.screen.query_one("#object-status").render()) if screen_name(app) == "ObjectScreen" else ""


async def test_y_slash_r_e_p_enter_together_opens_the_yaml_and_finds_replicas():
    app, objects = app_with_objects()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "y", "/", "r", "e", "p", "enter")
        await until(pilot, lambda: screen_name(app) == "ObjectScreen" and "match" in status(app))
        area = body(app)
        assert area.selected_text.lower() == "rep"
        assert "replicas: 3" in area.document.get_line(area.selection.start[0])
        assert "match 1 of 3" in status(app)
        assert objects.reads == [("yaml", "property-valuation-model", False)]


async def test_a_search_typed_while_the_object_is_still_being_read_runs_when_it_arrives():
    app, objects = app_with_objects()
    objects.slow.clear()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "y", "/", "r", "e", "p", "enter")
        await until(pilot, lambda: screen_name(app) == "ObjectScreen" and app.screen.query_text == "rep")
        assert body(app).text == "" and "reading" in status(app)
        objects.slow.set()
        await until(pilot, lambda: "match 1 of 3" in status(app))
        assert body(app).selected_text.lower() == "rep"


async def test_n_and_shift_n_step_through_the_matches_and_wrap():
    app, _ = app_with_objects()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "y", "/", *"replicas", "enter", "n", "n", "n")
        await until(pilot, lambda: app._keys.held == 0 and "match" in status(app))
        await until(pilot, lambda: "match 1 of 3" in status(app))  # three further steps wrap to the first
        burst(app, "N")
        await until(pilot, lambda: "match 3 of 3" in status(app))
        # The third match is status.replicas, the last line (readyReplicas is the second: case is ignored).
        assert body(app).selection.start == (MANIFEST.count("\n") - 1, 2)


async def test_the_object_is_shown_byte_for_byte_never_as_markup():
    app, _ = app_with_objects()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "y")
        await until(pilot, lambda: screen_name(app) == "ObjectScreen" and body(app).text == MANIFEST)
        await pilot.pause()
        assert "[bold red]not markup[/] \\e[31m" in visible_text(app)
        assert "Deployment ml-prod/property-valuation-model on prod-a · yaml" in visible_text(app)


async def test_the_object_is_read_only():
    app, _ = app_with_objects()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "y")
        await until(pilot, lambda: screen_name(app) == "ObjectScreen" and body(app).text == MANIFEST)
        # The search opening last shows that every key before it was handled.
        burst(app, "x", "backspace", "delete", "/")
        await until(pilot, lambda: screen_name(app) == "ObjectScreen"
                    and app.screen.query_one("#object-search").display)
        assert body(app).text == MANIFEST


async def test_managed_fields_are_hidden_until_m_and_hidden_again_by_a_second_m():
    app, objects = app_with_objects()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "y")
        await until(pilot, lambda: screen_name(app) == "ObjectScreen" and body(app).text == MANIFEST)
        assert "managed fields hidden · m shows them" in visible_text(app)
        burst(app, "m")
        await until(pilot, lambda: "managedFields" in body(app).text)
        assert "m shows them" not in visible_text(app)
        burst(app, "m")
        await until(pilot, lambda: body(app).text == MANIFEST)
        assert [managed for _, _, managed in objects.reads] == [False, True, False]


async def test_d_describes_and_y_switches_to_the_yaml_in_place():
    app, objects = app_with_objects()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "d")
        await until(pilot, lambda: screen_name(app) == "ObjectScreen" and body(app).text.startswith("Name:"))
        burst(app, "y")
        await until(pilot, lambda: body(app).text == MANIFEST)
        assert len(app.screen_stack) == 2  # switched in place, not stacked
        burst(app, "m", "d")
        await until(pilot, lambda: body(app).text.startswith("Name:"))
        assert [(view, managed) for view, _, managed in objects.reads][:2] == [("describe", False), ("yaml", False)]


async def test_s_saves_the_text_shown_to_a_file_in_the_state_dir_and_says_where(tmp_path):
    from mlops_tui.tui.config import Settings

    app, backend = make_app(Settings(audit_log=str(tmp_path / "state" / "audit.jsonl")))
    ObjectsBackend(backend)
    async with app.run_test(size=(160, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "y")
        await until(pilot, lambda: screen_name(app) == "ObjectScreen" and body(app).text == MANIFEST)
        burst(app, "s")
        await until(pilot, lambda: "saved to" in status(app))
        saved = list((tmp_path / "state" / "objects").iterdir())
        assert len(saved) == 1 and saved[0].suffix == ".yaml"
        assert saved[0].read_text(encoding="utf-8") == MANIFEST
        assert str(saved[0]) in status(app)
        assert saved[0].name.startswith("Deployment_ml-prod_property-valuation-model_on_prod-a-")


async def test_from_the_gpu_pane_d_describes_the_selected_node():
    app, objects = app_with_objects()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        app.focus_pane("gpus")
        await until(pilot, lambda: app.active_pane == "gpus")
        burst(app, "d")
        await until(pilot, lambda: screen_name(app) == "ObjectScreen" and "Pods holding GPUs" in body(app).text)
        assert objects.reads == [("describe", "gpu-node-1", False)]
        burst(app, "escape", "y")
        await until(pilot, lambda: screen_name(app) == "ObjectScreen" and body(app).text.startswith("kind: Node"))
        assert objects.reads[-1] == ("yaml", "gpu-node-1", False)


async def test_esc_closes_the_search_first_then_the_screen():
    app, _ = app_with_objects()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "y", "/", "r", "escape")
        await until(pilot, lambda: app._keys.held == 0 and screen_name(app) == "ObjectScreen"
                    and not app.screen.query_one("#object-search").display)
        burst(app, "escape")
        await until(pilot, lambda: screen_name(app) != "ObjectScreen")


async def test_a_read_that_fails_says_why_on_the_screen():
    app, objects = app_with_objects()
    objects.fail = True
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "property-valuation-model")
        burst(app, "y")
        await until(pilot, lambda: screen_name(app) == "ObjectScreen" and "could not read" in body(app).text)
        assert "403 Forbidden" in body(app).text


async def test_on_the_detail_screen_y_shows_that_services_object_and_esc_returns_to_the_detail():
    app, objects = app_with_objects()
    async with app.run_test(size=(140, 42)) as pilot:
        await select(pilot, app, "ensemble-predictor")
        burst(app, "enter", "y")
        await until(pilot, lambda: screen_name(app) == "ObjectScreen" and body(app).text == MANIFEST)
        assert objects.reads == [("yaml", "ensemble-predictor", False)]
        burst(app, "escape")
        await until(pilot, lambda: screen_name(app) == "ServiceDetailScreen")
