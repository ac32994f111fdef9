"""What reaches the terminal: a change reaches the screen, and what did not change costs no bytes.

The app's updates are recorded as Textual renders them for the terminal, passed through the output
compactor the real driver uses, and played onto the benchmarks' terminal model (bench/harness.py
`VirtualScreen`); the screen they build must equal a full repaint of the app's screen."""

from __future__ import annotations

from dataclasses import replace

from textual._compositor import CompositorUpdate

from bench.harness import _TOKEN, VirtualScreen
from mlops_tui.backends.model import GpuResource
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.driver import CompactLinuxDriver
from mlops_tui.tui.panes import GpuPane, ServicesPane
from mlops_tui.tui.terminal_output import OutputCompactor
from tests.tui.conftest import make_app, until


class Wire:
    """The bytes the app sends its terminal from now on (headless, so recorded where Textual writes)."""

    def __init__(self, app: MlopsApp) -> None:
        self.app = app
        self.writes: list[str] = []
        self.compactor = OutputCompactor()
        self.screen = self.full_repaint()
        display = app._display

        def record(screen, renderable) -> None:
            if isinstance(renderable, CompositorUpdate):
                self.writes.append(self.compactor.feed(renderable.render_segments(app.console)))
            display(screen, renderable)

        app._display = record  # type: ignore[method-assign]

    def full_repaint(self) -> VirtualScreen:
        """The app's whole screen as a full repaint draws it."""
        width, height = self.app.size
        screen = VirtualScreen(width, height)
        data = self.app.screen._compositor.render_full_update().render_segments(self.app.console)
        for token in _TOKEN.finditer(data):
            screen.apply(token)
        return screen

    def played(self) -> tuple[VirtualScreen, set[int]]:
        """The screen as it was when recording started with every recorded write played onto it, and
        the rows those writes put characters on."""
        rows = set()
        for token in _TOKEN.finditer("".join(self.writes)):
            if token.group("text") is not None:
                rows.add(self.screen.y)
            self.screen.apply(token)
        self.writes.clear()
        return self.screen, rows


async def test_a_new_free_gpu_count_repaints_the_border_line_and_the_changed_row_only():
    app, backend = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        gpus = app.query_one(GpuPane)
        await until(pilot, lambda: gpus.border_subtitle == "1 gpu free of 12")
        await pilot.pause(0.2)
        wire = Wire(app)
        node = backend.gpu_nodes["gpu-node-1"]
        backend.gpu_nodes["gpu-node-1"] = replace(node, resources=(GpuResource("nvidia.com/gpu", 4, 4, 1),))
        backend.push()
        await until(pilot, lambda: gpus.border_subtitle == "3 gpu free of 12", timeout=3)
        await pilot.pause(0.2)
        border = gpus.region.bottom - 1
        row = next(y for y, line in enumerate(wire.full_repaint().lines()) if "gpu-node-1 " in line)
        played, rows = wire.played()
        assert rows == {row, border}  # not the pane's other rows, not its top border
        assert "3 gpu free of 12" in played.lines()[border]
        assert played.lines() == wire.full_repaint().lines()  # what the bytes built is what the app shows


async def test_a_services_change_reaches_the_screen_and_lines_that_did_not_change_cost_no_bytes():
    app, backend = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: len(app.query_one(ServicesPane).shown_keys) == 5)
        await pilot.pause(0.2)
        wire = Wire(app)
        before = wire.full_repaint().lines()
        valuation = next(s for s in backend.services.values() if s.key.name == "property-valuation-model")
        backend.upsert(replace(valuation, ready=1))  # degraded: its cells change and it moves up (trouble first)
        await until(pilot, lambda: any("1/3" in line for line in wire.full_repaint().lines()))
        await pilot.pause(0.2)
        after = wire.full_repaint().lines()
        played, rows = wire.played()
        assert played.lines() == after
        assert rows and rows <= {y for y, (old, new) in enumerate(zip(before, after, strict=True)) if old != new}


async def test_the_app_writes_to_a_real_terminal_through_the_output_compactor():
    app, _ = make_app()
    assert app.get_driver_class() is CompactLinuxDriver
